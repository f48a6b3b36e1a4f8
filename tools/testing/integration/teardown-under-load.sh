#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Packets held when a device they came in on goes down, or their namespace goes
# away, are dropped at once with a counted reason (as nfnetlink_queue flushes
# its queue): the device unregisters without waiting for the pipeline, the
# accounting holds, nothing leaks or splats (vm.sh checks the log).
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=1000
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del ta tb
}
trap cleanup EXIT

vigil_netns_pair ta tb 10.81.0
echo all >$SYSFS/netns
echo 4096 >$SYSFS/netns_quota
echo idle >$SYSFS/policy
# 8 ms a packet on one CPU: a burst stays queued for seconds.
vigil_slow_stages 0
echo "udp dport 9000-9100" >$SYSFS/match
echo 1 >$SYSFS/enabled

# burst: sends in the background and returns once the pipeline holds packets.
burst() {
	ip netns exec ta "$VIGIL" load --mode send --dst 10.81.0.2:9000 --count $N --flows 2 \
		--rate 20000 >/dev/null &
	for _ in $(seq 100); do
		[ "$(vigil_read stats/in_flight)" -ge 20 ] && return
		sleep 0.05
	done
}

burst
held=$(vigil_read stats/in_flight)
ip -n tb link set veth-tb down
down=$(vigil_drops device_gone)
echo "device down with $held in flight: device_gone $down, in flight $(vigil_read stats/in_flight)"
[ "$held" -gt 0 ] && [ "$down" -gt 0 ]

wait
ip -n tb link set veth-tb up
burst
held=$(vigil_read stats/in_flight)
ip netns del tb
# The namespace goes in the background once its last reference is gone; its end of the
# veth pair takes this one with it.
for _ in $(seq 100); do
	ip -n ta link show veth-ta >/dev/null 2>&1 || break
	sleep 0.05
done
wait
gone=$(($(vigil_drops device_gone) + $(vigil_drops netns_gone) - down))
echo "namespace deleted with $held in flight: $gone dropped, in flight $(vigil_read stats/in_flight)"
[ "$held" -gt 0 ] && [ "$gone" -gt 0 ]

e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
echo "entered $e delivered $d dropped $x held $(vigil_read stats/held_packets)"
[ "$(vigil_read stats/in_flight)" = 0 ] && [ "$e" = $((d + x)) ]
[ "$(vigil_read stats/held_packets)" = 0 ] && [ "$(vigil_read stats/held_bytes)" = 0 ]
