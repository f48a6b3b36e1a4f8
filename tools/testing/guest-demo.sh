#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the VM: load, show sysfs, send traffic, show the count, unload.
set -eu
. "$(dirname "$0")/guest-lib.sh"
echo "== insmod vigil.ko"
insmod "$VIGIL_KO"
echo "== /sys/kernel/vigil"
find $SYSFS -type f | sort | while read -r f; do
	printf '%-40s %s  %s\n' "${f#$SYSFS/}" "$(stat -c %A "$f")" \
		"$( [ -r "$f" ] && [ "$(stat -c %a "$f")" != 200 ] && cat "$f" || echo '(write-only)')"
done
echo "== 1000 UDP datagrams over 127.0.0.1, 1000 over ::1"
"$VIGIL" load --dst 127.0.0.1:9000 --count 1000
"$VIGIL" load --dst '[::1]:9001' --count 1000
echo "== vigil status"
"$VIGIL" status
echo "== rmmod vigil"
rmmod vigil
