#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vigil's one test command (`make check`): sets up what is missing, then runs
# the build checks, the host tests, the KUnit suites and the integration tests
# in the VM. Ends with the line "N passed, N failed"; exits 1 if any failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"

out=$VIGIL_ROOT/out/check
rm -rf "$out"
mkdir -p "$out"
passed=0 failed=0
failures=()

# record RC NAME: one check's outcome.
record() {
	if [ "$1" = 0 ]; then
		passed=$((passed + 1))
		echo "PASS: $2 [+$(($(date +%s) - start))s]"
	else
		failed=$((failed + 1))
		failures+=("$2")
		echo "FAIL: $2 [+$(($(date +%s) - start))s]"
	fi
}

# count PASSED FAILED NAME: a runner's own totals.
count() {
	passed=$((passed + $1))
	failed=$((failed + $2))
	echo "$3: $1 passed, $2 failed [+$(($(date +%s) - start))s]"
	[ "$2" = 0 ] || failures+=("$3")
}

start=$(date +%s)
finish() {
	echo
	[ ${#failures[@]} = 0 ] || printf 'failed: %s\n' "${failures[@]}"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}

# --selftests: the programs integration/kernel-selftests.sh and the others run.
if ! tools/testing/setup.sh --variant debug --selftests; then
	record 1 "setup (toolchain and test kernel)"
	finish
fi
record 0 "setup (toolchain and test kernel)"
kdir=$(vigil_kdir debug)
# The kernel's selftests that integration/kernel-selftests.sh runs, with their C helpers
# built on the host (the guest sees the host's files read-only).
tools/testing/selftests.sh --prepare >"$out/selftests-prepare.log" 2>&1
rc=$?
[ $rc = 0 ] || tail -n 20 "$out/selftests-prepare.log"
record $rc "the kernel's selftests prepared for the VM"
echo "setup took $(($(date +%s) - start))s"

# A module build that warns fails: the module must build clean.
make -s KDIR="$kdir" module >"$out/build.log" 2>&1
rc=$?
cat "$out/build.log"
record $rc "module builds"
! grep -Eiq 'warning' "$out/build.log"
record $? "module builds with zero warnings"

# clippy-driver is rustc plus lints: the module it builds is the one tested.
touch rust/vigil.rs
make -s KDIR="$kdir" clippy >"$out/clippy.log" 2>&1 && ! grep -Eiq 'warning|error' "$out/clippy.log"
rc=$?
[ $rc = 0 ] || cat "$out/clippy.log"
record $rc "module is clean under CLIPPY=1"

make -s fmtcheck >"$out/fmt.log" 2>&1
rc=$?
[ $rc = 0 ] || head -n 40 "$out/fmt.log"
record $rc "rustfmt clean (module and host crates)"

(cd tools && cargo build --release 2>&1) >"$out/tools-build.log"
rc=$?
[ $rc = 0 ] && ! grep -q '^warning' "$out/tools-build.log"
record $? "host crates build with zero warnings"
(cd tools && cargo test --release 2>&1) >"$out/cargo-test.log"
rc=$?
read -r p f < <(awk '/^test result:/ {p += $4; f += $6} END {print p+0, f+0}' "$out/cargo-test.log")
[ $rc = 0 ] || [ "$f" != 0 ] || f=1
[ "$f" = 0 ] || grep -E 'FAILED|panicked|error' "$out/cargo-test.log" | head -n 20
count "$p" "$f" "host tests (cargo test)"

# One boot runs KUnit (on insmod) and the integration tests.
# The second argument holds a newline and a quote: vm.sh must pass it through as it is.
tools/testing/vm.sh --cpus 2 --run-dir "$out/vm-run" -- \
	"$VIGIL_ROOT/tools/testing/guest-tests.sh" "$out/vm" $'line one\nit\'s line two'
rc=$?
cp "$out/vm-run/dmesg" "$out/vm-dmesg.log" 2>/dev/null
[ $rc != 126 ]
record $? "no kernel splat (WARN/BUG/KASAN/lockdep/kmemleak) during the VM run"
[ $rc -le 1 ] || [ $rc = 126 ]
record $? "VM run completed (vm.sh exit $rc)"

ktap=$out/vm/kunit.log
if [ -s "$ktap" ]; then
	python3 "$kdir/source/tools/testing/kunit/kunit.py" parse "$ktap" >"$out/kunit-parse.log" 2>&1
	rc=$?
	cat "$out/kunit-parse.log"
	# kunit.py's closing line: "Testing complete. Ran N tests: passed: P, failed: F, ...".
	summary=$(grep -E 'Testing complete' "$out/kunit-parse.log" | tail -n 1)
	p=$(sed -nE 's/.*passed: ([0-9]+).*/\1/p' <<<"$summary")
	f=$(sed -nE 's/.*failed: ([0-9]+).*/\1/p' <<<"$summary")
	p=${p:-0} f=${f:-0}
	if [ "$p" = 0 ] || [ $rc != 0 ]; then f=$((f > 0 ? f : 1)); fi
	count "$p" "$f" "KUnit suites (kunit.py parse)"
else
	record 1 "KUnit suites: no KTAP from the VM"
fi

if [ -s "$out/vm/integration.tap" ]; then
	p=$(grep -c '^ok ' "$out/vm/integration.tap")
	f=$(grep -c '^not ok ' "$out/vm/integration.tap")
	count "$p" "$f" "VM integration tests"
	# Again at the end, where a log cut to its head and tail still shows them: the last
	# lines of each failed test's output (guest-lib.sh names the failed line).
	sed -nE 's/^not ok [0-9]+ - integration: ([^ ]+).*/\1/p' "$out/vm/integration.tap" |
		while read -r name; do
			echo "--- $name failed; its last lines:"
			tail -n 12 "$out/vm/$name.log" 2>/dev/null | sed 's/^/    /'
		done
else
	record 1 "VM integration tests: no results from the VM"
fi
echo "test run took $(($(date +%s) - start))s"
finish
