#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vigil's benchmark (`make bench`): boots the benchmark kernel (no debug
# options) and runs every traffic profile of tools/testing/bench-profiles
# through the same 3-stage pipeline under each policy and once on the plain
# stack, runs the simulator on the same profiles, and writes the results (CSV,
# JSON, Markdown, SVG plot) to OUT (default Documentation/bench).
#
# The VM gets no more vCPUs than the host has cores (default: the host's cores,
# at most 4: CPU 0 for the sender, receiver and hook, the others for the
# stages), QEMU's other threads go to a spare host core or else to core 0 (with
# the sender's vCPU), and vigil-bench-host pins each vCPU thread to its own host core (the
# thread ids come from QMP query-cpus-fast) and samples each thread's host CPU
# time and run-queue wait around every measured run: a run whose vCPUs waited
# for the host is marked contended, and the report calls its figures "not
# measurable" (the threshold is in tools/vigil-bench/src/host.rs).
#
# Environment: VIGIL_BENCH_CPUS (vCPUs; more than the host's cores is allowed
# but marks every figure "not measurable"), VIGIL_BENCH_REPS (runs per cell,
# default 5, in shuffled order; VIGIL_BENCH_SEED), VIGIL_BENCH_OUT,
# VIGIL_BENCH_KERNEL (test kernel variant, default bench; VIGIL_BENCH_SETUP=0
# skips setup.sh and uses that variant's last build),
# VIGIL_BENCH_PROFILES (a profile file), VIGIL_BENCH_VARIANTS (default
# "plain idle poll timeout adaptive"), VIGIL_BENCH_WINDOW_NS and
# VIGIL_BENCH_BURST_GAP_NS (poll_window_ns and burst_gap_ns; default: the
# module's defaults, which adaptive's self-sized windows make fit the VM too).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"

host_cores=$(nproc)
default_cpus=$((host_cores < 4 ? host_cores : 4))
cpus=${VIGIL_BENCH_CPUS:-$default_cpus}
reps=${VIGIL_BENCH_REPS:-5}
seed=${VIGIL_BENCH_SEED:-1}
kvariant=${VIGIL_BENCH_KERNEL:-bench}
[ "$cpus" -ge 2 ] || vigil_die "VIGIL_BENCH_CPUS=$cpus: the benchmark needs 2 vCPUs"
[ "$cpus" -le "$host_cores" ] ||
	vigil_log "$cpus vCPUs on $host_cores host cores: oversubscribed, every figure is not measurable"
variants=${VIGIL_BENCH_VARIANTS:-plain idle poll timeout adaptive}
out=${VIGIL_BENCH_OUT:-$VIGIL_ROOT/Documentation/bench}
profiles=${VIGIL_BENCH_PROFILES:-$VIGIL_ROOT/tools/testing/bench-profiles}
work=$VIGIL_ROOT/out/bench
raw=$work/raw
start=$(date +%s)

# VIGIL_BENCH_SETUP=0 skips setup.sh and uses the kernel it built last.
[ "${VIGIL_BENCH_SETUP:-1}" = 0 ] || tools/testing/setup.sh --variant "$kvariant"
kdir=$(vigil_kdir "$kvariant")

# The module for the bench kernel builds in its own folder, so that it never
# mixes with the debug build in the repository.
rm -rf "$work"
mkdir -p "$work/module" "$raw" "$work/sync"
cp -r Kbuild rust "$work/module/"
rm -f "$work/module/rust/"*.o "$work/module/rust/kernel/"*.o "$work/module/rust/kernel/vigil_bindings_generated.rs"
make -s -C "$kdir" M="$work/module" "${VIGIL_KMAKE_VARS[@]}" modules
(cd tools && cargo build --release --quiet)
bin=$CARGO_TARGET_DIR/release
# The module's own defaults unless asked otherwise: adaptive sizes its windows itself,
# up to poll_window_ns, so that the same defaults serve the VM and native costs. The guest
# reports the values the module ran with (calibration.txt), and the simulator takes those.
window=${VIGIL_BENCH_WINDOW_NS:-}
gap=${VIGIL_BENCH_BURST_GAP_NS:-}
knobs="the module's default"
[ -z "$window$gap" ] || knobs="set for this run"

