#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vigil at local_in, enabled after conntrack's hooks are in place: registered
# later at the same priority, its hook runs ahead of conntrack's confirm. A
# reinjected packet must still pass confirm (and every later hook), so the
# receiving namespace lists each flow's conntrack entry.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=200 FLOWS=4
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del ka kb
}
trap cleanup EXIT
vigil_netns_pair ka kb 10.80.0
# A ct rule makes conntrack register its hooks in kb now, before vigil's.
ip netns exec kb nft -f - <<'NFT'
table inet vigil_test {
	chain input {
		type filter hook input priority 0; policy accept;
		ct state new,established counter
	}
}
NFT
echo all >$SYSFS/netns
echo local_in >$SYSFS/hook
echo "udp dport 9000-9100" >$SYSFS/match
echo 1 >$SYSFS/enabled
vigil_udp_receiver kb 10.80.0.2:9000 $N $FLOWS
ip netns exec ka "$VIGIL" load --mode send --dst 10.80.0.2:9000 --count $N --flows $FLOWS \
	--rate 2000 >/dev/null
wait $VIGIL_RX
entries=$(ip netns exec kb grep -c ' udp ' /proc/net/nf_conntrack || true)
echo "$(cat /tmp/recv.out); entered $(vigil_read stats/entered); conntrack entries $entries"
grep -q "^received $N out_of_order 0$" /tmp/recv.out
[ "$(vigil_read stats/entered)" = $N ]
[ "$entries" = $FLOWS ]
