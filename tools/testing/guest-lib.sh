# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that run inside the test VM. Source it.
VIGIL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)
VIGIL_KO=$VIGIL_ROOT/vigil.ko
# vm.sh passes CARGO_TARGET_DIR, where the host built the CLI.
VIGIL=${CARGO_TARGET_DIR:-$VIGIL_ROOT/tools/target}/release/vigil
SYSFS=/sys/kernel/vigil

# A script that stops at its first failure (set -e, as the integration tests do) says
# where: the line and the command, which the test's log then ends with.
case $- in
*e*) trap 'echo "${BASH_SOURCE[0]##*/}:$LINENO: failed ($?): $BASH_COMMAND" >&2' ERR ;;
esac

# vigil_read NAME: the value of a sysfs attribute.
vigil_read() { cat "$SYSFS/$1"; }

# vigil_ksrc: the kernel source tree setup.sh unpacked (for its YNL CLI).
vigil_ksrc() {
	local f cache=${VIGIL_CACHE:-$HOME/.cache/vigil}
	for f in "$cache/kdir-debug" "$cache/kdir-bench"; do
		[ -r "$f" ] && [ -e "$(cat "$f")/source/tools/net/ynl/pyynl/cli.py" ] &&
			readlink -f "$(cat "$f")/source" && return
	done
	echo "vigil_ksrc: no kernel source under $cache" >&2
	return 1
}

# vigil_ynl ARGS...: the kernel's YNL CLI on vigil's generic netlink spec, JSON
# out (`vigil_ynl --dump stage-stats-get`, `vigil_ynl --do config-get`).
vigil_ynl() {
	local src
	src=$(vigil_ksrc) || return
	/usr/bin/python3 "$src/tools/net/ynl/pyynl/cli.py" --no-schema --output-json \
		--spec "$VIGIL_ROOT/Documentation/netlink/specs/vigil.yaml" "$@"
}

# vigil_stage_table: the default pipeline's per-stage per-CPU statistics as a
# table: a line of column names (as `vigil stats --json` names them, in the
# spec's order), then a line per stage and CPU that ran. From the CLI's JSON with
# awk: a Python interpreter takes seconds to start in the VM.
vigil_stage_table() {
	"$VIGIL" stats --json | awk '{
		s = $0
		if (!sub(/.*"stages":\[/, "", s)) exit
		sub(/\].*/, "", s)
		if (s == "") exit
		n = split(s, rows, /\},\{/)
		for (r = 1; r <= n; r++) {
			row = rows[r]
			gsub(/[{}"]/, "", row)
			m = split(row, kv, ",")
			head = ""; line = ""
			for (i = 1; i <= m; i++) {
				split(kv[i], p, ":")
				head = head (i > 1 ? " " : "") p[1]
				line = line (i > 1 ? " " : "") p[2]
			}
			if (r == 1) print head
			print line
		}
	}'
}

# vigil_defaults: removes every pipeline but the default one, puts every setting
# back to its default (the CLI takes them from the module's ABI table) and zeroes
# the counters, so that each test starts from the same state whatever ran before.
vigil_defaults() {
	local p
	for p in $(<$SYSFS/pipelines); do
		[ "$p" = default ] || echo "-$p" >$SYSFS/pipelines
	done
	"$VIGIL" set --defaults
	echo 1 >$SYSFS/stats/reset
}

# vigil_slow_stages CPU: eight stages of 1 ms of work a packet (the most work_ns
# allows), all on CPU: the pipeline delivers about 125 packets a second, so what
# a test sends stays queued for seconds.
vigil_slow_stages() {
	local k
	echo 8 >$SYSFS/stages
	for k in 0 1 2 3 4 5 6 7; do
		echo "$1" >$SYSFS/stage$k/cpus
		echo work >$SYSFS/stage$k/ops
		echo 1000000 >$SYSFS/stage$k/work_ns
	done
}

# vigil_drops REASON: the default pipeline's drops for REASON (stats/drops/).
vigil_drops() { vigil_read "stats/drops/$1"; }

# vigil_drops_seen: "reason count" for every reason the default pipeline dropped for.
vigil_drops_seen() {
	local f
	for f in "$SYSFS"/stats/drops/*; do
		[ "$(<"$f")" = 0 ] || echo "${f##*/} $(<"$f")"
	done
}

# vigil_wait_idle: waits (up to 5 s) until nothing is in flight in the pipeline.
vigil_wait_idle() {
	local _
	for _ in $(seq 50); do
		[ "$(vigil_read stats/in_flight)" = 0 ] && return
		sleep 0.1
	done
}

# vigil_netns_pair A B NET: namespaces A and B joined by a veth pair, A at
# NET.1/24 and B at NET.2/24 (NET is three octets, for example 10.77.0).
# One `ip -batch` per namespace: each ip process costs about 0.5 s in the VM.
# Each side knows the other's address for good (a permanent neighbour): a first
# datagram that waited for ARP would be sent from whichever CPU took the reply,
# after a later one its sender sent meanwhile, reordering the flow before vigil.
vigil_netns_pair() {
	local mac=02:00:$(printf '%02x:' ${3//./ })
	ip -b - <<-EOF
		netns add $1
		netns add $2
		link add veth-$1 address ${mac}01 netns $1 type veth peer name veth-$2 address ${mac}02 netns $2
	EOF
	ip -n "$1" -b - <<-EOF
		addr add $3.1/24 dev veth-$1
		link set lo up
		link set veth-$1 up
		neigh add $3.2 lladdr ${mac}02 dev veth-$1 nud permanent
	EOF
	ip -n "$2" -b - <<-EOF
		addr add $3.2/24 dev veth-$2
		link set lo up
		link set veth-$2 up
		neigh add $3.1 lladdr ${mac}01 dev veth-$2 nud permanent
	EOF
}

# vigil_netns_del NS...: deletes the namespaces that exist, in one ip process.
vigil_netns_del() {
	local ns
	for ns in "$@"; do
		[ -e "/run/netns/$ns" ] && echo "netns del $ns"
	done | ip -b - 2>/dev/null || true
}

# vigil_wait_bound PID PORT: waits (up to 10 s) until process PID has a UDP socket bound
# to PORT, read from /proc/PID/net (the process's own namespace); fails if it never does.
# A fixed sleep before sending lost datagrams when a loaded host started the receiver late.
vigil_wait_bound() {
	local port _
	port=$(printf ':%04X' "$2")
	for _ in $(seq 100); do
		cat "/proc/$1/net/udp" "/proc/$1/net/udp6" 2>/dev/null |
			awk -v p="$port" 'substr($2, length($2) - 4) == p {found = 1} END {exit !found}' &&
			return 0
		sleep 0.1
	done
	echo "no UDP socket bound to port $2 by process $1" >&2
	return 1
}

# vigil_udp_receiver NS DST COUNT FLOWS [TIMEOUT]: starts `vigil load --mode recv` in
# namespace NS in the background, its report going to /tmp/recv.out, sets
# VIGIL_RX to its pid, and returns once it has bound DST's port.
# TIMEOUT is how long the receiver waits after the last datagram, in seconds
# (default 3).
vigil_udp_receiver() {
	ip netns exec "$1" "$VIGIL" load --mode recv --dst "$2" --count "$3" --flows "$4" \
		--timeout "${5:-3}" >/tmp/recv.out &
	VIGIL_RX=$!
	vigil_wait_bound $VIGIL_RX "${2##*:}"
}
