#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# While the pipeline runs, the counting hook sees every packet: N datagrams
# over IPv4 and IPv6 loopback make stats/seen grow by at least 2N, and every
# datagram arrives. While it is off, the hook is not even registered.
set -eu
. "$(dirname "$0")/../guest-lib.sh"
N=1000
trap 'echo 0 >$SYSFS/enabled' EXIT
# A match that takes nothing here: only the counting hook acts.
echo "tcp dport 1" >$SYSFS/match
echo 1 >$SYSFS/enabled
before=$(vigil_read stats/seen)
for dst in 127.0.0.1:9000 '[::1]:9001'; do
	report=$("$VIGIL" load --dst "$dst" --count $N --size 64)
	echo "$dst: $report"
	[ "$report" = "sent $N send_failed 0 received $N out_of_order 0" ]
done
after=$(vigil_read stats/seen)
echo "stats/seen: $before -> $after"
[ $((after - before)) -ge $((2 * N)) ]

echo 0 >$SYSFS/enabled
off=$(vigil_read stats/seen)
"$VIGIL" load --dst 127.0.0.1:9000 --count 100 --size 64 >/dev/null
[ "$(vigil_read stats/seen)" = "$off" ]

# Writes other than 1 to stats/reset are refused and change nothing.
for bad in 0 2 x " " "1 1" "11"; do
	if printf '%s' "$bad" >$SYSFS/stats/reset 2>/dev/null; then
		echo "stats/reset accepted '$bad'"
		exit 1
	fi
done
[ "$(vigil_read stats/seen)" -ge "$after" ]
echo 1 >$SYSFS/stats/reset
[ "$(vigil_read stats/seen)" -lt "$after" ]
