#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# BIG TCP: a TCP GSO packet longer than 65535 bytes carries 0 as its IPv4 total
# length or IPv6 payload length, and vigil reads the length from the packet
# instead, in its filter (`match`) and in the parse and rules operations. Over a
# veth pair whose GSO and GRO sizes allow 192 KiB, a TCP transfer in each family
# goes through vigil whole, with no parse drop, and packets longer than 65535
# bytes that vigil's rule marked reach local_in (nft counts them there).
set -eu
. "$(dirname "$0")/../guest-lib.sh"
BYTES=$((1 << 20))
cleanup() {
	echo 0 >$SYSFS/enabled
	# The pair is still in the initial namespace if the test stopped before moving it.
	[ -e /sys/class/net/bt0 ] && ip link del bt0
	vigil_netns_del bta btb
}
trap cleanup EXIT

# The pair is made in the initial namespace, where one process sets both ends' sizes
# (iproute2 before 6.3 cannot set IPv4's), and then moved.
ip -b - <<EOF
netns add bta
netns add btb
link add bt0 type veth peer name bt1
EOF
# -S: without the site module, python starts in about half the time in the VM.
python3 -S "$VIGIL_ROOT/tools/testing/set-gso-sizes.py" 196608 bt0 bt1
ip -b - <<EOF
link set bt0 netns bta
link set bt1 netns btb
EOF
ip -n bta -b - <<EOF
addr add 10.90.0.1/24 dev bt0
addr add fd90::1/64 dev bt0 nodad
link set lo up
link set bt0 up
route replace 10.90.0.0/24 dev bt0 initcwnd 255
route replace fd90::/64 dev bt0 initcwnd 255
EOF
ip -n btb -b - <<EOF
addr add 10.90.0.2/24 dev bt1
addr add fd90::2/64 dev bt1 nodad
link set lo up
link set bt1 up
route replace 10.90.0.0/24 dev bt1 initrwnd 255
route replace fd90::/64 dev bt1 initrwnd 255
EOF
# With the first window and burst at 255 segments, and GSO packets that do not shrink with
# the round trip (milliseconds in the VM, through the pipeline), the sender's GSO packets
# are as long as the window allows from the start.
ip netns exec bta sysctl -qw net.ipv4.tcp_min_tso_segs=255
# Counts, per family, the packets longer than 65535 bytes that reach local_in, and those
# of them that vigil's rule marked.
ip netns exec btb nft -f - <<EOF
table inet big {
	counter v4 {}
	counter v6 {}
	counter marked4 {}
	counter marked6 {}
	chain in {
		type filter hook input priority 0;
		meta length > 65535 meta nfproto ipv4 counter name v4
		meta length > 65535 meta nfproto ipv6 counter name v6
		meta length > 65535 meta mark 66 meta nfproto ipv4 counter name marked4
		meta length > 65535 meta mark 66 meta nfproto ipv6 counter name marked6
	}
}
EOF

echo all >$SYSFS/netns
echo "tcp dport 9311-9312" >$SYSFS/match
echo parse >$SYSFS/stage0/ops
echo rules >$SYSFS/stage1/ops
echo "tcp dport 9311-9312 mark 66" >$SYSFS/rules
echo 1 >$SYSFS/enabled

# transfer FAMILY PORT ADDRESS CLIENT_PORT: bta listens on PORT and sends BYTES, 256 KiB a
# write, to btb, which connects from CLIENT_PORT (which vigil takes) and writes how many
# bytes arrived to /tmp/big-FAMILY. The listener sends because its first window comes from
# the connecting end's ACK, scaled, where a connecting sender's comes from the SYN-ACK,
# unscaled, which would hold its first GSO packets to half of 64 KiB.
transfer() {
	ip netns exec bta timeout 20 socat -u -b 262144 "OPEN:/dev/zero,readbytes=$BYTES" \
		"TCP$1-LISTEN:$2,reuseaddr,sndbuf=4194304" &
	ip netns exec btb timeout 20 socat -u \
		"TCP$1:$3:$2,sourceport=$4,rcvbuf=1048576,retry=50,interval=0.1" STDOUT |
		wc -c >"/tmp/big-$1"
	wait
}
# counted NAME: packets counter NAME counted at btb's local_in.
counted() {
	ip netns exec btb nft list counter inet big "$1" | awk '$1 == "packets" {print $2}'
}
# Whether the sender's GSO packets grow past 64 KiB depends on timing (its window and
# pacing); a transfer where none did shows nothing about vigil, so a family whose
# packets all stayed at 64 KiB or less transfers again, up to three times. Every
# transfer must arrive whole, and the final counts must include marked long packets.
v4=0 v6=0
for try in 1 2 3; do
	[ "$v4" -gt 0 ] || transfer 4 $((9300 + 2 * try)) 10.90.0.1 9311 &
	[ "$v6" -gt 0 ] || transfer 6 $((9301 + 2 * try)) '[fd90::1]' 9312 &
	wait
	for f in 4 6; do
		[ "$(cat /tmp/big-$f)" = $BYTES ] || { echo "IPv$f: $(cat /tmp/big-$f) bytes"; exit 1; }
	done
	v4=$(counted v4) v6=$(counted v6)
	[ "$v4" -gt 0 ] && [ "$v6" -gt 0 ] && break
done
m4=$(counted marked4) m6=$(counted marked6)
echo "$try transfer(s) each of $BYTES bytes received whole;" \
	"longer than 65535 at local_in: $v4 (IPv4), $v6 (IPv6), marked by vigil" \
	"$m4, $m6; entered $(vigil_read stats/entered), parse drops $(vigil_drops parse)"
[ "$(vigil_drops parse)" = 0 ]
[ "$m4" -gt 0 ] && [ "$m6" -gt 0 ]
