#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make selftests`: runs the kernel's netfilter selftests and a few bridge and
# VRF ones (the lists are in selftests-lib.sh) in the test VM three times:
# vigil loaded but off, on at prerouting, on at local_in (match all, every
# namespace). Prints a table, one row per test and one column per run, and
# writes it to Documentation/selftests.rst. Exits 1 if a test that passes with
# vigil off does not pass with it on, or a run did not complete.
#
#   selftests.sh [--prepare] [--runs "off prerouting local_in"] [--all]
#                [--tests "TEST..."] [--timeout SECS] [--budget SECS]
#
# --prepare   only install the packages and build the tests' C helpers into
#             $VIGIL_CACHE/selftests (what the guest side needs; `make check`'s
#             integration/kernel-selftests.sh uses them), print the folder.
# --all       also run the tests left out (for their time, or as unreliable).
# --tests     run these (paths under tools/testing/selftests/net/) instead.
# --timeout   seconds per test (default $VIGIL_SELFTEST_TIMEOUT); --budget:
#             seconds per run after which the remaining tests are not started
#             (0: none; default 480, or $VIGIL_SELFTEST_BUDGET_RUN).
# Only a run of the default lists in all three settings rewrites
# Documentation/selftests.rst; every run writes out/selftests/selftests.rst.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/selftests-lib.sh"
cd "$VIGIL_ROOT"

args=$*
prepare_only=0 all=0 tests=() runs=(off prerouting local_in) custom=0
# 3 runs of 480 s, each with its boot, fit in 30 minutes on 2 cores under TCG.
budget=${VIGIL_SELFTEST_BUDGET_RUN:-480}
while [ $# -gt 0 ]; do
	case $1 in
	--prepare) prepare_only=1; shift ;;
	--all) all=1 custom=1; shift ;;
	--tests) read -r -a tests <<<"$2"; custom=1; shift 2 ;;
	--runs) read -r -a runs <<<"$2"; custom=1; shift 2 ;;
	--timeout) VIGIL_SELFTEST_TIMEOUT=$2; shift 2 ;;
	--budget) budget=$2; shift 2 ;;
	*) vigil_die "selftests.sh: unknown argument $1" ;;
	esac
done
[ "${runs[*]}" = "off prerouting local_in" ] || custom=1
start=$(date +%s)

tools/testing/setup.sh --variant debug --selftests
kdir=$(vigil_kdir debug)
[ -d "$kdir/source/tools/testing/selftests/net/netfilter" ] || vigil_die "no selftests in $kdir/source"
dir=$(vigil_selftests_prepare "$kdir") || vigil_die "building the selftests' helpers failed"
if [ $prepare_only = 1 ]; then
	echo "$dir"
	exit 0
fi
out=$VIGIL_ROOT/out/selftests
rm -rf "$out"
mkdir -p "$out/module"

# The module builds in its own folder, from the working tree as it is now: the
# runs take a while, and a build in the repository meanwhile must not change it.
cp -r Kbuild rust "$out/module/"
rm -f "$out/module/rust/"*.o "$out/module/rust/kernel/"*.o "$out/module/rust/kernel/vigil_bindings_generated.rs"
make -s -C "$kdir" M="$out/module" "${VIGIL_KMAKE_VARS[@]}" modules
ko=$out/module/vigil.ko

