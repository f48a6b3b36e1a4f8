#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The generic netlink family through the kernel's YNL library and CLI and
# vigil's spec: after traffic through every stage on every CPU, the dumps agree
# with each other, with the sysfs counters and with `vigil stats`; config-get
# agrees with the sysfs settings; a user that is not root may dump.
set -eu
. "$(dirname "$0")/../guest-lib.sh"

nr=$(nproc)
# All 8 stages on every CPU: as many stage-stats rows as this VM can have.
echo 8 >$SYSFS/stages
for k in 0 1 2 3 4 5 6 7; do
	echo "0-$((nr - 1))" >$SYSFS/stage$k/cpus
done
echo 1 >$SYSFS/enabled
"$VIGIL" load --dst 127.0.0.1:9007 --count 400 --burst 50 --gap-us 1000 --flows 8
vigil_wait_idle

# One interpreter for the dumps (with the YNL library cli.py is made of) and
# every check: starting one is slow in the VM.
ksrc=$(vigil_ksrc)
spec=$VIGIL_ROOT/Documentation/netlink/specs/vigil.yaml
/usr/bin/python3 - "$nr" "$ksrc/tools/net/ynl/pyynl" "$spec" "$VIGIL" <<'PY'
import json, subprocess, sys

nr, pyynl, spec, vigil = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.append(pyynl)
from lib import YnlFamily

ynl = YnlFamily(spec, schema="")
sysfs = lambda name: open(f"/sys/kernel/vigil/{name}").read().rstrip("\n")

# config-get against the sysfs files, the policy's [current] one aside.
config = ynl.do("config-get", {})
for name in ("enabled policy stages poll_window_ns backlog_threshold burst_gap_ns "
             "queue_len hook match netns netns_quota max_held_packets max_held_bytes").split():
    want = sysfs(name)
    if name == "policy":
        want = want.split("[")[1].split("]")[0]
    got = config[name.replace("_", "-")]
    assert str(got) == want, (name, got, want)
assert config["enabled"] == 1 and "rule" not in config, config
assert [s["index"] for s in config["stage"]] == list(range(8)), config["stage"]
for s in config["stage"]:
    k = s["index"]
    want = [sysfs(f"stage{k}/cpus"), sysfs(f"stage{k}/ops"), sysfs(f"stage{k}/work_ns")]
    assert [s["cpus"], s["ops"], str(s["work-ns"])] == want, (s, want)

# Nothing counts from here on: every reader below sees the same numbers.
open("/sys/kernel/vigil/enabled", "w").write("0\n")
stages, latency, lanes = (ynl.dump(op, {}) for op in ("stage-stats-get", "latency-get", "lane-get"))
print(json.dumps(lanes), file=open("/tmp/lane-get.json", "w"))
counters = {k: int(sysfs(f"stats/{k}")) for k in ("entered", "delivered", "dropped", "in_flight")}
print(f"{len(stages)} stage rows, {len(latency)} histogram messages, {len(lanes)} lanes; "
      f"sysfs {counters}")

# A stage's histogram comes in messages, each of its buckets 64n to 64n + 63 that are
# not empty, in order: per stage, {bucket: count}.
hists = {}
for h in latency:
    indices = [b["index"] for b in h["bucket"]]
    assert indices and len({i // 64 for i in indices}) == 1, h
    assert all(b["count"] > 0 for b in h["bucket"]), h
    hist = hists.setdefault(h["stage"], {})
    assert indices == sorted(indices) and min(indices) > max(hist, default=-1), (hist, h)
    hist.update((b["index"], b["count"]) for b in h["bucket"])
assert list(hists) == sorted(hists), list(hists)

assert counters["dropped"] == 0 and counters["in_flight"] == 0, counters
assert counters["entered"] >= 400 and counters["delivered"] == counters["entered"], counters
# Rows come stage-major, each stage and CPU once.
keys = [(r["stage"], r["cpu"]) for r in stages]
assert keys == sorted(set(keys)) and all(0 <= c < nr for _, c in keys), keys
# Every stage handled every packet, spread over the CPUs, and timed each.
assert {s for s, _ in keys} == set(range(8)), keys
for s in range(8):
    handled = sum(r["packets"] for r in stages if r["stage"] == s)
    assert handled == counters["entered"], (s, handled)
    assert sum(hists[s].values()) == handled, (s, hists[s])
assert 1 <= len(lanes) <= nr, lanes
for k, attr in (("entered", "entered"), ("delivered", "delivered"),
                ("dropped", "dropped"), ("in_flight", "in-flight")):
    assert sum(l[attr] for l in lanes) == counters[k], (k, lanes)

# Every row names its pipeline: here only the default one ran.
assert {r["pipeline"] for r in stages + latency + lanes} == {"default"}

# vigil stats reads the same dumps through its own netlink code.
stats = json.loads(subprocess.run([vigil, "stats", "--json"], check=True,
                                  capture_output=True, text=True).stdout)
assert [{k.replace("-", "_"): v for k, v in r.items() if k != "pipeline"}
        for r in stages] == stats["stages"]
assert hists == {h["stage"]: {i: n for i, n in enumerate(h["buckets"]) if n}
                 for h in stats["latency"]}
assert list(hists) == [h["stage"] for h in stats["latency"]]

# config-get: one pipeline's by name, or every pipeline's as a dump, in order.
open("/sys/kernel/vigil/pipelines", "w").write("+nl\n")
try:
    every = ynl.dump("config-get", {})
    assert [c["pipeline"] for c in every] == ["default", "nl"], every
    nl = ynl.do("config-get", {"pipeline": "nl"})
    assert nl["pipeline"] == "nl" and nl["enabled"] == 0 and nl["stages"] == 3, nl
    assert nl["netns-quota"] == config["netns-quota"], nl
    try:
        ynl.do("config-get", {"pipeline": "none"})
        raise AssertionError("config-get of a pipeline that does not exist")
    except Exception as e:
        assert "No such file" in str(e) or "-2" in str(e) or "ENOENT" in str(e), e
finally:
    open("/sys/kernel/vigil/pipelines", "w").write("-nl\n")
print("dumps agree with sysfs, vigil stats and each other; config-get with the settings")
PY

# The dumps need no privilege, as the sysfs files they replace did not: cli.py
# and vigil stats as nobody (root's home, where they are, is closed to nobody:
# copies in /tmp).
rm -rf /tmp/pyynl
cp -r "$ksrc/tools/net/ynl/pyynl" /tmp/pyynl
cp "$VIGIL" /tmp/vigil
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
as_nobody /usr/bin/python3 /tmp/pyynl/cli.py --no-schema --output-json --spec "$spec" \
	--dump lane-get >/tmp/nobody.json
cmp /tmp/nobody.json /tmp/lane-get.json
as_nobody /tmp/vigil stats | grep "entered $(vigil_read stats/entered) "
echo "nobody dumps with cli.py and runs vigil stats"
