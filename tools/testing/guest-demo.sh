#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the VM: the three-stage sample pipeline carries bursty UDP
# between two namespaces under each policy in turn; the vigil tool shows what
# each did (delivered, empty polls, wake-ups, hook-to-delivery latency).
set -eu
. "$(dirname "$0")/guest-lib.sh"
policies=${VIGIL_DEMO_POLICIES:-idle poll timeout adaptive}
# Bursts of 32 datagrams every 10 ms, over 4 flows.
burst=(--count 640 --flows 4 --burst 32 --gap-us 10000)

echo "== insmod vigil.ko"
insmod "$VIGIL_KO"
cleanup() {
	echo 0 >$SYSFS/enabled
	vigil_netns_del da db
	rmmod vigil
}
trap cleanup EXIT
vigil_netns_pair da db 10.98.0

echo "== the three-stage sample: parse on CPU 0, rules on CPU 1, work (2 us) on CPUs 0-1"
"$VIGIL" set netns=all stages=3 stage0.cpus=0 stage0.ops=parse stage1.cpus=1 \
	stage1.ops=rules stage2.cpus=0-1 stage2.ops=work stage2.work_ns=2000 \
	"match=udp dport 9000-9100"
"$VIGIL" status

for policy in $policies; do
	echo
	echo "== policy $policy: ${burst[*]}"
	"$VIGIL" set policy="$policy" enabled=1
	echo 1 >$SYSFS/stats/reset
	ip netns exec db "$VIGIL" load --mode recv --dst 10.98.0.2:9000 "${burst[@]}" \
		--timeout 3 >/tmp/recv.out &
	sleep 0.5
	ip netns exec da "$VIGIL" load --mode send --dst 10.98.0.2:9000 "${burst[@]}" >/dev/null
	wait
	echo "receiver: $(cat /tmp/recv.out)"
	"$VIGIL" stats
	"$VIGIL" set enabled=0
done
