# Booting the guest and running one job in it.
# shellcheck shell=bash
#
# The guest's root is the host's / (9p, read-only) under a tmpfs overlay, so
# every host binary and the build tree run in it unchanged. A second 9p
# export, the run directory (build/vm/run-*), carries the job in and the
# results out. The console goes to run-*/console.log; lines the guest prints
# with "CMR| " are shown live. A watchdog ends a hung guest, and a guest
# that never reports completion (panic, oops) fails the run with the tail
# of its console.

# VM options, set by the command line (see ./contig-mr vm --help).
CMR_VM_MEM=${CMR_VM_MEM:-4G}
CMR_VM_CPUS=${CMR_VM_CPUS:-2}
CMR_VM_NUMA=${CMR_VM_NUMA:-1}
CMR_VM_ACCEL=${CMR_VM_ACCEL:-tcg}
CMR_VM_KERNEL=${CMR_VM_KERNEL:-}
CMR_VM_TIMEOUT=${CMR_VM_TIMEOUT:-900}
CMR_VM_SETUP=${CMR_VM_SETUP:-none}

vm_initramfs() {
	local img=$CMR_VMDIR/initramfs.cpio.gz stage
	local init=$CMR_ROOT/scripts/guest/init
	[ -f "$img" ] && [ "$img" -nt "$init" ] && [ "$img" -nt /usr/bin/busybox ] && return 0
	mkdir -p "$CMR_VMDIR"
	stage=$(mktemp -d)
	mkdir -p "$stage/bin"
	cp /usr/bin/busybox "$stage/bin/busybox"
	cp "$init" "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$img.tmp" ||
		die "cannot build the initramfs"
	mv "$img.tmp" "$img"
	rm -rf "$stage"
}

# QEMU's memory and NUMA options: N nodes share the memory equally, one
# CPU range each.
vm_memory_args() {
	local n=$CMR_VM_NUMA mib i cpus_per
	case $CMR_VM_MEM in
	*G) mib=$((${CMR_VM_MEM%G} * 1024)) ;;
	*M) mib=${CMR_VM_MEM%M} ;;
	*) die "--mem takes a size like 4G or 512M, not $CMR_VM_MEM" ;;
	esac
	echo "-m ${mib}M"
	[ "$n" -le 1 ] && return 0
	[ "$CMR_VM_CPUS" -ge "$n" ] || die "--numa $n needs at least $n CPUs"
	cpus_per=$((CMR_VM_CPUS / n))
	for ((i = 0; i < n; i++)); do
		echo "-object memory-backend-ram,id=m$i,size=$((mib / n))M"
		echo "-numa node,nodeid=$i,memdev=m$i,cpus=$((i * cpus_per))-$(((i + 1) * cpus_per - 1))"
	done
}

# QEMU's CPU topology. With N NUMA nodes each node is a socket of its own:
# QEMU's default puts all CPUs as cores of one socket, which share a
# last-level cache, and splitting those over nodes makes the guest kernel
# WARN in topology_sane() at boot.
vm_smp_args() {
	local n=$CMR_VM_NUMA
	if [ "$n" -le 1 ]; then
		echo "-smp $CMR_VM_CPUS"
		return 0
	fi
	[ $((CMR_VM_CPUS % n)) -eq 0 ] ||
		die "--numa $n needs a number of CPUs divisible by $n"
	echo "-smp $CMR_VM_CPUS,sockets=$n,cores=$((CMR_VM_CPUS / n)),threads=1"
}

# Escapes single quotes for a single-quoted shell word.
vm_quote() { printf '%s' "${1//\'/\'\\\'\'}"; }

