#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# UDP between two network namespaces over veth, through a 3-stage pipeline
# spread over 2 CPUs, under each policy: every datagram arrives, per-flow order
# holds, and entered = delivered + dropped with nothing left in flight.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=${VIGIL_TEST_PACKETS:-1000}
RATE=${VIGIL_TEST_RATE:-4000}
FLOWS=4

cleanup() {
	echo 0 >$SYSFS/enabled 2>/dev/null || true
	vigil_netns_del va vb
}
trap cleanup EXIT
vigil_netns_pair va vb 10.77.0
# The test namespaces are not the initial one; one namespace sends everything, so its quota
# is the queues' room (the default would drop a slowed pipeline's backlog as netns_quota).
echo all >$SYSFS/netns
echo 65536 >$SYSFS/netns_quota

echo 3 >$SYSFS/stages
echo 0 >$SYSFS/stage0/cpus
echo 1 >$SYSFS/stage1/cpus
echo 0-1 >$SYSFS/stage2/cpus
echo parse >$SYSFS/stage0/ops
echo rules >$SYSFS/stage1/ops
echo work >$SYSFS/stage2/ops
echo 2000 >$SYSFS/stage2/work_ns
echo "udp dport 9000-9100" >$SYSFS/match
echo 1 >$SYSFS/enabled

status=0
# Each policy at prerouting, then adaptive again with the hook at local_in.
for run in idle poll timeout adaptive adaptive@local_in; do
	policy=${run%@*}
	hook=prerouting
	[ "$run" = "${run#*@}" ] || hook=${run#*@}
	echo $hook >$SYSFS/hook
	echo $policy >$SYSFS/policy
	echo 1 >$SYSFS/stats/reset
	vigil_udp_receiver vb 10.77.0.2:9000 $N $FLOWS
	ip netns exec va "$VIGIL" load --mode send --dst 10.77.0.2:9000 --count $N \
		--flows $FLOWS --rate $RATE >/tmp/send.out
	wait $VIGIL_RX
	# The counters settle once the last packet left the pipeline.
	vigil_wait_idle
	entered=$(vigil_read stats/entered)
	delivered=$(vigil_read stats/delivered)
	dropped=$(vigil_read stats/dropped)
	in_flight=$(vigil_read stats/in_flight)
	echo "policy $policy, hook $hook: $(cat /tmp/send.out), $(cat /tmp/recv.out)"
	echo "  entered $entered delivered $delivered dropped $dropped in_flight $in_flight"
	# Columns as vigil_stage_table names them.
	vigil_stage_table | awk 'NR == 1 { next } {
		pk += $3; po += $4; ep += $5; hd += $7; up += $8; wi += $9; ha += $10; co += $11; ws += $12; wr += $13
	} END {
		printf "  packets %.0f polls %.0f empty_polls %.0f reschedules: head_ahead %.0f upstream_backlog %.0f window %.0f head_active %.0f; completions %.0f; wakeups sent %.0f received %.0f\n", pk, po, ep, hd, up, wi, ha, co, ws, wr
	}'
	ok=1
	[ "$(cat /tmp/recv.out)" = "received $N out_of_order 0" ] || ok=0
	[ "$in_flight" = 0 ] || ok=0
	[ "$entered" = $((delivered + dropped)) ] || ok=0
	[ "$entered" -ge "$N" ] || ok=0
	[ "$dropped" = 0 ] || ok=0
	if [ $ok = 0 ]; then
		echo "  FAILED"
		vigil_drops_seen
		status=1
	fi
done
exit $status
