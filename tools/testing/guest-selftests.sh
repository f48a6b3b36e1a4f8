#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (vm.sh) for selftests.sh: one run of the kernel's
# selftests with vigil loaded, in one of three settings.
#   guest-selftests.sh off|prerouting|local_in VIGIL_KO OUTDIR TEST...
# off: vigil loaded, enabled 0. prerouting, local_in: match all at that hook,
# in every namespace (netns all, where the module has that setting: the tests
# make their own namespaces), enabled 1.
# Writes OUTDIR/results.tsv (see vigil_selftests_run), OUTDIR/<test>.log,
# OUTDIR/vigil.txt (settings and counters after the run).
set -u
. "$(dirname "$0")/guest-lib.sh"
. "$(dirname "$0")/selftests-lib.sh"
mode=$1 ko=$2 out=$3
shift 3
rm -rf "$out"
mkdir -p "$out"

root=$(vigil_selftests_stage) || {
	echo "no prepared selftests in $VIGIL_CACHE (run tools/testing/selftests.sh --prepare on the host)"
	exit 2
}
insmod "$ko" || exit 2
vigil_defaults
case $mode in
off) ;;
prerouting | local_in)
	echo all >$SYSFS/match
	echo "$mode" >$SYSFS/hook
	[ -e $SYSFS/netns ] && echo all >$SYSFS/netns
	echo 1 >$SYSFS/enabled
	;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

vigil_selftests_run "$root" "$out" "$@"

{
	for f in enabled hook match netns stats/seen stats/entered stats/delivered stats/dropped \
		stats/in_flight; do
		[ -e "$SYSFS/$f" ] && printf '%s: %s\n' "$f" "$(<"$SYSFS/$f")"
	done
	echo "drops: $(vigil_drops_seen | tr '\n' ' ')"
	echo "kernel: $(uname -r), tainted $(cat /proc/sys/kernel/tainted)"
} >"$out/vigil.txt"
cat "$out/vigil.txt"
echo 0 >$SYSFS/enabled
rmmod vigil || { echo "rmmod vigil failed"; exit 3; }
# The table is the result; the exit status says only whether the run itself
# worked (vm.sh still reports a kernel splat on top of it).
exit 0
