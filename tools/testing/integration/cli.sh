#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The vigil CLI against the real module: set checks before writing and reports
# the kernel's errno, status and stats read back what was set, --json parses;
# vigil pipeline and --pipeline configure and show a second pipeline.
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
"$VIGIL" status --json >/tmp/status.json

# Traffic through the pipeline, then the statistics.
"$VIGIL" set policy=adaptive enabled=1
"$VIGIL" load --dst 127.0.0.1:9005 --count 500 --burst 20 --gap-us 2000 --flows 2 --json |
	tee /tmp/load.json
"$VIGIL" stats | tee /tmp/stats
grep -q "entered 500  delivered 500  dropped 0  in_flight 0" /tmp/stats
"$VIGIL" stats --json >/tmp/stats.json
# One interpreter for every --json check: starting one is slow in the VM.
python3 - <<'PY'
import json
status = json.load(open("/tmp/status.json"))
assert status["settings"]["policy"] == "timeout", status
load = json.load(open("/tmp/load.json"))
assert load["received"] == 500 and load["out_of_order"] == 0 and load["latency_p99_ns"] > 0, load
stats = json.load(open("/tmp/stats.json"))
assert stats["totals"]["delivered"] == 500, stats["totals"]
assert stats["latency"] and stats["latency"][-1]["p99_ns"], stats["latency"]
PY
"$VIGIL" stats --watch 0.2 --count 2 | tee /tmp/watch
[ "$(wc -l </tmp/watch)" = 3 ]
"$VIGIL" set enabled=0 stages=3

# A second pipeline through the CLI: add it, configure it with --pipeline, send
# it traffic, read its status, reorder, remove it.
"$VIGIL" pipeline add web
[ "$("$VIGIL" pipeline list --json)" = '["default","web"]' ]
"$VIGIL" set -p web policy=poll stages=2 stage1.cpus=0 "match=udp dport 9050"
[ "$(vigil_read pipeline/web/policy)" = "idle [poll] timeout adaptive" ]
[ "$(vigil_read pipeline/web/stage1/cpus)" = 0 ]
# The default pipeline's are as they were.
[ "$(vigil_read policy)" = "idle poll timeout [adaptive]" ]
[ "$(vigil_read stages)" = 3 ]
# A global setting with --pipeline: refused, and nothing written.
if "$VIGIL" set --pipeline web stages=1 netns=all 2>/tmp/err; then exit 1; fi
grep -q "netns is global" /tmp/err
[ "$(vigil_read pipeline/web/stages)" = 2 ]
# The module's refusals are named before writing.
if "$VIGIL" pipeline add web 2>/tmp/err; then exit 1; fi
grep -q "EEXIST" /tmp/err
if "$VIGIL" pipeline del default 2>/tmp/err; then exit 1; fi
grep -q "EBUSY" /tmp/err
"$VIGIL" pipeline order web default
[ "$(vigil_read pipelines)" = "web default" ]
"$VIGIL" set -p web enabled=1
"$VIGIL" load --dst 127.0.0.1:9050 --count 200 --burst 20 --gap-us 2000 >/dev/null
"$VIGIL" status --pipeline web | tee /tmp/status-web
grep -q "^pipeline  *web$" /tmp/status-web
grep -q "^policy  *poll$" /tmp/status-web
grep -q "^netns  *init$" /tmp/status-web
grep -q "^entered  *200$" /tmp/status-web
grep -q "^delivered  *200$" /tmp/status-web
"$VIGIL" status | tee /tmp/status
grep -q "^pipelines  *web default$" /tmp/status
grep -q "^entered  *500$" /tmp/status
"$VIGIL" pipeline del web
[ "$(vigil_read pipelines)" = default ]
[ ! -e "$SYSFS/pipeline/web" ]
