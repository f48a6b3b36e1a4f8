#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of vigil's test VM (see vm.sh): mounts the host's files, runs the
# command vm.sh left in the run folder, saves its status and the kernel log
# there, and powers off.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }

if [ "$(arg vigil_probe)" = 1 ]; then
	echo vigil-probe-ok
	poweroff -f
fi

repo=$(arg vigil_repo)
run=$(arg vigil_run)
p9="trans=virtio,version=9p2000.L,msize=524288,cache=loose"

mount -t 9p -o "$p9,ro" hostroot /host
mount -t tmpfs tmp /host/tmp
mount -t tmpfs run /host/run
mount -t tmpfs tmp /host/var/tmp 2>/dev/null
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
mount -t debugfs debugfs /host/sys/kernel/debug
mkdir -p "/host$repo" "/host$run"
mount -t 9p -o "trans=virtio,version=9p2000.L,msize=524288" repo "/host$repo"
mount -t 9p -o "trans=virtio,version=9p2000.L,msize=524288" run "/host$run"

# A splat before the command ran is not the command's doing, but it leaves the
# kernel tainted (lockdep switches itself off): report it, and vm.sh boots again.
if dmesg | grep -qE 'BUG:|WARNING:|Oops|Disabling lock debugging'; then
	dmesg >"/host$run/dmesg"
	echo boot-splat >"/host$run/status"
	sync
	poweroff -f
fi

leaks=/host/sys/kernel/debug/kmemleak
# Leaks from boot are not ours: forget them before the command runs.
[ -w $leaks ] && echo clear >$leaks

# cmd.sh is written with bash's printf %q, which only bash reads back.
chroot /host /bin/bash -c "
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/root TERM=dumb VIGIL_IN_VM=1
	ip link set lo up
	. '$run/cmd.sh'
" </dev/console >/dev/console 2>&1
status=$?

if [ -w $leaks ]; then
	# One scan reports the unreferenced objects older than kmemleak's minimum
	# age (5 s): wait that long, so that the command's last frees count.
	sleep 5
	echo scan >$leaks
	cat $leaks >"/host$run/kmemleak" 2>/dev/null
fi
dmesg >"/host$run/dmesg"
echo $status >"/host$run/status"
sync
umount "/host$run" "/host$repo" 2>/dev/null
poweroff -f
