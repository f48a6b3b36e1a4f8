#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# With `match all` in every namespace: packets bridged with br_netfilter are
# let pass (their bridge port state is not vigil's to keep), and the VRF's
# second prerouting pass, whose continuation frees the packet, is never taken.
# Traffic across a bridge and into a VRF arrives whole. The VRF is in the
# initial namespace, the one vigil takes packets from by default.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=200
cleanup() {
	echo 0 >$SYSFS/enabled
	# The initial namespace as it was, in one ip process, except for the l3mdev FIB rules
	# its first VRF added: the VRF driver adds them once per namespace, so removing them
	# would break any later VRF there.
	{
		[ -e /sys/class/net/vb0 ] && echo "link del vb0"
		[ -e /sys/class/net/vrf-blue ] && echo "link del vrf-blue"
		for ns in bra brb brx vrp; do
			[ -e /run/netns/$ns ] && echo "netns del $ns"
		done
	} | ip -b - 2>/dev/null || true
}
trap cleanup EXIT
# One ip process per namespace (each costs about 0.5 s in the VM).
# bra -- brx(br0, br_netfilter on) -- brb;  vrp -- vb0 (enslaved to vrf-blue, initial namespace)
ip -b - <<EOF
netns add bra
netns add brb
netns add brx
netns add vrp
link add a0 netns bra type veth peer name pa netns brx
link add b0 netns brb type veth peer name pb netns brx
link add vrf-blue type vrf table 10
link set vrf-blue up
link add vb0 type veth peer name vb1 netns vrp
link set vb0 master vrf-blue
addr add 10.83.0.1/24 dev vb0
link set vb0 up
EOF
ip -n brx -b - <<EOF
link add br0 type bridge
link set pa master br0
link set pb master br0
link set pa up
link set pb up
link set br0 up
EOF
ip netns exec brx sysctl -qw net.bridge.bridge-nf-call-iptables=1
ip -n bra -b - <<EOF
addr add 10.82.0.1/24 dev a0
link set a0 up
EOF
ip -n brb -b - <<EOF
addr add 10.82.0.2/24 dev b0
link set b0 up
EOF
ip -n vrp -b - <<EOF
addr add 10.83.0.2/24 dev vb1
link set vb1 up
EOF

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

# -w: ping fails unless all 10 replies arrive within 5 s.
ip netns exec vrp ping -q -c 10 -i 0.1 -w 5 10.83.0.1
l3mdev=$(vigil_read stats/skipped_l3mdev)
echo "vrf: skipped_l3mdev $l3mdev; entered $(vigil_read stats/entered)"
[ "$l3mdev" -ge 10 ]
# With `match all`, the namespaces' own IPv6 traffic may enter between two
# reads: disabling drains the pipeline and takes nothing more.
echo 0 >$SYSFS/enabled
e=$(vigil_read stats/entered) d=$(vigil_read stats/delivered) x=$(vigil_read stats/dropped)
echo "entered $e delivered $d dropped $x"
[ "$x" = 0 ] && [ "$e" = "$d" ]
