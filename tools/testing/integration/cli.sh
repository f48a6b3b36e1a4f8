#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The vigil CLI against the real module: set checks before writing and reports
# the kernel's errno, status and stats read back what was set, --json parses.
set -eu
. "$(dirname "$0")/../guest-lib.sh"

"$VIGIL" set policy=timeout stages=2 stage1.cpus=0 stage1/ops=rules,work "match=udp dport 9000-9100"
[ "$(vigil_read policy)" = "idle poll [timeout] adaptive" ]
[ "$(vigil_read stages)" = 2 ]
[ "$(vigil_read stage1/ops)" = "rules,work" ]

# A bad value anywhere: nothing is written, and the message says why.
if "$VIGIL" set policy=idle stages=9 2>/tmp/err; then exit 1; fi
grep -q "ERANGE" /tmp/err
[ "$(vigil_read policy)" = "idle poll [timeout] adaptive" ]
# A write the kernel refuses (nobody may write): its errno is shown.
if setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VIGIL" set policy=idle 2>/tmp/err; then
	exit 1
fi
cat /tmp/err
grep -q "EACCES" /tmp/err

"$VIGIL" status | tee /tmp/status
grep -q "^policy  *timeout$" /tmp/status
"$VIGIL" status --json | python3 -m json.tool >/dev/null

# Traffic through the pipeline, then the statistics.
"$VIGIL" set policy=adaptive enabled=1
"$VIGIL" load --dst 127.0.0.1:9005 --count 500 --burst 20 --gap-us 2000 --flows 2 --json | tee /tmp/load
python3 -c 'import json,sys; r=json.load(open("/tmp/load")); sys.exit(not (r["received"]==500 and r["out_of_order"]==0 and r["latency_p99_ns"]>0))'
"$VIGIL" stats | tee /tmp/stats
grep -q "entered 500  delivered 500  dropped 0  in_flight 0" /tmp/stats
"$VIGIL" stats --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(not (s["totals"]["delivered"]==500 and s["latency"] and s["latency"][-1]["p99_ns"]))'
"$VIGIL" stats --watch 0.2 --count 2 | tee /tmp/watch
[ "$(wc -l </tmp/watch)" = 3 ]
"$VIGIL" set enabled=0 stages=3
