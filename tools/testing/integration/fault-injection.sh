#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# failslab fails non-sleeping slab allocations (vigil's per-packet entry among
# them) while traffic flows: nothing crashes or leaks (vm.sh checks), every
# failure vigil meets is a counted drop (no_memory), and every other datagram
# arrives, in order.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=1000
fs=/sys/kernel/debug/failslab
[ -d $fs ] || { echo "no $fs: the kernel lacks FAILSLAB or FAULT_INJECTION_DEBUG_FS"; exit 1; }
stop_failing() { echo 0 >$fs/probability; }
cleanup() {
	stop_failing
	echo 0 >$SYSFS/enabled
	vigil_netns_del fia fib
}
trap cleanup EXIT
drops() { awk -v r="$1" '$1 == r {print $2}' $SYSFS/stats/drops; }

vigil_netns_pair fia fib 10.87.0
# A failed neighbour allocation would leave datagrams waiting on ARP, dropped by
# the neighbour's small queue and not by vigil: resolve it once, for good.
mac=$(ip netns exec fib cat /sys/class/net/veth-fib/address)
ip -n fia neigh replace 10.87.0.2 lladdr "$mac" dev veth-fia nud permanent
echo all >$SYSFS/netns
echo "udp dport 9000-9100" >$SYSFS/match
echo 1 >$SYSFS/enabled
vigil_udp_receiver fib 10.87.0.2:9000 $N 4

# Only allocations that cannot sleep fail (ignore-gfp-wait), any task or softirq, 5% of them.
echo Y >$fs/ignore-gfp-wait
echo N >$fs/task-filter
echo -1 >$fs/times
echo 0 >$fs/space
echo 0 >$fs/verbose
echo 5 >$fs/probability
ip netns exec fia "$VIGIL" load --mode send --dst 10.87.0.2:9000 --count $N --flows 4 \
	--rate 2000 >/tmp/send.out
stop_failing
wait $VIGIL_RX || true
vigil_wait_idle
nomem=$(drops no_memory)
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
read -r _ sent _ send_failed </tmp/send.out
read -r _ received _ disorder </tmp/recv.out
echo "$(cat /tmp/send.out); $(cat /tmp/recv.out); no_memory $nomem; entered $e delivered $d dropped $x"
[ "$nomem" -gt 0 ]
[ "$disorder" = 0 ]
[ "$e" = $((d + x)) ] && [ "$(vigil_read stats/held_packets)" = 0 ]
# Every datagram sent (the sender's own stack may refuse one: send_failed) and
# not dropped by vigil arrived.
[ "$((sent + send_failed))" = $N ]
[ "$received" = $((sent - x)) ]
