#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the benchmark VM (bench.sh boots it): the same UDP traffic, profile
# by profile, through the same 3-stage pipeline under each policy, and with
# vigil disabled (the plain stack). Each cell (profile x variant) runs
# VIGIL_BENCH_REPS times (default 5), all cells' runs in one shuffled order
# (VIGIL_BENCH_SEED). Appends one line of key=value pairs per run to
# OUTDIR/runs.txt (the format tools/vigil-bench documents).
#   guest-bench.sh MODULE OUTDIR PROFILES
# PROFILES has one profile per line: NAME KIND COUNT LOAD-OPTIONS... (KIND is
# latency or throughput; LOAD-OPTIONS are `vigil load`'s traffic options).
#
# With VIGIL_BENCH_SYNC=DIR (a folder the host shares), each run's measured window
# is marked to the host's vigil-bench-host (DIR/req, answered in DIR/ack), which
# samples the vCPU threads' host CPU time and run-queue wait at both ends.
set -eu
. "$(dirname "$0")/guest-lib.sh"
module=$1 out=$2 profiles=$3
[ -r "$profiles" ] || { echo "guest-bench.sh: no profile file $profiles (the guest sees the repository and the host's root, not its /tmp)" >&2; exit 1; }
mkdir -p "$out"
runs=$out/runs.txt
: >"$runs"
VARIANTS=${VIGIL_BENCH_VARIANTS:-plain idle poll timeout adaptive}
FLOWS=4
DST=10.88.0.2:9000
REPS=${VIGIL_BENCH_REPS:-5}
SEED=${VIGIL_BENCH_SEED:-1}
SYNC=${VIGIL_BENCH_SYNC:-}
nr=$(nproc)
# The sender, the receiver and the hook (it runs where the sender's packets
# are received from veth) share CPU 0; the stages share the other CPUs, stage k
# on CPU 1 + k mod (N - 1): with 2 vCPUs all three on CPU 1, with 4 one each.
[ "$nr" -ge 2 ] || { echo "guest-bench.sh: needs 2 CPUs, has $nr" >&2; exit 1; }
STAGE_CPUS="$((1 + 0 % (nr - 1))) $((1 + 1 % (nr - 1))) $((1 + 2 % (nr - 1)))"
# The distinct stage CPUs, whose idle time and idle exits are measured.
MEASURED_CPUS=$(tr ' ' '\n' <<<"$STAGE_CPUS" | sort -un | tr '\n' ' ')

cleanup() {
	echo 0 >$SYSFS/enabled 2>/dev/null || true
	[ -z "${PG:-}" ] || echo rem_device_all >"$PG/kpktgend_0" 2>/dev/null || true
	[ -z "${NS_PID[vb]:-}" ] || kill "${NS_PID[vb]}" 2>/dev/null || true
	ip netns del va 2>/dev/null || true
	ip netns del vb 2>/dev/null || true
	rmmod vigil 2>/dev/null || true
}
trap cleanup EXIT

# This script, the sender and the receiver stay on CPU 0, off the stage CPUs
# whose busy time is measured.
taskset -pc 0 $$ >/dev/null
insmod "$module"
vigil_defaults
# A flood must not overflow the receiver's socket before the pipeline does.
sysctl -qw net.core.rmem_max=16777216 net.core.rmem_default=16777216
vigil_netns_pair va vb 10.88.0

# pktgen (profiles of kind pktgen): a kernel thread on CPU 0 (kpktgend_0, vb's own)
# injects UDP packets into veth-vb's receive path (xmit_mode netif_receive), so no
# userspace sender sits in the measurement. Its control files are per namespace: a
# process that stays in vb lends them (and vb's counters) to this script's builtins
# through /proc/PID/net.
declare -A NS_PID
ip netns exec vb sleep 1000000 &
NS_PID[vb]=$!
PG=/proc/${NS_PID[vb]}/net/pktgen
VB_MAC=$(ip -n vb -br link show veth-vb | awk '{print $3}')

