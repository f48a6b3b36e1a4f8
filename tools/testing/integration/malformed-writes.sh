#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every writable attribute refuses malformed values with an errno and keeps its
# value; nobody but root may write; statistics are world-readable.
set -eu
. "$(dirname "$0")/../guest-lib.sh"

# The cases come from the module's ABI table (`vigil settings --malformed`):
# one "FILE<TAB>VALUE" line each.
# (A file: the guest has no /dev/fd for process substitution.)
"$VIGIL" settings --malformed >/tmp/malformed.txt
total=0 files=0 last=
while IFS=$'\t' read -r attr v; do
	if [ "$attr" != "$last" ]; then
		# Bash reads files itself ($(<f)): no process per read, which is slow in the VM.
		before=$(<"$SYSFS/$attr")
		last=$attr files=$((files + 1))
	fi
	if printf '%s\n' "$v" >"$SYSFS/$attr" 2>/dev/null; then
		echo "$attr accepted '$v'"
		exit 1
	fi
	after=$(<"$SYSFS/$attr")
	if [ "$after" != "$before" ]; then
		echo "$attr changed from '$before' to '$after' on a refused write of '$v'"
		exit 1
	fi
	total=$((total + 1))
done </tmp/malformed.txt
echo "total: $total malformed writes to $files files refused, values unchanged"
[ "$files" -ge 17 ] && [ "$total" -ge 100 ]

# Permissions: root writes, nobody reads statistics and settings but writes nothing.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "$1"; }
as_nobody "cat $SYSFS/stats/entered $SYSFS/policy $SYSFS/stage0/cpus >/dev/null"
for f in enabled policy stages match rules stage0/cpus stats/reset; do
	if as_nobody "echo 1 >$SYSFS/$f" 2>/dev/null; then
		echo "nobody could write $f"
		exit 1
	fi
done
[ "$(stat -c %a $SYSFS/stats/reset)" = 200 ]
[ "$(stat -c %a $SYSFS/policy)" = 644 ]
[ "$(stat -c %a $SYSFS/stats/entered)" = 444 ]
echo "permissions: root-only writes, world-readable statistics"
