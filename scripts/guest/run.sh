#!/bin/sh
# PID 1 of the guest once the overlay root is up. Reads the job the host
# wrote into the shared run directory (/run/cmr), prepares the requested rxe
# set-up, runs the job, records dmesg and powers off. Lines for the host's
# live view are printed to the console prefixed with "CMR| ".
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

# The guest's /tmp is its own; the host's stays reachable under
# /run/host-tmp for a project tree that lives there (see below).
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/host-tmp && mount --bind /tmp /run/host-tmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/cmr /run/netns /dev/pts /dev/shm /dev/hugepages
mount -t devpts devpts /dev/pts
# devtmpfs has no /dev/fd: bash's process substitution needs it.
ln -sfn /proc/self/fd /dev/fd
mount -t tmpfs tmpfs /dev/shm
mount -t hugetlbfs hugetlbfs /dev/hugepages
mount -t debugfs debugfs /sys/kernel/debug
# cgroup v2 with the controllers the accounting tests use.
mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
	echo "+memory +cpuset" >/sys/fs/cgroup/cgroup.subtree_control

# Powers off without returning. PID 1 must neither exit (panic) nor run
# anything from the 9p root while the devices shut down (its pages would
# fault in from a gone virtio device: SIGBUS, then a panic): busybox's
# poweroff -f is the reboot(2) system call itself, which does not return.
cmr_poweroff() {
	sync
	exec /usr/bin/busybox poweroff -f
}

# A job that cannot even start powers off instead.
cmr_abort() {
	echo "CMR| guest runner: $*" >/dev/console
	cmr_poweroff
}

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 cmrrun /run/cmr ||
	cmr_abort "cannot mount the run directory"
[ -r /run/cmr/job.env ] || cmr_abort "no job.env in the run directory"
. /run/cmr/job.env
# A tree under the host's /tmp (a clone in /tmp/x) is hidden by the guest's
# own /tmp: put its top directory back at the same path.
for dir in "$CMR_ROOT" "${CMR_BUILD:-}"; do
	case $dir in
	/tmp/?*)
		top=${dir#/tmp/} && top=${top%%/*}
		[ -d "/tmp/$top" ] && continue
		mkdir -p "/tmp/$top" && mount --bind "/run/host-tmp/$top" "/tmp/$top" ||
			cmr_abort "cannot make /tmp/$top visible in the guest"
		;;
	esac
done
for part in setup jobs; do
	[ -r "$CMR_ROOT/scripts/guest/$part.sh" ] || cmr_abort "no $CMR_ROOT/scripts/guest/$part.sh"
	. "$CMR_ROOT/scripts/guest/$part.sh"
done
cd "$CMR_ROOT" || cmr_abort "no $CMR_ROOT"

hostname contig-mr-guest
ip link set lo up
# Forget what kmemleak suspects from boot: only leaks the job makes count.
cmr_kmemleak_on && echo clear >/sys/kernel/debug/kmemleak

if cmr_setup "$CMR_SETUP" >/run/cmr/setup.log 2>&1; then
	"cmr_job_$CMR_JOB"
else
	echo "CMR| rxe set-up '$CMR_SETUP' failed:" >/dev/console
	sed 's/^/CMR|   /' /run/cmr/setup.log >/dev/console
	echo 1 >/run/cmr/rc
fi

cmr_finish
