#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the test kernel in QEMU, runs COMMAND as root inside, prints its output,
# powers the VM off and exits with COMMAND's status.
#
#   vm.sh [--cpus N] [--mem MiB] [--variant debug|bench] [--timeout SECS]
#         [--kernel BZIMAGE] [--allow-splat] [--run-dir DIR] [--qmp PATH] -- COMMAND...
#
# The guest sees the host's root file system read-only through virtio-9p, with
# fresh tmpfs on /tmp and /run, and this repository writable at its own path:
# vigil.ko, the project's tools and the host's programs are all reachable.
#
# Exit status: COMMAND's; 124 if the VM ran out of time; 125 if it never
# reported a status (crash, panic); 126 if COMMAND passed but the kernel log
# has a splat (WARN, BUG, Oops, KASAN, lockdep, kmemleak), unless --allow-splat.
# Each run has its own folder, $VIGIL_CACHE/vm-runs/RUN (the newest ten are kept),
# so that VMs may run side by side; $VIGIL_CACHE/vm-last links to the newest.
# The guest's kernel log is kept there as dmesg. --run-dir DIR names the folder.
# --qmp PATH opens a QMP socket at PATH (for the benchmark, which pins the vCPUs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cpus=2 mem=512 variant=debug timeout=1800 kernel= allow_splat=0 run= qmp=
while [ $# -gt 0 ]; do
	case $1 in
	--cpus) cpus=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--variant) variant=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--allow-splat) allow_splat=1; shift ;;
	--run-dir) run=$2; shift 2 ;;
	--qmp) qmp=$2; shift 2 ;;
	--) shift; break ;;
	*) vigil_die "vm.sh: unknown argument $1 (usage: vm.sh [options] -- COMMAND...)" ;;
	esac
