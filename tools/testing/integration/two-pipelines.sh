#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two pipelines at once, with different policies and overlapping filters, under
# traffic: a packet goes to the first pipeline whose filter fits, per-flow order
# holds and each pipeline's accounting holds; reordering them moves the traffic
# they both fit; removing one under traffic loses nothing of the other's.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=600
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del ta tb
}
trap cleanup EXIT
vigil_netns_pair ta tb 10.89.0
WEB=$SYSFS/pipeline/web
echo all >$SYSFS/netns
echo 65536 >$SYSFS/netns_quota
echo +web >$SYSFS/pipelines
# default (first) takes 9000-9049; web takes 9000-9100, so 9050 only.
"$VIGIL" set "match=udp dport 9000-9049" policy=adaptive enabled=1
echo "udp dport 9000-9100" >$WEB/match
echo idle >$WEB/policy
echo 2 >$WEB/stages
echo 1 >$WEB/enabled

# recv PORT COUNT: a receiver in tb writing /tmp/recv-PORT.out; returns once it is bound.
recv() {
	ip netns exec tb "$VIGIL" load --mode recv --dst 10.89.0.2:$1 --count $2 --flows 2 \
		--timeout 8 >/tmp/recv-$1.out &
	vigil_wait_bound $! $1
}
# send PORT COUNT: a sender in ta, in the background.
send() {
	ip netns exec ta "$VIGIL" load --mode send --dst 10.89.0.2:$1 --count $2 --flows 2 \
		--rate 1500 >/dev/null &
}
counts() { echo "$(<$1/stats/entered) $(<$1/stats/delivered) $(<$1/stats/dropped)"; }

recv 9000 $N; r1=$!
recv 9050 $N; r2=$!
send 9000 $N; s1=$!
send 9050 $N; s2=$!
wait $s1 $s2 $r1 $r2
read -r de dd dx <<<"$(counts $SYSFS)"
read -r we wd wx <<<"$(counts $WEB)"
echo "default: $(cat /tmp/recv-9000.out); entered $de delivered $dd dropped $dx"
echo "web:     $(cat /tmp/recv-9050.out); entered $we delivered $wd dropped $wx"
grep -q "^received $N out_of_order 0$" /tmp/recv-9000.out
grep -q "^received $N out_of_order 0$" /tmp/recv-9050.out
# Each took its own flows only (a few of the namespaces' own packets aside: none match).
[ "$de" = $N ] && [ "$dd" = $N ] && [ "$dx" = 0 ]
[ "$we" = $N ] && [ "$wd" = $N ] && [ "$wx" = 0 ]

# Reordered, web comes first and takes what both fit.
echo "web default" >$SYSFS/pipelines
[ "$(<$SYSFS/pipelines)" = "web default" ]
recv 9001 100; r1=$!
send 9001 100; s1=$!
wait $s1 $r1
read -r we2 _ <<<"$(counts $WEB)"
read -r de2 _ <<<"$(counts $SYSFS)"
echo "reordered: $(cat /tmp/recv-9001.out); default entered $de2, web entered $we2"
grep -q "^received 100 out_of_order 0$" /tmp/recv-9001.out
[ "$de2" = "$de" ] && [ "$we2" = $((we + 100)) ]

# Removing web under traffic: the default pipeline's flows lose nothing.
echo "default web" >$SYSFS/pipelines
recv 9002 $N; r1=$!
recv 9051 $N; r2=$!
send 9002 $N; s1=$!
send 9051 $N; s2=$!
sleep 0.2
echo -web >$SYSFS/pipelines
wait $s1 $s2 $r1 $r2
echo "after removing web: default flow $(cat /tmp/recv-9002.out); web flow $(cat /tmp/recv-9051.out)"
[ "$(<$SYSFS/pipelines)" = default ]
[ ! -e $WEB ]
grep -q "^received $N out_of_order 0$" /tmp/recv-9002.out
# web's own flow drained before the pipeline went: nothing of it is lost either.
grep -q "^received $N " /tmp/recv-9051.out
read -r de3 dd3 dx3 <<<"$(counts $SYSFS)"
[ "$de3" = $((dd3 + dx3)) ] && [ "$dx3" = 0 ]