echo 3 >$SYSFS/stages
set -- $STAGE_CPUS
echo "$1" >$SYSFS/stage0/cpus
echo "$2" >$SYSFS/stage1/cpus
echo "$3" >$SYSFS/stage2/cpus
echo parse >$SYSFS/stage0/ops
echo rules >$SYSFS/stage1/ops
echo work >$SYSFS/stage2/ops
echo "${VIGIL_BENCH_WORK_NS:-2000}" >$SYSFS/stage2/work_ns
echo 4096 >$SYSFS/queue_len
# The traffic runs between two namespaces: take every namespace's packets, with
# a quota no larger than the queues' room (the default would drop a slowed
# pipeline's backlog as over quota).
echo all >$SYSFS/netns
echo 65536 >$SYSFS/netns_quota
echo "udp dport 9000-9100" >$SYSFS/match
# The time knobs bench.sh passes (see meta.txt); unset, the module's defaults stay.
[ -z "${VIGIL_BENCH_WINDOW_NS:-}" ] || echo "$VIGIL_BENCH_WINDOW_NS" >$SYSFS/poll_window_ns
[ -z "${VIGIL_BENCH_BURST_GAP_NS:-}" ] || echo "$VIGIL_BENCH_BURST_GAP_NS" >$SYSFS/burst_gap_ns

# busy_and_total: summed busy and total jiffies of the stage CPUs.
busy_and_total() {
	local cpus=" $MEASURED_CPUS "
	awk -v cpus="$cpus" '$1 ~ /^cpu[0-9]+$/ && index(cpus, " " substr($1, 4) " ") {
		busy += $2 + $3 + $4 + $7 + $8 + $9
		total += $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9
	} END { print busy, total }' /proc/stat
}

# idle_exits: times the stage CPUs left idle, summed over their cpuidle states'
# usage counters; - when the kernel has no cpuidle driver (under TCG there is
# none: the host then counts the vCPU thread's wake-ups instead, see
# tools/vigil-bench/src/host.rs).
idle_exits() {
	local c s n=0 found=0
	for c in $MEASURED_CPUS; do
		for s in /sys/devices/system/cpu/cpu$c/cpuidle/state*/usage; do
			[ -r "$s" ] || continue
			n=$((n + $(<"$s")))
			found=1
		done
	done
	[ $found = 1 ] && echo $n || echo -
}

# stage_irqs: interrupts the stage CPUs received (every line of
# /proc/interrupts), summed. An idle CPU leaves idle only on an interrupt, so
# this bounds the idle exits from above (a busy CPU's ticks count too).
stage_irqs() {
	awk -v cpus=" $MEASURED_CPUS " 'NR == 1 {
		for (i = 1; i <= NF; i++) if (index(cpus, " " substr($i, 4) " ")) col[i + 1] = 1
		next
	} { for (c in col) if ($c ~ /^[0-9]+$/) n += $c } END { print n + 0 }' /proc/interrupts
}

# host_mark begin|end|done [CELL]: tells the host's vigil-bench-host, and waits
# (up to 30 s) until it has sampled the vCPU threads. Builtins only: under TCG
# every process the guest starts costs tens of milliseconds or more, which would
# stretch the measured window. The host takes a request only once its newline
# is there, so one write (echo's) is enough.
sync_seq=0
# What the host said of the last run it sampled: ok, or contended (the host disturbed it).
HOST_VERDICT=
# A FIFO nobody writes: `read -t` on it is a sleep without a process.
mkfifo /tmp/bench-tick
exec 9<>/tmp/bench-tick
host_mark() {
	[ -n "$SYNC" ] || return 0
	sync_seq=$((sync_seq + 1))
	echo "$sync_seq $1 ${2:-}" >"$SYNC/req"
	local i v verdict
	for ((i = 0; i < 3000; i++)); do
		v= verdict=
		read -r v verdict <"$SYNC/ack" 2>/dev/null || true
		[ "$v" = "$sync_seq" ] && HOST_VERDICT=$verdict && return 0
		read -r -t 0.01 -u 9 _ || true
	done
	# Without the host every later run is unchecked anyway (the report marks it
	# not measurable): stop asking rather than wait 30 s per mark.
	echo "guest-bench.sh: the host did not answer mark $sync_seq ($1 ${2:-}); no more marks" >&2
	SYNC=
}

