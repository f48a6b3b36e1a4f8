#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# With `netns all`, one namespace flooding a slow pipeline is held to its
# quota: another namespace's ping through the same lane loses nothing. And
# with the default `netns init`, a namespace's packets are not taken at all.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del fa fb pa pb
}
trap cleanup EXIT
vigil_netns_pair fa fb 10.84.0
vigil_netns_pair pa pb 10.85.0

# Set up before enabling: each change to a running pipeline replaces it.
echo 64 >$SYSFS/netns_quota
echo 256 >$SYSFS/queue_len
echo 1 >$SYSFS/stages
echo idle >$SYSFS/policy
echo work >$SYSFS/stage0/ops
# 1 ms a packet: the flood outruns the stage, and one lane carries both. The stage runs
# on CPU 1 and the senders on CPU 0, so that the stage's softirq work does not starve the
# CPU's own receive backlog, which every namespace shares.
echo 1 >$SYSFS/stage0/cpus
echo 1000000 >$SYSFS/stage0/work_ns

# The default: other namespaces' packets pass untouched.
echo 1 >$SYSFS/enabled
ip netns exec pa ping -q -c 3 -i 0.1 -W 2 10.85.0.2
[ "$(vigil_read stats/entered)" = 0 ]

echo all >$SYSFS/netns
ip netns exec fa taskset -c 0 "$VIGIL" load --mode send --dst 10.84.0.2:9000 --count 6000 --flows 4 \
	--rate 50000 >/dev/null &
flood=$!
sleep 0.5
ip netns exec pa taskset -c 0 ping -q -c 10 -i 0.2 -W 5 10.85.0.2 || true
wait $flood
quota=$(vigil_drops netns_quota) full=$(vigil_drops queue_full)
echo "flood: netns_quota $quota, queue_full $full"
# ping gives up on a late reply after twice its slowest round trip: count at the ICMP layer,
# once the last reply had time to arrive.
icmp() { ip netns exec pa nstat -as "$1" | awk -v c="$1" '$1 == c {print $2}'; }
for _ in $(seq 50); do
	[ "$(icmp IcmpInEchoReps)" = "$(icmp IcmpOutEchos)" ] && break
	sleep 0.1
done
echo "pa: echo requests $(icmp IcmpOutEchos), replies $(icmp IcmpInEchoReps)"
[ "$(icmp IcmpInEchoReps)" = "$(icmp IcmpOutEchos)" ]
[ "$quota" -gt 0 ] && [ "$full" = 0 ]