# vm_run JOB RUNDIR: boots, waits, prints the console tail on trouble.
# Sets VM_RC to the job's status (rc file), or 124 on timeout, 125 when the
# guest died before finishing.
vm_run() {
	local job=$1 run=$2 kernel accel qpid tpid start rc
	kernel=${CMR_VM_KERNEL:-$(kernel_image)}
	[ -f "$kernel" ] || die "no guest kernel at $kernel (run ./contig-mr build)"
	vm_initramfs
	case $CMR_VM_ACCEL in
	tcg) accel="-accel tcg,thread=multi -cpu max" ;;
	kvm) accel="-accel kvm -cpu host" ;;
	*) die "unknown accelerator $CMR_VM_ACCEL" ;;
	esac
	# The project's own kernels have the series, but for the stock flavour:
	# tests that would skip on a kernel without it (--kernel PATH) fail on
	# these instead.
	local require=0 kb
	kb=$(realpath "$CMR_KBUILD")
	case $(realpath "$kernel") in
	"$kb/bzImage-stock") ;;
	"$kb/bzImage" | "$kb"/bzImage-*) require=1 ;;
	esac
	cat >"$run/job.env" <<-ENV
		CMR_ROOT='$CMR_ROOT'
		CMR_JOB='$job'
		CMR_SETUP='$CMR_VM_SETUP'
		CMR_COMMAND='$(vm_quote "${CMR_VM_COMMAND:-}")'
		CMR_LIST='${CMR_VM_LIST:-}'
		CMR_ONLY='${CMR_VM_ONLY:-}'
		export CMR_ROOT CMR_BUILD='$CMR_BUILD' CMR_REQUIRE='$require'
	ENV
	local console=(-serial "file:$run/console.log")
	[ "$job" = shell ] && console=(-serial mon:stdio)
	# acpi=noirq: with kmemleak on, evaluating the PCI interrupt routing
	# (_PRT) in ACPI's interpreter under TCG exceeds its 30 s loop limit and
	# virtio gets no interrupt; the MP table routes the same interrupts.
	# rcu_cpu_stall_timeout=60 (default 21): under TCG a vCPU thread that the
	# host leaves waiting looks to the guest like a CPU stuck in the kernel;
	# a real lock-up still trips the detector, after 60 s.
	# shellcheck disable=SC2046 # word splitting of the option lists is wanted
	qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
		$accel $(vm_smp_args) $(vm_memory_args) \
		-kernel "$kernel" -initrd "$CMR_VMDIR/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 oops=panic acpi=noirq rcupdate.rcu_cpu_stall_timeout=60 loglevel=5 ${CMR_VM_APPEND:-} cmr_runner=$CMR_ROOT/scripts/guest/run.sh" \
		"${console[@]}" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$run,mount_tag=cmrrun,security_model=none" \
		>"$run/qemu.log" 2>&1 &
	qpid=$!
	if [ "$job" = shell ]; then
		wait "$qpid"
		VM_RC=0
		return
	fi
	: >>"$run/console.log"
	tail -n +1 -F --pid="$qpid" "$run/console.log" 2>/dev/null |
		sed -un 's/\r$//; s/^CMR| //p' &
	tpid=$!
	start=$(now)
	while kill -0 "$qpid" 2>/dev/null; do
		if [ $(($(now) - start)) -ge "$CMR_VM_TIMEOUT" ]; then
			kill "$qpid" 2>/dev/null
			wait "$qpid" 2>/dev/null
			wait "$tpid" 2>/dev/null
			say "guest timed out after $CMR_VM_TIMEOUT s; console tail ($run/console.log):"
			tail -n 40 "$run/console.log" | tr -d '\r' >&2
			VM_RC=124
			return
		fi
		sleep 1
	done
	wait "$qpid"
	rc=$?
	wait "$tpid" 2>/dev/null
	if [ ! -f "$run/done" ]; then
		say "guest stopped before finishing (QEMU status $rc); console tail ($run/console.log):"
		tail -n 40 "$run/console.log" | tr -d '\r' >&2
		[ -s "$run/qemu.log" ] && cat "$run/qemu.log" >&2
		VM_RC=125
		return
	fi
	VM_RC=$(cat "$run/rc" 2>/dev/null || echo 1)
}

# Fails (returns 1, prints the hits) when the console log or the guest's
# final dmesg holds a kernel bug report.
vm_scan_logs() {
	local run=$1 f bad=0
	for f in "$run/console.log" "$run/dmesg"; do
		[ -f "$f" ] || continue
		if ! tr -d '\r' <"$f" | "$CMR_ROOT/scripts/dmesg-scan.sh" - >"$f.hits"; then
			say "kernel bug reports in $f:"
			cat "$f.hits" >&2
			bad=1
		fi
	done
	return $bad
}

vm_new_rundir() {
	local run
	mkdir -p "$CMR_VMDIR"
	run=$(mktemp -d "$CMR_VMDIR/run-$(date +%Y%m%d-%H%M%S)-XXXX")
	ln -sfn "$(basename "$run")" "$CMR_VMDIR/last-$1"
	echo "$run"
}

# vm_command CMD...: the `vm` subcommand. Status: the command's, or non-zero
# for a guest failure or a dmesg hit. VM_RUNDIR: the run's directory (the
# last-cmd link is shared with every other guest started on this tree).
vm_command() {
	VM_RUNDIR=$(vm_new_rundir cmd)
	CMR_VM_COMMAND="$*"
	vm_run cmd "$VM_RUNDIR"
	vm_scan_logs "$VM_RUNDIR" || { [ "$VM_RC" = 0 ] && VM_RC=1; }
	return "$VM_RC"
}