if [ ${#tests[@]} = 0 ]; then
	tests=("${VIGIL_SELFTESTS[@]%% *}")
	[ $all = 0 ] || tests+=("${VIGIL_SELFTESTS_LEFT_OUT[@]%% *}")
fi
# One boot per run: a crash or a splat stays with the run that caused it.
# The guest's clock bounds the run (--budget); the VM's own limit is a backstop.
if [ "$budget" = 0 ]; then
	vm_timeout=$((${#tests[@]} * (VIGIL_SELFTEST_TIMEOUT + 20) + 300))
else
	vm_timeout=$((budget + VIGIL_SELFTEST_TIMEOUT + 300))
fi
for mode in "${runs[@]}"; do
	vigil_log "selftests: run '$mode' (${#tests[@]} tests) [+$(($(date +%s) - start))s]"
	set +e
	tools/testing/vm.sh --cpus 2 --mem 2048 --timeout "$vm_timeout" \
		--run-dir "$out/vm-$mode" -- env VIGIL_SELFTEST_TIMEOUT="$VIGIL_SELFTEST_TIMEOUT" \
		VIGIL_SELFTEST_BUDGET="$budget" \
		"$VIGIL_ROOT/tools/testing/guest-selftests.sh" "$mode" "$ko" "$out/$mode" "${tests[@]}" \
		2>"$out/vm-$mode.err"
	echo $? >"$out/$mode.vmrc"
	set -e
	cat "$out/vm-$mode.err" >&2
done
elapsed=$(($(date +%s) - start))

# cell MODE TEST [FIELD]: a test's result in a run (FIELD 2), or another field
# of its results.tsv line (3 seconds, 5 packets vigil took in).
cell() {
	local v
	v=$(awk -v t="$2" -v f="${3:-2}" '$1 == t { v = $f } END { print v }' \
		"$out/$1/results.tsv" 2>/dev/null)
	echo "${v:-notrun}"
}
label() {
	case $1 in
	timeout) echo "fail (timeout)" ;;
	notrun) echo "not run" ;;
	*) echo "$1" ;;
	esac
}

# Plain table on the terminal.
width=10
for t in "${tests[@]}"; do [ ${#t} -lt $width ] || width=$((${#t} + 1)); done
printf "%-${width}s" test
printf ' %-15s' "${runs[@]}"
echo
regressions=()
for t in "${tests[@]}"; do
	printf "%-${width}s" "$t"
	for m in "${runs[@]}"; do
		printf ' %-15s' "$(label "$(cell "$m" "$t")")"
		if [ "$m" != off ] && [ "$(cell off "$t")" = pass ] && [ "$(cell "$m" "$t")" != pass ]; then
			regressions+=("$t ($m)")
		fi
	done
	echo
done
incomplete=()
for m in "${runs[@]}"; do
	rc=$(cat "$out/$m.vmrc")
	[ "$rc" = 0 ] || incomplete+=("$m: vm.sh exit $rc")
done
echo "took ${elapsed}s"

# rst_table HEADER... -- ROW-CELLS...: a reStructuredText simple table; the
# rows come as consecutive cells, as many per row as there are headers.
rst_table() {
	local heads=() cells=() w=() i n line=
	while [ "$1" != -- ]; do heads+=("$1"); shift; done
	shift
	cells=("$@")
	n=${#heads[@]}
	for i in "${!heads[@]}"; do w[i]=${#heads[i]}; done
	for i in "${!cells[@]}"; do
		[ ${#cells[i]} -le ${w[i % n]} ] || w[i % n]=${#cells[i]}
	done
	for i in "${!heads[@]}"; do line+=$(printf '%*s' "${w[i]}" '' | tr ' ' '=')' '; done
	line=${line% }
	echo "$line"
	{
		for i in "${!heads[@]}"; do printf "%-${w[i]}s " "${heads[i]}"; done
		echo
	} | sed 's/ *$//'
	echo "$line"
	for i in "${!cells[@]}"; do
		printf "%-${w[i % n]}s " "${cells[i]}"
		[ $((i % n)) != $((n - 1)) ] || echo
	done | sed 's/ *$//'
	echo "$line"
}

accel=tcg
grep -q kvm "$VIGIL_CACHE"/kvm-probe-* 2>/dev/null && accel=kvm
doc=$out/selftests.rst
command="make selftests"
[ $custom = 0 ] || command="tools/testing/selftests.sh $args"
{
	title="Kernel selftests with vigil"
	echo ".. SPDX-License-Identifier: GPL-2.0"
	echo
	echo "${title//?/=}"
	echo "$title"
	echo "${title//?/=}"
	echo
	echo "\`\`make selftests\`\` (\`\`tools/testing/selftests.sh\`\`) runs the kernel's own"
	echo "netfilter selftests (\`\`tools/testing/selftests/net/netfilter/\`\`) and a few bridge and"
	echo "VRF ones from \`\`tools/testing/selftests/net/\`\` in the test VM, three times: with"
	echo "vigil loaded but off (\`\`enabled 0\`\`), and on with \`\`match all\`\` at hook"
	echo "\`\`prerouting\`\`, then at \`\`local_in\`\` (\`\`netns all\`\` where the module has that"
	echo "setting, since every test makes its own namespaces). One boot per run. A test passes"
	echo "on exit status 0, skips on 4 (kselftest's codes), fails otherwise or when killed"
	echo "after three times its time with vigil off (at least 60 s, at most"
	echo "${VIGIL_SELFTEST_TIMEOUT} s); a run stops starting tests after ${budget} s (\"not run\")."
	echo "The lists are in \`\`tools/testing/selftests-lib.sh\`\`;"
	echo "\`\`make check\`\` runs a few of them with vigil on (\`\`integration/kernel-selftests.sh\`\`)."
	echo
	echo "- Command: \`\`$command\`\`, on $(date -u '+%Y-%m-%d %H:%M UTC'), in ${elapsed} s."
	echo "- Kernel: Linux $(make -s -C "$kdir" kernelversion 2>/dev/null), the debug test kernel"
	echo "  (KASAN, lockdep, kmemleak; netfilter, bridge and VRF built in), QEMU $accel, 2 vCPUs,"
	echo "  2 GiB, on a $(nproc)-core host. Tests run with \`\`KSFT_MACHINE_SLOW=yes\`\`."
	echo "- vigil: $(git describe --always --dirty 2>/dev/null || echo unknown) (the working tree)."
	echo "- Tools: $(nft --version 2>/dev/null | head -n 1), $(iptables -V 2>/dev/null), Debian $(cat /etc/debian_version)."
	echo
	echo "Results"
	echo "======="
	echo
	cells=()
	for t in "${tests[@]}"; do
		cells+=("$t")
		for m in "${runs[@]}"; do cells+=("$(label "$(cell "$m" "$t")")"); done
	done
	rst_table test "${runs[@]}" -- "${cells[@]}"
	echo
	if [ ${#regressions[@]} = 0 ]; then
		[ "${runs[*]}" = off ] || echo "Every test that passes with vigil off passes with it on."
	else
		echo "Passing with vigil off but not on:"
		echo
		printf -- '- %s\n' "${regressions[@]}"
	fi
	echo
	if [ ${#incomplete[@]} != 0 ]; then
		echo "Runs whose VM did not end cleanly (124: out of time, 125: crash, 126: the"
		echo "kernel log has a splat; \`\`out/selftests/vm-RUN/dmesg\`\`):"
		echo
		printf -- '- %s\n' "${incomplete[@]}"
		echo
	fi
	echo "Seconds per test, and packets vigil's pipeline took in (\`\`stats/entered\`\`) during it:"
	echo
	cells=()
	for t in "${tests[@]}"; do
		cells+=("$t")
		for m in "${runs[@]}"; do
			if [ "$(cell "$m" "$t" 5)" = - ] || [ "$m" = off ]; then
				cells+=("$(cell "$m" "$t" 3)")
			else
				cells+=("$(cell "$m" "$t" 3) / $(cell "$m" "$t" 5)")
			fi
		done
	done
	rst_table test "${runs[@]}" -- "${cells[@]}"
	echo
	echo "Counters after each run:"
	echo
	for m in "${runs[@]}"; do
		echo "- $m: $(sed -nE 's/^stats\/(entered|delivered|dropped): ([0-9]+) *$/\1 \2/p' \
			"$out/$m/vigil.txt" 2>/dev/null | paste -sd, | sed 's/,/, /g')"
	done
	echo
	if [ ${#VIGIL_SELFTESTS_LEFT_OUT[@]} != 0 ]; then
		echo "Left out"
		echo "========"
		echo
		echo "Each of the netfilter selftests not in the table above was timed once in the same VM"
		echo "with vigil off, mostly while the machine was busy with other work too (the tests"
		echo "above took up to twice their time then). Together they would not fit in the 30"
		echo "minutes of three runs, or they are unreliable under TCG (\`\`selftests.sh --all\`\`"
		echo "runs them too). Seconds (300+: killed at 300 s):"
		echo
		for s in "${VIGIL_SELFTESTS_LEFT_OUT[@]}"; do
			note=
			[ -z "${VIGIL_SELFTEST_NOTES[${s%% *}]:-}" ] || note=" (see below)"
			echo "- \`\`${s%% *}\`\`: ${s#* }$note"
		done
		echo
	fi
	title="What cannot pass in the VM with vigil off"
	echo "$title"
	echo "${title//?/=}"
	echo
	echo "These skip or fail without vigil doing anything; the reasons come from their output"
	echo "(\`\`out/selftests/off/TEST.log\`\`). Those left out were seen in their timing run."
	echo
	for t in "${tests[@]}" "${VIGIL_SELFTESTS_LEFT_OUT[@]%% *}"; do
		r=$(cell off "$t")
		case $r in
		pass) continue ;;
		notrun) [ -n "${VIGIL_SELFTEST_NOTES[$t]:-}" ] || continue; r="left out" ;;
		esac
		echo "\`\`$t\`\`: $(label "$r")"
		echo "${t//?/-}------$(label "$r" | tr -c '\n' -)"
		echo
		echo "${VIGIL_SELFTEST_NOTES[$t]:-No note yet: see its log.}"
		echo
	done
} >"$doc"
if [ $custom = 0 ]; then
	cp "$doc" Documentation/selftests.rst
	vigil_log "selftests: wrote Documentation/selftests.rst"
else
	vigil_log "selftests: wrote $doc"
fi
[ ${#regressions[@]} = 0 ] && [ ${#incomplete[@]} = 0 ]
