#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The CPU allocator under a load ramp: stage 1 (700 us of work a packet, on
# CPU 0 with stage 0) runs above the high-water mark while 1200 datagrams a
# second flow, gains the free CPU 1, and gives it back once the traffic stops.
# Every datagram arrives, in order; the changes are counted and logged.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=4000
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del aa ab
}
trap cleanup EXIT
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs"; exit 1; }
vigil_netns_pair aa ab 10.88.0
echo all >$SYSFS/netns
echo 65536 >$SYSFS/netns_quota
"$VIGIL" set stages=2 stage0.cpus=0 stage0.ops=none stage1.cpus=0 stage1.ops=work \
	stage1.work_ns=700000 "match=udp dport 9000" queue_len=4096
# Turning the allocator on unpins the stages the lines above wrote.
echo 1 >$SYSFS/allocate
echo 1 >$SYSFS/enabled
dmesg -C
vigil_udp_receiver ab 10.88.0.2:9000 $N 4 8
# The sender stays on CPU 1: veth queues a packet to the sending CPU's backlog, so a
# sender that moved between CPUs (CPU 0 is busy with the stage) would reorder its
# flows before they reach vigil.
ip netns exec aa taskset -c 1 "$VIGIL" load --mode send --dst 10.88.0.2:9000 --count $N \
	--flows 4 --rate 1200 >/tmp/send.out &
tx=$!
# While the load lasts: the widest stage 1 got.
widest=$(<$SYSFS/stage1/cpus)
while kill -0 $tx 2>/dev/null; do
	c=$(<$SYSFS/stage1/cpus)
	[ "$c" = 0 ] || widest=$c
	sleep 0.1
done
wait $VIGIL_RX
# Idle: the CPU goes back within cool-down and hysteresis (a second at most).
for _ in $(seq 30); do
	[ "$(<$SYSFS/stage1/cpus)" = 0 ] && break
	sleep 0.1
done
after=$(<$SYSFS/stage1/cpus)
added=$(vigil_read stats/cpus_added) removed=$(vigil_read stats/cpus_removed)
echo "$(cat /tmp/send.out); $(cat /tmp/recv.out)"
echo "stage 1 on CPUs $widest under load, $after after; cpus_added $added cpus_removed $removed pool_empty $(vigil_read stats/pool_empty)"
dmesg | grep -o "vigil: pipeline .*" || true
vigil_drops_seen
# What the receiving socket could not take (the stage's work starves the receiver).
ip netns exec ab awk '/^Udp:/ { if (h) print "udp in ab:", $0; h = 1 }' /proc/net/snmp
grep -q "^received $N out_of_order 0$" /tmp/recv.out
[ "$widest" = 0-1 ] && [ "$after" = 0 ]
[ "$added" -ge 1 ] && [ "$removed" -ge 1 ]
[ "$(vigil_read stats/dropped)" = 0 ]
