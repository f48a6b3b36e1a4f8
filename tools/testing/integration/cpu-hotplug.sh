#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A stage's CPU goes offline under traffic and comes back: nothing is lost or
# reordered, nothing splats (vm.sh checks), and afterwards the stage is woken
# on its own CPU again (its IPIs are received there).
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=2000
cpu1=/sys/devices/system/cpu/cpu1/online
cleanup() {
	echo 1 >$cpu1 2>/dev/null || true
	echo 0 >$SYSFS/enabled
	vigil_netns_del ha hb
}
trap cleanup EXIT
[ -w $cpu1 ] || { echo "no CPU 1 to take offline"; exit 1; }
vigil_netns_pair ha hb 10.86.0
echo all >$SYSFS/netns
echo 2 >$SYSFS/stages
echo 0 >$SYSFS/stage0/cpus
echo 1 >$SYSFS/stage1/cpus
echo "udp dport 9000-9100" >$SYSFS/match
echo 1 >$SYSFS/enabled

vigil_udp_receiver hb 10.86.0.2:9000 $N 4
ip netns exec ha taskset -c 0 "$VIGIL" load --mode send --dst 10.86.0.2:9000 --count $N \
	--flows 4 --rate 2000 >/tmp/send.out &
tx=$!
sleep 0.3
echo 0 >$cpu1
sleep 0.3
echo 1 >$cpu1
wait $tx
wait $VIGIL_RX
echo "$(cat /tmp/send.out); $(cat /tmp/recv.out)"
grep -q "^received $N out_of_order 0$" /tmp/recv.out

# Back online: the stage's wake-ups reach CPU 1 again.
echo 1 >$SYSFS/stats/reset
vigil_udp_receiver hb 10.86.0.2:9000 200 4
ip netns exec ha taskset -c 0 "$VIGIL" load --mode send --dst 10.86.0.2:9000 --count 200 \
	--flows 4 --rate 1000 >/dev/null
wait $VIGIL_RX
woken=$(vigil_stage_table | awk '$1 == 1 && $2 == 1 {print $13}')
echo "after online: stage 1 woken on CPU 1 ${woken:-0} times; $(cat /tmp/recv.out)"
grep -q "^received 200 out_of_order 0$" /tmp/recv.out
[ "${woken:-0}" -gt 0 ]
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
[ "$(vigil_read stats/in_flight)" = 0 ] && [ "$e" = $((d + x)) ]
