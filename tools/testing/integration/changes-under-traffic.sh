#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Changing settings while traffic flows: each change stops (drains) and
# restarts the pipeline; no datagram is lost and the accounting holds.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=4000
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del ca cb
}
trap cleanup EXIT
vigil_netns_pair ca cb 10.79.0
# The test namespaces are not the initial one; one namespace sends everything, so its quota
# is the queues' room (the default would drop a slowed pipeline's backlog as netns_quota).
echo all >$SYSFS/netns
echo 65536 >$SYSFS/netns_quota

"$VIGIL" set stages=3 stage0.cpus=0 stage1.cpus=1 stage2.cpus=0-1 "match=udp dport 9000-9100" \
	policy=adaptive enabled=1
echo 1 >$SYSFS/stats/reset
vigil_udp_receiver cb 10.79.0.2:9000 $N 4
ip netns exec ca "$VIGIL" load --mode send --dst 10.79.0.2:9000 --count $N --flows 4 \
	--rate 2000 >/tmp/send.out &
tx=$!
changes=0
# One change of each kind: policy, stage count, CPUs, queue length, hook, filter.
for change in policy=poll stages=2 stage1.cpus=0 queue_len=256 hook=local_in \
	"match=udp dport 9000" policy=adaptive; do
	sleep 0.1
	"$VIGIL" set "$change"
	changes=$((changes + 1))
done
wait $tx
wait $VIGIL_RX
vigil_wait_idle
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
echo "$changes changes; $(cat /tmp/send.out), $(cat /tmp/recv.out); entered $e delivered $d dropped $x"
vigil_drops_seen
# A change holds the new pipeline until the old one drained: nothing is lost or reordered.
grep -q "^received $N out_of_order 0$" /tmp/recv.out
[ "$e" -gt 0 ] && [ "$e" = $((d + x)) ] && [ "$(vigil_read stats/in_flight)" = 0 ]
