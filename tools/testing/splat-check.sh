#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# splat-check.sh DMESG [KMEMLEAK]: prints the splats in a guest's kernel log
# and its kmemleak report, and fails if there are any.
set -uo pipefail
dmesg=$1
leaks=${2:-}

# What the debug kernel prints when something is wrong: WARN, BUG and Oops,
# KASAN, lockdep, sleeping in atomic context, RCU stalls, list corruption.
pattern='WARNING:|BUG:|Oops|kernel BUG|KASAN|general protection fault|'
pattern+='possible circular locking|possible recursive locking|inconsistent lock state|'
pattern+='suspicious RCU usage|rcu_sched detected stalls|rcu: INFO|'
pattern+='sleeping function called from invalid context|list_add corruption|list_del corruption|'
pattern+='Kernel panic|unreferenced object'

found=0
if [ -r "$dmesg" ] && grep -E -n "$pattern" "$dmesg" >/tmp/splat.$$; then
	echo "splat in the kernel log ($dmesg):"
	head -n 40 /tmp/splat.$$
	found=1
fi
rm -f /tmp/splat.$$
if [ -n "$leaks" ] && [ -s "$leaks" ]; then
	echo "kmemleak reports leaks ($leaks):"
	head -n 40 "$leaks"
	found=1
fi
exit $found
