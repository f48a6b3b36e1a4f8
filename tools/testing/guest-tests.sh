#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (vm.sh): loads vigil.ko, which runs its KUnit suites,
# then the integration tests, then unloads it.
#   guest-tests.sh OUTDIR [ARG]
# Writes OUTDIR/kunit.log (the kernel log of the load, KTAP inside) and
# OUTDIR/integration.tap; prints the latter as it goes. ARG, if given, must be
# the two lines run-tests.sh passes: a check that vm.sh passes arguments as
# they are.
set -u
. "$(dirname "$0")/guest-lib.sh"
out=$1
mkdir -p "$out"
tap=$out/integration.tap
: >"$tap"
n=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2" | tee -a "$tap"
	else
		echo "not ok $n - $2" | tee -a "$tap"
	fi
}

if [ $# -ge 2 ]; then
	[ "$2" = $'line one\nit\'s line two' ]
	result $? "vm.sh passes an argument holding a newline and a quote as it is"
fi

# Only the log of this load goes to kunit.py: the kernel's own KTAP header from
# boot would stop its parser.
lines=$(dmesg | wc -l)
insmod "$VIGIL_KO"
result $? "insmod vigil.ko (runs the KUnit suites)"
dmesg | tail -n +$((lines + 1)) >"$out/kunit.log"

[ -d $SYSFS ] && [ -r $SYSFS/version ] && [ -r $SYSFS/stats/seen ]
result $? "sysfs: /sys/kernel/vigil/{version,stats/seen} exist"

for t in "$VIGIL_ROOT"/tools/testing/integration/*.sh; do
	name=$(basename "$t" .sh)
	log=$out/$name.log
	vigil_defaults
	t0=$SECONDS
	bash "$t" >"$log" 2>&1
	rc=$?
	sed 's/^/    # /' "$log"
	result $rc "integration: $name ($((SECONDS - t0)) s)"
done

rmmod vigil
result $? "rmmod vigil"
[ ! -e $SYSFS ]
result $? "sysfs: /sys/kernel/vigil is gone after rmmod"

# A second load and unload finds nothing left behind by the first.
insmod "$VIGIL_KO" && [ "$(vigil_read stats/seen)" -ge 0 ] && rmmod vigil
result $? "reload and unload again"

echo "1..$n" >>"$tap"
