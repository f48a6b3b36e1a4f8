#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every file under /sys/kernel/vigil is in Documentation/ABI/testing/sysfs-kernel-vigil, and
# every documented one exists, with a pipeline "abi" added for the documented
# pipeline/<name>/ files.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
abi=$VIGIL_ROOT/Documentation/ABI/testing/sysfs-kernel-vigil
trap 'echo -abi >$SYSFS/pipelines' EXIT
echo +abi >$SYSFS/pipelines
documented=$(sed -n 's/^What:[[:space:]]*//p' "$abi" | sed 's/<name>/abi/' | sort)
present=$(find $SYSFS -type f | sort)
if [ "$documented" != "$present" ]; then
	echo "documented but missing:"
	comm -23 <(echo "$documented") <(echo "$present")
	echo "present but undocumented:"
	comm -13 <(echo "$documented") <(echo "$present")
	exit 1
fi
echo "$(echo "$present" | wc -l) attributes, all documented"