# The host side: pins the vCPU threads (one host core each) and samples them
# around every run the guest marks in $work/sync. The QMP socket lives in /tmp:
# a socket path may not exceed 107 bytes.
qmpdir=$(mktemp -d /tmp/vigil-bench-qmp.XXXXXX)
cores=$(seq -s, 0 $((cpus - 1)))
# QEMU's own threads (its main loop runs the emulated timers and devices: about a tenth of
# a core under TCG) and this script's helpers go to a core no vCPU has, if the host has
# one, else to core 0 with the traffic source's vCPU, so that the stage vCPUs have theirs
# alone. Children inherit the affinity; vigil-bench-host then moves each vCPU to its core.
emulation_core=$((cpus < host_cores ? cpus : 0))
taskset -pc "$emulation_core" $$ >/dev/null
emulation_vcpus=$([ "$emulation_core" -lt "$cpus" ] && echo "$emulation_core" || true)
"$bin/vigil-bench-host" --qmp "$qmpdir/qmp" --sync "$work/sync" --out "$raw/host.txt" \
	--cores "$cores" ${emulation_vcpus:+--emulation-vcpus "$emulation_vcpus"} 2>"$work/host.log" &
host_pid=$!
trap 'kill $host_pid 2>/dev/null || true; rm -rf "$qmpdir"' EXIT

# vm.sh passes no environment to the guest: the settings go on the command.
vm_log=$work/vm.log
set +e
tools/testing/vm.sh --variant "$kvariant" --cpus "$cpus" --mem 1024 --timeout 3600 \
	--run-dir "$work/vm" --qmp "$qmpdir/qmp" -- \
	env VIGIL_BENCH_VARIANTS="$variants" VIGIL_BENCH_WINDOW_NS="$window" \
	VIGIL_BENCH_BURST_GAP_NS="$gap" VIGIL_BENCH_REPS="$reps" VIGIL_BENCH_SEED="$seed" \
	VIGIL_BENCH_SYNC="$work/sync" \
	"$VIGIL_ROOT/tools/testing/guest-bench.sh" "$work/module/vigil.ko" "$raw" "$profiles" |
	tee "$vm_log"
rc=${PIPESTATUS[0]}
set -e
wait $host_pid 2>/dev/null || true
cat "$work/host.log" >&2
[ "$rc" = 0 ] || vigil_die "the benchmark VM failed (exit $rc, log $vm_log)"

accel=tcg
grep -q kvm "$VIGIL_CACHE"/kvm-probe-* 2>/dev/null && accel=kvm
{
	echo "command=make bench"
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "kernel=Linux $(make -s -C "$kdir" kernelversion 2>/dev/null) $kvariant variant"
	echo "vcpus=$cpus"
	echo "accel=$accel"
	echo "host_cores=$host_cores"
	echo "host_cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
	echo "vcpu_pinning=$(grep -h '^# vcpu' "$raw/host.txt" 2>/dev/null | sed 's/^# //' | paste -sd';' || true)"
	echo "emulation_core=$emulation_core (QEMU's main loop and I/O threads, and the benchmark's host tools)"
	# The guest CPUs whose vCPU shares its host core with them (vCPU i is on core i).
	echo "emulation_vcpus=$emulation_vcpus"
	echo "stage_vcpus=$(seq -s' ' 1 $((cpus - 1)))"
	echo "reps=$reps"
	echo "seed=$seed"
	echo "pipeline=3 stages (parse, rules, work ${VIGIL_BENCH_WORK_NS:-2000} ns), stage k on CPU 1 + k mod $((cpus - 1)); sender, receiver and hook on CPU 0"
} >"$raw/meta.txt"
# calibration.txt: what the guest measured and the knobs the module ran with.
calibrated() { sed -n "s/^$1=//p" "$raw/calibration.txt" 2>/dev/null; }
window=$(calibrated poll_window_ns) gap=$(calibrated burst_gap_ns)
echo "poll_window_ns=${window:-?} ($knobs)" >>"$raw/meta.txt"
echo "burst_gap_ns=${gap:-?} ($knobs)" >>"$raw/meta.txt"

