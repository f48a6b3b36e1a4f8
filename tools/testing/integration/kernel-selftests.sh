#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A few of the kernel's own netfilter selftests with vigil stealing everything
# at local_in, in every namespace (the tests make their own): conntrack must
# still confirm, NAT still translate, nfqueue still reinject. The full set,
# off and on at both hooks, is `make selftests`.
# Needs the tests prepared on the host: tools/testing/selftests.sh --prepare.
set -u
. "$(dirname "$0")/../guest-lib.sh"
. "$(dirname "$0")/../selftests-lib.sh"

root=$(vigil_selftests_stage) || {
	echo "no prepared selftests in $VIGIL_CACHE: run tools/testing/selftests.sh --prepare on the host"
	exit 1
}
echo all >$SYSFS/match
echo local_in >$SYSFS/hook
[ -e $SYSFS/netns ] && echo all >$SYSFS/netns
echo 1 >$SYSFS/enabled

out=/tmp/kernel-selftests
rm -rf "$out"
# A skip counts as a failure here: these were chosen because they run in the VM.
VIGIL_SELFTEST_TIMEOUT=90 vigil_selftests_run "$root" "$out" "${VIGIL_SELFTESTS_CHECK[@]}"
rc=$?
echo 0 >$SYSFS/enabled
grep -v ' pass ' "$out/results.tsv" | while read -r t _; do
	echo "--- $t:"
	tail -n 30 "$out/$(basename "$t" .sh).log"
done
grep -q -v ' pass ' "$out/results.tsv" && rc=1
# vigil must have taken the tests' packets, or nothing was tested.
entered=$(awk '{ s += $5 } END { print s + 0 }' "$out/results.tsv")
echo "vigil took in $entered packets"
[ "$entered" -gt 0 ] || rc=1
exit $rc
