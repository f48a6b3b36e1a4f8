#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rmmod while traffic flows through the pipeline: the module drains its queues,
# every datagram still arrives, and the kernel log stays clean (vm.sh checks).
# (Order across the unload is not kept: new packets bypass the draining queues.)
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=3000
cleanup() {
	vigil_netns_del va vb
	lsmod | grep -q '^vigil ' || insmod "$VIGIL_KO"
}
trap cleanup EXIT
vigil_netns_pair va vb 10.78.0
# The test namespaces are not the initial one; one namespace sends everything, so its quota
# is the queues' room (the default would drop a slowed pipeline's backlog as netns_quota).
echo all >$SYSFS/netns
echo 65536 >$SYSFS/netns_quota

echo 3 >$SYSFS/stages
echo 1 >$SYSFS/stage1/cpus
echo work >$SYSFS/stage1/ops
echo 20000 >$SYSFS/stage1/work_ns
echo adaptive >$SYSFS/policy
echo 1 >$SYSFS/enabled
# rmmod may hold the last packets for up to the drain timeout (5 s): the receiver
# waits longer than that for them.
vigil_udp_receiver vb 10.78.0.2:9000 $N 2 8
ip netns exec va "$VIGIL" load --mode send --dst 10.78.0.2:9000 --count $N --flows 2 \
	--rate 3000 >/tmp/send.out &
tx=$!
sleep 0.5
entered=$(vigil_read stats/entered)
rmmod vigil
echo "rmmod after $entered packets entered the pipeline"
wait $tx
wait $VIGIL_RX
echo "$(cat /tmp/send.out), $(cat /tmp/recv.out)"
[ "$entered" -gt 0 ]
# Packets that arrive after the hooks are gone may overtake those still queued:
# only loss counts here.
grep -q "^received $N " /tmp/recv.out
