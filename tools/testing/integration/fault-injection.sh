#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# failslab fails non-sleeping slab allocations (vigil's per-packet entry among
# them), and fail_page_alloc non-sleeping page allocations (the slabs' own pages
# among them), while traffic flows: nothing crashes or leaks (vm.sh checks),
# every failure vigil meets is a counted drop (no_memory), nothing stays held,
# and every other datagram arrives, in order.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=1000
fs=/sys/kernel/debug/failslab fp=/sys/kernel/debug/fail_page_alloc
[ -d $fs ] || { echo "no $fs: the kernel lacks FAILSLAB or FAULT_INJECTION_DEBUG_FS"; exit 1; }
[ -d $fp ] || { echo "no $fp: the kernel lacks FAIL_PAGE_ALLOC"; exit 1; }
stop_failing() { echo 0 >$fs/probability; echo 0 >$fp/probability; }
cleanup() {
	stop_failing
	echo 0 >$SYSFS/enabled
	vigil_netns_del fia fib
}
trap cleanup EXIT

vigil_netns_pair fia fib 10.87.0
# A failed neighbour allocation would leave datagrams waiting on ARP, dropped by
# the neighbour's small queue and not by vigil: resolve it once, for good.
mac=$(ip netns exec fib cat /sys/class/net/veth-fib/address)
ip -n fia neigh replace 10.87.0.2 lladdr "$mac" dev veth-fia nud permanent
echo all >$SYSFS/netns
echo "udp dport 9000-9100" >$SYSFS/match
echo 1 >$SYSFS/enabled
vigil_udp_receiver fib 10.87.0.2:9000 $N 4
# The receiving namespace's own drop counters from here on (failed allocations hit the
# stack after vigil too): nstat remembers where they stand.
ip netns exec fib nstat -n

# fail DIR PERCENT: fails PERCENT of the allocations that cannot sleep (ignore-gfp-wait), in
# any task or softirq. `times` counts down as failures are injected: it says how many were.
TIMES=1000000
fail() {
	echo Y >"$1/ignore-gfp-wait"
	echo N >"$1/task-filter"
	echo $TIMES >"$1/times"
	echo 0 >"$1/space"
	echo 0 >"$1/verbose"
	echo "$2" >"$1/probability"
}
injected() { echo $((TIMES - $(cat "$1/times"))); }
fail $fs 5
# Page allocations that cannot sleep are few: fail every 20th, single pages too (the
# default fails only higher orders), so that some fail in every run.
echo 0 >$fp/min-order
echo 20 >$fp/interval
fail $fp 100
# The sender stays on one CPU: moved to the other, it would queue to that CPU's receive
# backlog while its earlier datagrams wait in the first one's, and they would reach vigil
# out of order.
ip netns exec fia taskset -c 0 "$VIGIL" load --mode send --dst 10.87.0.2:9000 --count $N \
	--flows 4 --rate 2000 >/tmp/send.out
stop_failing
wait $VIGIL_RX || true
# Datagrams the receiving stack dropped and counted, after vigil delivered them.
stack=$(ip netns exec fib nstat -az IpInDiscards IpInHdrErrors IpInAddrErrors IpExtInNoRoutes \
	UdpInErrors UdpRcvbufErrors UdpMemErrors UdpInCsumErrors | awk '/^[A-Z]/ { n += $2 } END { print n + 0 }')
vigil_wait_idle
nomem=$(vigil_drops no_memory) slab=$(injected $fs) pages=$(injected $fp)
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
read -r _ sent _ send_failed </tmp/send.out
read -r _ received _ disorder </tmp/recv.out
echo "$(cat /tmp/send.out); $(cat /tmp/recv.out); failed: $slab slab and $pages page" \
	"allocations; no_memory $nomem; entered $e delivered $d dropped $x; stack drops $stack"
[ "$nomem" -gt 0 ] && [ "$slab" -gt 0 ] && [ "$pages" -gt 0 ]
[ "$disorder" = 0 ]
[ "$e" = $((d + x)) ] && [ "$(vigil_read stats/in_flight)" = 0 ]
[ "$(vigil_read stats/held_packets)" = 0 ] && [ "$(vigil_read stats/held_bytes)" = 0 ]
# Every datagram sent (the sender's own stack may refuse one: send_failed) arrived,
# unless vigil dropped it or the receiving stack did, counting it.
[ "$((sent + send_failed))" = $N ]
[ "$received" = $((sent - x - stack)) ]