# The simulator on the same profiles: one lane, 3 stages on 3 CPUs, the
# sender's spacing inside bursts as the guest measured it (calibration.txt).
spacing=$(calibrated send_spacing_ns)
spacing=${spacing:-10000}
# The VM's costs in the simulator, measured in this run (the stages' service time and the
# idle exit, on the steady long-gap profile: tools/vigil-bench/src/calibrate.rs), unless
# VIGIL_BENCH_SIM_COSTS gives them; fixed ones if the runs cannot give them.
sim_costs=${VIGIL_BENCH_SIM_COSTS:-}
sim_source="VIGIL_BENCH_SIM_COSTS"
if [ -z "$sim_costs" ]; then
	if sim_costs=$("$bin/vigil-bench-report" --raw "$raw" --sim-costs 2>"$work/calibrate.log"); then
		sim_source="measured in this run (vigil-bench-report --sim-costs)"
	else
		sim_costs="--service-ns 3000,3000,5000 --ipi-ns 20000 --deep-exit-ns 50000 --shallow-exit-ns 10000 --residency-ns 500000 --poll-ns 5000"
		sim_source="fixed, not measured: $(tr '\n' ' ' <"$work/calibrate.log")"
	fi
fi
echo "sim_costs=$sim_costs ($sim_source)" >>"$raw/meta.txt"
echo "sim_spacing_ns=$spacing (the sender's per-datagram time sending back to back in the VM)" >>"$raw/meta.txt"
while read -r name kind count opts; do
	case $name in '' | '#'*) continue ;; esac
	# The simulator models latency profiles; pktgen's rate sweep is the VM's alone.
	[ "$kind" = latency ] || continue
	sim=$(awk -v o="$opts" -v s="$spacing" 'BEGIN {
		n = split(o, a, " ")
		for (i = 1; i < n; i++) v[a[i]] = a[i + 1]
		if ("--rate" in v) print "steady:" v["--rate"]
		else if ("--poisson" in v) print "poisson:" v["--poisson"]
		else if ("--burst" in v) print "bursts:" v["--burst"] ":" v["--gap-us"] * 1000 ":" s
	}')
	[ -n "$sim" ] || continue
	"$bin/vigil-sim" --lanes 1 --stages 3 --cpus 4 --cpu-map 1,2,3 \
		${window:+--window-ns "$window"} ${gap:+--burst-gap-ns "$gap"} $sim_costs \
		--profile "$sim" --packets "$count" --json >"$raw/sim-$name.json"
done <"$profiles"

# How the policies scale, in the simulator only, with its native costs and knobs:
# 1x2 to 8x8 lanes x stages, up to 64 CPUs, bursts of 32 at 5 us spacing every 1 ms.
"$bin/vigil-sim" --scale --profile bursts:32:1000000:5000 --packets 8192 >"$raw/sim-scale.txt"
# The same projected on a Skylake-SP server's C-states, from intel_idle's skx_cstates
# (drivers/idle/intel_idle.c, exit latency / target residency): C1 2/2 us, C1E 10/20 us,
# C6 133/600 us. The simulator has two states: a sleep shorter than C6's residency ends in
# C1E (C1 is left out, which overstates short sleeps' exits by 8 us), a longer one in C6.
"$bin/vigil-sim" --scale --profile bursts:32:1000000:5000 --packets 8192 \
	--shallow-exit-ns 10000 --deep-exit-ns 133000 --residency-ns 600000 >"$raw/sim-skylake-sp.txt"

"$bin/vigil-bench-report" --raw "$raw" --out "$out"
cp "$raw/sim-scale.txt" "$raw/sim-skylake-sp.txt" "$out/"
cp "$raw/runs.txt" "$raw/meta.txt" "$raw/host.txt" "$raw/calibration.txt" "$out/"
cp "$raw"/sim-*.json "$out/" 2>/dev/null || true
vigil_log "benchmark done in $(($(date +%s) - start)) s: $out/results.md"