# kv_read ARRAY FILE: the KEY=VALUE pairs of FILE's line (a `vigil load --kv` report) into
# the associative array ARRAY, with builtins.
kv_read() {
	local -n into=$1
	local kv line
	read -r line <"$2" || true
	for kv in $line; do
		into[${kv%%=*}]=${kv#*=}
	done
}

# The measured window's start and end: the host samples the vCPU threads, this script the
# stage CPUs' busy time, idle exits and interrupts. Builtins and sysfs reads only between
# the two marks, apart from busy_and_total's and the counters' own reads.
window_begin() {
	host_mark begin "$1"
	read -r b0 t0 <<<"$(busy_and_total)"
	e0=$(idle_exits)
	i0=$(stage_irqs)
}
window_end() {
	local i
	# The pipeline is empty again once its last packet left.
	for ((i = 0; i < 100; i++)); do
		[ "$variant" = plain ] || [ "$(<$SYSFS/stats/in_flight)" = 0 ] && break
		read -r -t 0.01 -u 9 _ || true
	done
	drained_at=$EPOCHREALTIME
	read -r b1 t1 <<<"$(busy_and_total)"
	e1=$(idle_exits)
	i1=$(stage_irqs)
	host_mark end "$1"
}

# load recv|send COUNT [LOAD-OPTIONS...]: `vigil load`'s receiver in vb or sender in va, on
# CPU 0, FLOWS flows to DST, its report as one KEY=VALUE line on standard output.
load() {
	local mode=$1 count=$2 ns=va
	shift 2
	[ "$mode" = send ] || { ns=vb && set -- --timeout 2 "$@"; }
	taskset -c 0 ip netns exec $ns "$VIGIL" load --mode "$mode" --dst $DST --count "$count" \
		--flows $FLOWS --kv "$@"
}

# traffic_load COUNT LOAD-OPTIONS...: `vigil load` from va to vb, both on CPU 0; sets
# the traffic figures from their JSON reports.
traffic_load() {
	local count=$1 rx tx seen0
	shift
	load recv "$count" >/tmp/recv.kv &
	rx=$!
	sleep 0.3
	# CPU time counts from the first datagram, not from the sender's start-up, which under
	# TCG takes a good part of a second: from the first packet IP receives in vb (vigil's
	# counting hook sees nothing there with vigil off, the plain stack's case).
	seen0=$(snmp vb Ip InReceives)
	load send "$count" "$@" >/tmp/send.kv &
	tx=$!
	while [ "$(snmp vb Ip InReceives)" = "$seen0" ] && kill -0 $tx 2>/dev/null; do :; done
	window_begin "$cell"
	wait $tx
	window_end "$cell"
	wait $rx || true
	local -A tx_report=() rx_report=()
	kv_read tx_report /tmp/send.kv
	kv_read rx_report /tmp/recv.kv
	sent=${tx_report[sent]:--}
	send_time=${tx_report[send_time_ns]:--}
	received=${rx_report[received]:--}
	out_of_order=${rx_report[out_of_order]:--}
	app_p50=${rx_report[latency_p50_ns]:--}
	app_p99=${rx_report[latency_p99_ns]:--}
	app_p999=${rx_report[latency_p999_ns]:--}
	rate=${rx_report[receive_rate_pps]:--}
}

# snmp NS PROTO COUNTER: counter COUNTER of PROTO (Ip, Udp, ...) in namespace NS's
# /proc/net/snmp (read through a process that lives there), found by name in PROTO's header
# line; builtins only.
snmp() {
	local tag rest header= i
	local -a names values
	while read -r tag rest; do
		[ "$tag" = "$2:" ] || continue
		[ -n "$header" ] || { header=$rest && continue; }
		read -r -a names <<<"$header"
		read -r -a values <<<"$rest"
		for i in "${!names[@]}"; do
			[ "${names[i]}" = "$3" ] && echo "${values[i]}" && return
		done
		break
	done <"/proc/${NS_PID[$1]}/net/snmp"
	echo "guest-bench.sh: no $2 $3 in $1's /proc/net/snmp" >&2
	return 1
}

# pg FILE COMMAND: one pktgen command to FILE of vb's /proc/net/pktgen.
pg() { echo "$2" >"$PG/$1"; }

# udp_in: UDP datagrams delivered in vb, to a socket or to none (nothing listens).
udp_in() { echo $(($(snmp vb Udp InDatagrams) + $(snmp vb Udp NoPorts))); }

# traffic_pktgen COUNT --rate PPS: COUNT UDP packets at PPS a second from pktgen, FLOWS
# flows (source ports), injected at veth-vb's receive; sets the traffic figures. The
# delivered rate is what reached UDP over the time from the first packet to the last
# delivery; what vigil dropped, it counts.
traffic_pktgen() {
	local count=$1 pps=$3 pgpid u0 u1 sofar=0 line
	[ "$2" = --rate ] || { echo "guest-bench.sh: pktgen profiles take --rate PPS" >&2; return 1; }
	pg kpktgend_0 rem_device_all
	pg kpktgend_0 "add_device veth-vb"
	for line in "count $count" "pkt_size 64" "delay $((1000000000 / pps))" \
		"xmit_mode netif_receive" "clone_skb 0" "dst_mac $VB_MAC" "dst 10.88.0.2" \
		"src_min 10.88.0.1" "src_max 10.88.0.1" "udp_dst_min 9000" "udp_dst_max 9000" \
		"udp_src_min 9000" "udp_src_max $((9000 + FLOWS - 1))"; do
		pg veth-vb "$line"
	done
	u0=$(udp_in)
	# pgctrl acts on the writer's namespace: the one process this needs.
	ip netns exec vb bash -c 'echo start >/proc/net/pktgen/pgctrl' &
	pgpid=$!
	while [ "$sofar" = 0 ] && kill -0 $pgpid 2>/dev/null; do
		while read -r line; do
			[[ $line =~ pkts-sofar:\ ([0-9]+) ]] && sofar=${BASH_REMATCH[1]} && break
		done <"$PG/veth-vb"
		read -r -t 0.001 -u 9 _ || true
	done
	window_begin "$cell"
	wait $pgpid
	sent_at=$EPOCHREALTIME
	window_end "$cell"
	u1=$(udp_in)
	while read -r line; do
		[[ $line =~ pkts-sofar:\ ([0-9]+) ]] && sent=${BASH_REMATCH[1]}
		[[ $line =~ OK:\ ([0-9]+)\( ]] && send_time=$((BASH_REMATCH[1] * 1000))
	done <"$PG/veth-vb"
	received=$((u1 - u0))
	out_of_order=- app_p50=- app_p99=- app_p999=-
	# Delivered over pktgen's sending time plus the time the pipeline took to empty after.
	rate=$(awk -v n=$received -v s="$send_time" -v a="$sent_at" -v b="$drained_at" \
		'BEGIN { printf "%.0f", n / (s / 1e9 + b - a) }')
}

# gap_ns OPTIONS...: the profile's quiet time between arrivals, ns: the spacing at a steady
# rate, the mean spacing of Poisson arrivals, or from a burst's last datagram to the next
# burst (the sender's back-to-back spacing, from the calibration, inside a burst). The report
# compares it with poll_window_ns to sort profiles into short and long gaps.
gap_ns() {
	local rate= burst= gap_us=
	while [ $# -gt 0 ]; do
		case $1 in
		--rate | --poisson) rate=$2 ;;
		--burst) burst=$2 ;;
		--gap-us) gap_us=$2 ;;
		esac
		shift
	done
	if [ -n "$rate" ]; then
		echo $((1000000000 / rate))
	elif [ -n "$burst" ] && [ -n "$gap_us" ]; then
		echo $((gap_us * 1000 - (burst - 1) * SEND_SPACING_NS))
	else
		echo -
	fi
}

