#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# With `match all` in every namespace: packets bridged with br_netfilter are
# let pass (their bridge port state is not vigil's to keep), and the VRF's
# second prerouting pass, whose continuation frees the packet, is never taken.
# Traffic across a bridge and into a VRF arrives whole.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=200
cleanup() {
	echo 0 >$SYSFS/enabled
	for ns in bra brb brx vra vrb; do ip netns del $ns 2>/dev/null || true; done
}
trap cleanup EXIT
for ns in bra brb brx vra vrb; do
	ip netns add $ns
	ip -n $ns link set lo up
done

# bra -- brx(br0, br_netfilter on) -- brb
ip link add a0 netns bra type veth peer name pa netns brx
ip link add b0 netns brb type veth peer name pb netns brx
ip -n brx link add br0 type bridge
ip -n brx link set pa master br0
ip -n brx link set pb master br0
for l in pa pb br0; do ip -n brx link set $l up; done
ip netns exec brx sysctl -qw net.bridge.bridge-nf-call-iptables=1
ip -n bra addr add 10.82.0.1/24 dev a0
ip -n brb addr add 10.82.0.2/24 dev b0
ip -n bra link set a0 up
ip -n brb link set b0 up

# vra -- vrb(v1 enslaved to vrf-blue)
ip link add v0 netns vra type veth peer name v1 netns vrb
ip -n vrb link add vrf-blue type vrf table 10
ip -n vrb link set vrf-blue up
ip -n vrb link set v1 master vrf-blue
ip -n vrb addr add 10.83.0.2/24 dev v1
ip -n vrb link set v1 up
ip -n vra addr add 10.83.0.1/24 dev v0
ip -n vra link set v0 up

echo all >$SYSFS/netns
echo all >$SYSFS/match
echo 1 >$SYSFS/enabled

vigil_udp_receiver brb 10.82.0.2:9000 $N 2
ip netns exec bra "$VIGIL" load --mode send --dst 10.82.0.2:9000 --count $N --flows 2 \
	--rate 2000 >/dev/null
wait $VIGIL_RX
bridged=$(vigil_read stats/skipped_bridged)
echo "bridge: $(cat /tmp/recv.out); skipped_bridged $bridged; entered $(vigil_read stats/entered) delivered $(vigil_read stats/delivered) dropped $(vigil_read stats/dropped)"
grep -q "^received $N out_of_order 0$" /tmp/recv.out
[ "$bridged" -ge $N ]

ip netns exec vra ping -q -c 10 -i 0.1 -W 2 10.83.0.2
l3mdev=$(vigil_read stats/skipped_l3mdev)
echo "vrf: skipped_l3mdev $l3mdev; entered $(vigil_read stats/entered)"
[ "$l3mdev" -ge 10 ]
for _ in $(seq 50); do
	[ "$(vigil_read stats/in_flight)" = 0 ] && break
	sleep 0.1
done
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
echo "entered $e delivered $d dropped $x"
[ "$x" = 0 ] && [ "$e" = "$d" ]
