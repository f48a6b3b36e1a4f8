#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every writable attribute refuses malformed values with an errno and keeps its
# value; nobody but root may write; statistics are world-readable.
set -eu
. "$(dirname "$0")/../guest-lib.sh"

declare -A bad
bad[enabled]='2|-1|yes|1 1|01x| 1'
bad[policy]='busy|Idle|adaptive adaptive|poll,idle|timeout2|EMPTY'
bad[stages]='0|9|-1|3.0|x|99999999999999999999'
bad[poll_window_ns]='-5|1000000001|1e6|0x10|50 000|18446744073709551616'
bad[backlog_threshold]='-1|65537|one|4 4'
bad[burst_gap_ns]='-1|1000000001|20us|2 0|EMPTY'
bad[queue_len]='0|65537|-1|1k|EMPTY'
bad[hook]='forward|PREROUTING|local_out|prerouting local_in|EMPTY'
bad[match]='udp|udp dport|udp dport 9100-9000|udp dport 70000|icmp dport 1|udp sport 5|all x|tcp dport -1'
bad[rules]='udp dport 9000|all frobnicate|all mark|all mark x|all drop extra|udp dport 70000 drop|all mark 4294967296'
bad[stage0/cpus]='EMPTY|64|0-64|3-1|a|0,,1|-1'
bad[stage0/ops]='parse,|bogus|parse rules|none,parse|PARSE'
bad[stage0/work_ns]='-1|1000001|1us|x'
bad[netns]='INIT|host|all all|EMPTY'
bad[netns_quota]='0|1048577|-1|x'
bad[max_held_packets]='0|1048577|1k'
bad[max_held_bytes]='0|4294967297|64M'

total=0
for attr in "${!bad[@]}"; do
	# Bash reads files itself ($(<f)): no process per read, which is slow in the VM.
	before=$(<"$SYSFS/$attr")
	n=0
	IFS='|' read -ra values <<<"${bad[$attr]}"
	for v in "${values[@]}"; do
		# EMPTY stands for an empty line (which "rules" accepts: it empties the table).
		[ "$v" = EMPTY ] && v=
		if printf '%s\n' "$v" >"$SYSFS/$attr" 2>/dev/null; then
			echo "$attr accepted '$v'"
			exit 1
		fi
		after=$(<"$SYSFS/$attr")
		if [ "$after" != "$before" ]; then
			echo "$attr changed from '$before' to '$after' on a refused write of '$v'"
			exit 1
		fi
		n=$((n + 1))
	done
	echo "$attr: $n malformed writes refused, value unchanged"
	total=$((total + n))
done
echo "total: $total malformed writes"

# Permissions: root writes, nobody reads statistics and settings but writes nothing.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "$1"; }
as_nobody "cat $SYSFS/stats/entered $SYSFS/policy $SYSFS/stage0/cpus >/dev/null"
for f in enabled policy stages match rules stage0/cpus stats/reset; do
	if as_nobody "echo 1 >$SYSFS/$f" 2>/dev/null; then
		echo "nobody could write $f"
		exit 1
	fi
done
[ "$(stat -c %a $SYSFS/stats/reset)" = 200 ]
[ "$(stat -c %a $SYSFS/policy)" = 644 ]
[ "$(stat -c %a $SYSFS/stats/entered)" = 444 ]
echo "permissions: root-only writes, world-readable statistics"
