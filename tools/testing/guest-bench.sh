#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the benchmark VM (bench.sh boots it): the same UDP traffic, profile
# by profile, through the same 3-stage pipeline under each policy, and once with
# vigil disabled (the plain stack). Appends one line of key=value pairs per run
# to OUTDIR/runs.txt (the format tools/vigil-bench documents).
#   guest-bench.sh MODULE OUTDIR PROFILES
# PROFILES has one profile per line: NAME KIND COUNT LOAD-OPTIONS... (KIND is
# latency or throughput; LOAD-OPTIONS are `vigil load`'s traffic options).
set -eu
. "$(dirname "$0")/guest-lib.sh"
module=$1 out=$2 profiles=$3
mkdir -p "$out"
runs=$out/runs.txt
: >"$runs"
VARIANTS=${VIGIL_BENCH_VARIANTS:-plain idle poll timeout adaptive}
FLOWS=4
DST=10.88.0.2:9000
nr=$(nproc)
# The sender, the receiver and the hook (it runs where the sender's packets
# are received from veth) share CPU 0; stage k runs alone on CPU k+1.
[ "$nr" -ge 4 ] || { echo "guest-bench.sh: needs 4 CPUs, has $nr" >&2; exit 1; }
STAGE_CPUS="1 2 3"

cleanup() {
	echo 0 >$SYSFS/enabled 2>/dev/null || true
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
echo "udp dport 9000-9100" >$SYSFS/match
# Time knobs scaled to the VM: under TCG a datagram takes tens of microseconds
# to send, ten or more times a native one (bench.sh passes them, see meta.txt).
echo "${VIGIL_BENCH_WINDOW_NS:-50000}" >$SYSFS/poll_window_ns
echo "${VIGIL_BENCH_BURST_GAP_NS:-20000}" >$SYSFS/burst_gap_ns

# busy_and_total: summed busy and total jiffies of the stage CPUs.
busy_and_total() {
	local cpus=" $STAGE_CPUS "
	awk -v cpus="$cpus" '$1 ~ /^cpu[0-9]+$/ && index(cpus, " " substr($1, 4) " ") {
		busy += $2 + $3 + $4 + $7 + $8 + $9
		total += $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9
	} END { print busy, total }' /proc/stat
}

# json_field NAME FILE: a number from a flat JSON object (null as -).
json_field() {
	local v
	v=$(grep -o "\"$1\":[^,}]*" "$2" | head -n 1 | cut -d: -f2)
	[ -n "$v" ] && [ "$v" != null ] && echo "$v" || echo -
}

# run_one NAME KIND COUNT VARIANT LOAD-OPTIONS...
run_one() {
	local name=$1 kind=$2 count=$3 variant=$4 b0 t0 b1 t1 rx tx
	shift 4
	if [ "$variant" = plain ]; then
		echo 0 >$SYSFS/enabled
	else
		echo "$variant" >$SYSFS/policy
		echo 1 >$SYSFS/enabled
	fi
	echo 1 >$SYSFS/stats/reset
	taskset -c 0 ip netns exec vb "$VIGIL" load --mode recv --dst $DST --count "$count" \
		--flows $FLOWS --timeout 2 --json >/tmp/recv.json &
	rx=$!
	sleep 0.3
	# CPU time counts from the first datagram, not from the sender's start-up, which under
	# TCG takes a good part of a second (the always-registered counting hook sees it).
	local seen0
	seen0=$(<$SYSFS/stats/seen)
	taskset -c 0 ip netns exec va "$VIGIL" load --mode send --dst $DST --count "$count" \
		--flows $FLOWS --json "$@" >/tmp/send.json &
	tx=$!
	while [ "$(<$SYSFS/stats/seen)" = "$seen0" ] && kill -0 $tx 2>/dev/null; do :; done
	read -r b0 t0 <<<"$(busy_and_total)"
	wait $tx
	# The pipeline is empty again once its last packet left.
	for _ in $(seq 100); do
		[ "$variant" = plain ] || [ "$(vigil_read stats/in_flight)" = 0 ] && break
		sleep 0.01
	done
	read -r b1 t1 <<<"$(busy_and_total)"
	wait $rx || true
	local stats=/tmp/stats.json
	if [ "$variant" = plain ]; then
		echo '{}' >$stats
	else
		"$VIGIL" stats --json >$stats
	fi
	# Sums of the stage table's columns over every stage and CPU.
	local sums
	sums=$(awk 'NR == 1 { for (i = 1; i <= NF; i++) col[i] = $i; next }
		{ for (i = 3; i <= NF; i++) sum[col[i]] += $i }
		END { for (c in sum) printf "%s=%.0f ", c, sum[c] }' $SYSFS/stats/stages)
	get() { local v; v=$(grep -o "\b$1=[0-9]*" <<<"$sums" | cut -d= -f2); echo "${v:--}"; }
	# The last stage's histogram is the pipeline's latency.
	local hist=/tmp/hist.json
	{ grep -o '"latency":\[.*' $stats | grep -o '{"stage":2,[^]]*' | head -n 1 || true; } >$hist
	local resched=-
	if [ "$variant" != plain ]; then
		resched=$(($(get resched_head_ahead) + $(get resched_upstream_backlog) + \
			$(get resched_window) + $(get resched_head_active)))
	fi
	local pv=-
	[ "$variant" = plain ] || pv=$(get wakeups_sent)
	{
		printf 'profile=%s kind=%s variant=%s ' "$name" "$kind" "$variant"
		printf 'sent=%s received=%s out_of_order=%s ' "$(json_field sent /tmp/send.json)" \
			"$(json_field received /tmp/recv.json)" "$(json_field out_of_order /tmp/recv.json)"
		printf 'app_p50_ns=%s app_p99_ns=%s app_p999_ns=%s ' \
			"$(json_field latency_p50_ns /tmp/recv.json)" \
			"$(json_field latency_p99_ns /tmp/recv.json)" \
			"$(json_field latency_p999_ns /tmp/recv.json)"
		printf 'hist_p50_ns=%s hist_p99_ns=%s hist_p999_ns=%s ' "$(json_field p50_ns "$hist")" \
			"$(json_field p99_ns "$hist")" "$(json_field p999_ns "$hist")"
		awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "cpu_busy=%.4f ", (t > 0 ? b / t : 0) }'
		printf 'wakeups=%s reschedules=%s ' "$pv" "$resched"
		for c in resched_head_ahead resched_upstream_backlog resched_window resched_head_active \
			completions polls empty_polls; do
			if [ "$variant" = plain ]; then printf '%s=- ' $c; else printf '%s=%s ' $c "$(get $c)"; fi
		done
		printf 'dropped=%s ' "$([ "$variant" = plain ] && echo - || vigil_read stats/dropped)"
		printf 'send_time_ns=%s ' "$(json_field send_time_ns /tmp/send.json)"
		printf 'throughput_pps=%s\n' "$(json_field receive_rate_pps /tmp/recv.json)"
	} >>"$runs"
	tail -n 1 "$runs"
}

while read -r name kind count opts; do
	case $name in '' | '#'*) continue ;; esac
	for variant in $VARIANTS; do
		# shellcheck disable=SC2086 # the load options are a list
		run_one "$name" "$kind" "$count" "$variant" $opts
	done
done <"$profiles"