# arrivals OPTIONS...: how the profile's packets come: steady, poisson or bursts.
arrivals() {
	case " $* " in
	*" --burst "*) echo bursts ;;
	*" --poisson "*) echo poisson ;;
	*) echo steady ;;
	esac
}

# run_one NAME KIND COUNT VARIANT REP OPTIONS...
run_one() {
	local name=$1 kind=$2 count=$3 variant=$4 rep=$5 b0 t0 b1 t1 e0 e1 i0 i1
	local cell=$name.$variant.$rep sent received out_of_order app_p50 app_p99 app_p999
	local send_time rate sent_at drained_at
	shift 5
	if [ "$variant" = plain ]; then
		echo 0 >$SYSFS/enabled
	else
		echo "$variant" >$SYSFS/policy
		echo 1 >$SYSFS/enabled
	fi
	# A run the host disturbed (another process took a vCPU's core: the host tells at the
	# end mark) is repeated, at most twice, before its figures are read; the report counts
	# the repeats (attempts=) and still refuses a run disturbed every time.
	local attempts=0
	while :; do
		attempts=$((attempts + 1))
		echo 1 >$SYSFS/stats/reset
		if [ "$kind" = pktgen ]; then
			traffic_pktgen "$count" "$@"
		else
			traffic_load "$count" "$@"
		fi
		[ "$HOST_VERDICT" = contended ] && [ $attempts -lt 3 ] || break
		echo "guest-bench.sh: $cell: the host disturbed attempt $attempts; again" >&2
	done
	# pktgen's rate, from the kernel's own sender, is the report's throughput kind.
	[ "$kind" != pktgen ] || kind=throughput
	# The pipeline's own figures, from the CLI (`vigil stats --totals`: KEY=VALUE pairs, the
	# stage table summed over stages and CPUs, the last stage's latency percentiles), read
	# with builtins; every one is - for the plain stack.
	local -A st=()
	local kv
	if [ "$variant" != plain ]; then
		for kv in $("$VIGIL" stats --totals); do
			st[${kv%%=*}]=${kv#*=}
		done
		[ "${st[polls]:-0}" != 0 ] ||
			echo "guest-bench.sh: $cell: no stage ran (stage-stats-get is empty)" >&2
	fi
	get() { echo "${st[$1]:--}"; }
	{
		printf 'profile=%s kind=%s variant=%s rep=%s cell=%s arrivals=%s gap_ns=%s ' "$name" \
			"$kind" "$variant" "$rep" "$cell" "$(arrivals "$@")" "$(gap_ns "$@")"
		printf 'sent=%s received=%s out_of_order=%s ' "$sent" "$received" "$out_of_order"
		printf 'app_p50_ns=%s app_p99_ns=%s app_p999_ns=%s ' "$app_p50" "$app_p99" "$app_p999"
		printf 'hist_p50_ns=%s hist_p99_ns=%s hist_p999_ns=%s ' "$(get hist_p50_ns)" \
			"$(get hist_p99_ns)" "$(get hist_p999_ns)"
		awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "cpu_busy=%.4f ", (t > 0 ? b / t : 0) }'
		printf 'ipis_sent=%s reschedules=%s ' "$(get wakeups_sent)" "$(get reschedules)"
		if [ "$e0" = - ] || [ "$e1" = - ]; then printf 'cpuidle_exits=- '
		else printf 'cpuidle_exits=%s ' $((e1 - e0)); fi
		printf 'stage_irqs=%s ' $((i1 - i0))
		for c in resched_head_ahead resched_upstream_backlog resched_window resched_head_active \
			completions polls empty_polls dropped; do
			printf '%s=%s ' $c "$(get $c)"
		done
		printf 'send_time_ns=%s attempts=%s ' "$send_time" "$attempts"
		printf 'throughput_pps=%s\n' "$rate"
	} >>"$runs"
	tail -n 1 "$runs"
}