done
[ $# -gt 0 ] || vigil_die "vm.sh: no COMMAND (usage: vm.sh [options] -- COMMAND...)"
[ -n "$kernel" ] || kernel=$(vigil_kdir "$variant")/arch/x86/boot/bzImage
[ -r "$kernel" ] || vigil_die "no kernel image at $kernel"
command -v qemu-system-x86_64 >/dev/null || vigil_die "qemu-system-x86_64 missing: run tools/testing/setup.sh"

# The initramfs only mounts the host's files and runs guest-init.sh: build it
# once per content of that script and of busybox.
initramfs() {
	local init=$VIGIL_ROOT/tools/testing/guest-init.sh key out dir
	key=$(cat "$init" /bin/busybox | sha256sum | cut -c1-16)
	out=$VIGIL_CACHE/initramfs-$key.cpio.gz
	if [ ! -e "$out" ]; then
		dir=$(mktemp -d)
		mkdir -p "$dir"/{bin,dev,proc,sys,host}
		cp /bin/busybox "$dir/bin/busybox"
		cp "$init" "$dir/init"
		chmod +x "$dir/init"
		(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
		mv "$out.tmp" "$out"
		rm -rf "$dir"
	fi
	echo "$out"
}

# KVM only if it really boots: under nested virtualisation here `-cpu host`
# aborts and other models hang. A short bounded probe, remembered per host boot.
accel_args() {
	local probe=$VIGIL_CACHE/kvm-probe-$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo x)
	if [ ! -e "$probe" ]; then
		local result=tcg
		if [ -w /dev/kvm ]; then
			local log
			log=$(timeout 30 qemu-system-x86_64 -enable-kvm -cpu host -m 256 -smp 1 \
				-kernel "$kernel" -initrd "$1" -display none -serial stdio -monitor none \
				-no-reboot -append "console=ttyS0 panic=-1 vigil_probe=1" 2>&1 </dev/null || true)
			if grep -q 'vigil-probe-ok' <<<"$log"; then
				result=kvm
			fi
		fi
		echo "$result" >"$probe"
	fi
	if [ "$(cat "$probe")" = kvm ]; then
		echo "-enable-kvm -cpu host"
	else
		echo "-accel tcg -cpu max,la57=off"
	fi
}

rd=$(initramfs)
accel=$(accel_args "$rd")
if [ -z "$run" ]; then
	mkdir -p "$VIGIL_CACHE/vm-runs"
	# shellcheck disable=SC2012 # names are ours: date and random suffix
	{ ls -1dt "$VIGIL_CACHE"/vm-runs/*/ 2>/dev/null || true; } | tail -n +10 | xargs -r rm -rf
	run=$(mktemp -d "$VIGIL_CACHE/vm-runs/$(date +%Y%m%d-%H%M%S)-XXXX")
	ln -sfn "$run" "$VIGIL_CACHE/vm-last"
else
	rm -rf "$run"
	mkdir -p "$run"
	run=$(cd "$run" && pwd)
fi
{
	printf 'export VIGIL_CACHE=%q CARGO_TARGET_DIR=%q\n' "$VIGIL_CACHE" "$CARGO_TARGET_DIR"
	printf 'cd %q\n' "$PWD"
	printf '%q ' "$@"
	printf '\n'
} >"$run/cmd.sh"

boot() {
	rm -f "$run/status" "$run/dmesg" "$run/kmemleak"
	# shellcheck disable=SC2086 # $accel is a list of options
	timeout --foreground "$timeout" qemu-system-x86_64 $accel -smp "$cpus" -m "$mem" \
		-kernel "$kernel" -initrd "$rd" \
		-display none -monitor none -serial stdio -no-reboot \
		${qmp:+-qmp "unix:$qmp,server=on,wait=off"} \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$VIGIL_ROOT,mount_tag=repo,security_model=none,multidevs=remap" \
		-virtfs "local,path=$run,mount_tag=run,security_model=none,multidevs=remap" \
		-append "console=ttyS0 quiet panic=-1 oops=panic kmemleak=on vigil_repo=$VIGIL_ROOT vigil_run=$run" \
		</dev/null
}

# Under TCG the debug kernel now and then takes an early interrupt that KASAN
# reports during boot, before anything of ours runs (and lockdep then turns
# itself off). Such a boot is not a test: boot again, a bounded number of times.
#
# QEMU 7.2's multi-threaded TCG now and then aborts on its own assertion
# (iotlb_to_section, a race in its memory map) with several vCPUs: that run
# never finished, so it is run again from a fresh boot, a bounded number of times.
set +e
for attempt in 1 2 3; do
	boot
	qrc=$?
	if [ $qrc = 134 ] && [ ! -e "$run/status" ]; then
		vigil_log "vm.sh: QEMU aborted (attempt $attempt); booting again"
		continue
	fi
	[ "$(cat "$run/status" 2>/dev/null)" = boot-splat ] || break
	vigil_log "vm.sh: splat during boot (attempt $attempt), before COMMAND ran; booting again"
	grep -E -m 3 'BUG:|WARNING:' "$run/dmesg" >&2
done
set -e
if [ "$(cat "$run/status" 2>/dev/null)" = boot-splat ]; then
	vigil_log "vm.sh: every boot had a splat before COMMAND ran (log: $run/dmesg)"
	exit 125
fi

if [ $qrc = 124 ]; then
	vigil_log "vm.sh: the VM ran out of its ${timeout}s"
	exit 124
fi
if [ ! -r "$run/status" ]; then
	vigil_log "vm.sh: the guest reported no status (qemu exit $qrc); kernel log in $run/dmesg if any"
	exit 125
fi
status=$(cat "$run/status")
if splats=$("$VIGIL_ROOT/tools/testing/splat-check.sh" "$run/dmesg" "$run/kmemleak"); then
	:
else
	printf '%s\n' "$splats" >&2
	if [ "$allow_splat" = 0 ] && [ "$status" = 0 ]; then
		vigil_log "vm.sh: COMMAND passed but the kernel log has a splat (full log: $run/dmesg)"
		exit 126
	fi
fi
exit "$status"
