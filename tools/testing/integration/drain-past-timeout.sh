#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Disabling a pipeline that still holds packets when the drain timeout ends:
# what is left is dropped as "drain", and every packet is counted. Every stage
# stops before any queue is emptied, so no stage still running puts a packet
# into a queue already emptied, where it would be freed uncounted and stay "in
# flight" for ever. The write to `enabled` returns after the timeout (5 s).
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=2500
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del dra drb
}
trap cleanup EXIT

vigil_netns_pair dra drb 10.89.0
echo all >$SYSFS/netns
echo $N >$SYSFS/netns_quota
echo 4096 >$SYSFS/queue_len
echo idle >$SYSFS/policy
# Eight stages of 1 ms a packet, all on CPU 1: about 125 packets a second, fewer than half
# of the N in the drain's 5 s even if a loaded machine stretches them to 10 s, and every
# stage still has a queue when it ends. CPU 0 is left to the sender.
vigil_slow_stages 1
echo "udp dport 9000" >$SYSFS/match
echo 1 >$SYSFS/enabled

ip netns exec dra taskset -c 0 "$VIGIL" load --mode send --dst 10.89.0.2:9000 --count $N \
	--rate 50000 >/dev/null
queued=$(vigil_read stats/in_flight)
t0=$EPOCHREALTIME
echo 0 >$SYSFS/enabled
t1=$EPOCHREALTIME
ms=$(((${t1/./} - ${t0/./}) / 1000))
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
drain=$(vigil_drops drain) left=$(vigil_read stats/in_flight)
held=$(vigil_read stats/held_packets) bytes=$(vigil_read stats/held_bytes)
echo "disabled with $queued in flight, in $ms ms: entered $e delivered $d dropped $x" \
	"(drain $drain); in flight $left, held $held packets, $bytes bytes"
[ "$queued" -gt 0 ] && [ "$drain" -gt 0 ]
[ "$e" = $((d + x)) ] && [ "$left" = 0 ] && [ "$held" = 0 ] && [ "$bytes" = 0 ]
