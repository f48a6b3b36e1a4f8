#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sample pipeline: UDP to ports 9000-9100 through parse -> rules -> work stages on
# two CPUs, with the adaptive policy, between two network namespaces.
#   tools/testing/vm.sh --cpus 2 -- samples/three-stage-udp.sh [POLICY]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
vigil=${CARGO_TARGET_DIR:-$root/tools/target}/release/vigil
sys=/sys/kernel/vigil
policy=${1:-adaptive}

insmod "$root/vigil.ko"
cleanup() {
	ip netns del sa 2>/dev/null || true
	ip netns del sb 2>/dev/null || true
	rmmod vigil
}
trap cleanup EXIT
ip netns add sa
ip netns add sb
ip link add veth0 netns sa type veth peer name veth1 netns sb
ip -n sa addr add 10.99.0.1/24 dev veth0
ip -n sb addr add 10.99.0.2/24 dev veth1
ip -n sa link set veth0 up
ip -n sb link set veth1 up

# The namespaces are not the initial one, which is all vigil takes by default.
echo all >$sys/netns
echo 3 >$sys/stages
echo 0 >$sys/stage0/cpus
echo parse >$sys/stage0/ops
echo 1 >$sys/stage1/cpus
echo rules >$sys/stage1/ops
echo "udp dport 9099 drop; udp dport 9000-9100 mark 7" >$sys/rules
echo 0-1 >$sys/stage2/cpus
echo work >$sys/stage2/ops
echo 5000 >$sys/stage2/work_ns
echo "udp dport 9000-9100" >$sys/match
echo "$policy" >$sys/policy
echo 1 >$sys/enabled

ip netns exec sb "$vigil" load --mode recv --dst 10.99.0.2:9000 --count 2000 --flows 4 &
sleep 0.5
ip netns exec sa "$vigil" load --mode send --dst 10.99.0.2:9000 --count 2000 --flows 4 --rate 5000
wait
# The accounting, the per-stage per-CPU table (from the generic netlink family) and latency.
"$vigil" stats