# Calibration for the simulator: the sender's time per datagram when it sends back to back
# (the spacing inside the simulated bursts), on the plain stack. Not a throughput figure:
# the sender is the bottleneck.
echo 0 >$SYSFS/enabled
load recv 5000 >/dev/null &
rx=$!
sleep 0.3
load send 5000 >/tmp/send.kv
wait $rx || true
declare -A calibration=()
kv_read calibration /tmp/send.kv
SEND_SPACING_NS=$((calibration[send_time_ns] / 5000))
{
	echo "send_spacing_ns=$SEND_SPACING_NS"
	echo "poll_window_ns=$(<$SYSFS/poll_window_ns)"
	echo "burst_gap_ns=$(<$SYSFS/burst_gap_ns)"
} >"$out/calibration.txt"
cat "$out/calibration.txt"

# Every run of every cell, in one shuffled order (the same for the same seed), so
# that a slow drift of the machine spreads over all cells instead of one.
plan=/tmp/bench-plan
# shuf's random bytes come from the seed (the guest has no /dev/fd for <(...)).
yes "$SEED" | head -c 1048576 >/tmp/bench-seed
while read -r name kind count opts; do
	case $name in '' | '#'*) continue ;; esac
	for variant in $VARIANTS; do
		for rep in $(seq 0 $((REPS - 1))); do
			echo "$name $kind $count $variant $rep $opts"
		done
	done
done <"$profiles" | shuf --random-source=/tmp/bench-seed >$plan
i=0
total=$(wc -l <$plan)
while read -r name kind count variant rep opts; do
	i=$((i + 1))
	printf '[%d/%d] ' $i "$total"
	# shellcheck disable=SC2086 # the load options are a list
	run_one "$name" "$kind" "$count" "$variant" "$rep" $opts </dev/null
done <$plan
host_mark "done"
