# The benchmarks' host side: `./contig-mr bench ARGS` sources this file
# after building and calls bench_main ARGS. Every part runs in its own
# boot of the guest (loop set-up: one rxe device; the stacks part, pair:
# two), one guest at a time;
# the guest writes its raw data into the run directory, which is copied to
# bench/results/RUN/, and bench/report.py turns it into tables, plots and
# results.md. A full run also writes bench/README-results.md and the
# README's results section (between <!-- bench:begin --> and
# <!-- bench:end -->, when README.md has those markers).
#
# Needs the harness's vm_command (scripts/lib/vm.sh) and say/die
# (scripts/lib/common.sh). Methodology: docs/benchmarks.md.
# CMR_BENCH_UBUILD (development) takes cmr-bench and the perftest wrappers
# from another user-space build tree than build/user.
# shellcheck shell=bash

BENCH_PARTS_ALL="readbw setup frag hold scale stacks"

bench_usage() {
	cat <<'USAGE'
usage: ./contig-mr bench [--smoke] [--out DIR] [--repeats N] [--parts "P..."]
                         [--mem SIZE] [--kernel PATH] [--kvm] [--publish]

Runs the benchmarks in the guest on rxe and writes raw data (CSV), plots
(PNG) and a report (results.md) to DIR.

  --smoke        the short version (about 3 minutes): fewer sizes, one round
  --out DIR      where to write (default bench/results/UTC-DATE-full|smoke)
  --repeats N    rounds of every comparison (default: 5 for ib_read_bw and
                 set-up cost, 3 for fragmentation and the stacks; 1 with
                 --smoke)
  --parts "..."  which parts, of: readbw setup frag hold scale stacks
                 (default: all)
                   readbw  ib_read_bw -a: memalign vs --use_hugepages vs --contig
                   setup   set-up/release cost, device pages and map entries
                   frag    contiguous MRs vs run-time hugetlb under fragmentation
                   hold    buffers held at once vs hugetlb and the memory map
                   scale   set-up/release and CPU per GiB up to 16 GiB (extents)
                   stacks  UCX, Open MPI and libfabric across the pair set-up,
                           without and with the allocator preload, THP never
                           and always
  --mem SIZE     guest memory for every part (default: 4G; the full setup,
                 frag and hold parts, whose goals are for 8 GiB, use 8G,
                 the full scale part 20G)
  --kernel PATH  boot this bzImage instead of the benchmark kernel (the
                 guest kernel without lockdep, kmemleak and DEBUG_VM, built
                 as build/kernel/bzImage-bench; kernel/bench.config)
  --kvm          use KVM instead of TCG
  --publish      update bench/README-results.md and README.md's results
                 section from DIR even when not every part ran: for a part
                 run again, or added, into an earlier full run's DIR (the
                 host's conditions then go to conditions-host-PARTS.txt)
A full run (not --smoke, all parts, default --out) also updates
bench/README-results.md and README.md's results section.
USAGE
}

# bench_part PART OUT MEM: one guest boot running bench/guest/PART.sh.
bench_part() {
	local part=$1 out=$2 mem=$3 args="" run rc ubuild=${CMR_BENCH_UBUILD:-$CMR_UBUILD}
	[ "$BENCH_SMOKE" = 1 ] && args="$args --smoke"
	[ -n "$BENCH_REPEATS" ] && args="$args --repeats $BENCH_REPEATS"
	local setup=loop
	# The stacks cross the wire between two rxe devices.
	[ "$part" = stacks ] && setup=pair
	say "bench: $part (guest memory $mem, $CMR_VM_ACCEL, $setup set-up)"
	CMR_VM_SETUP=$setup CMR_VM_MEM=$mem CMR_VM_TIMEOUT=$BENCH_TIMEOUT \
		vm_command "CMR_BENCH_ACCEL=$CMR_VM_ACCEL" \
		"CMR_BENCH_BIN=$ubuild/bench/cmr-bench" \
		"CMR_PERFTEST_BIN=$ubuild/perftest-patches/bin" \
		"CMR_USER_BUILD=$ubuild" \
		bash "$CMR_ROOT/bench/guest/$part.sh" --out /run/cmr/bench $args
	rc=$?
	run=$VM_RUNDIR
	if [ -d "$run/bench" ]; then
		cp -r "$run/bench/." "$out/"
	fi
	cp "$run/console.log" "$out/console-$part.log" 2>/dev/null
	[ $rc = 0 ] || say "bench: $part failed (status $rc; guest log $run)"
	return $rc
}

# QEMU guests running on the host (the process name is cut at 15 letters,
# hence the command line).
bench_qemu_count() {
	pgrep -c -f '^(/usr/bin/)?qemu-system-x86_64 ' || true
}

# What the host was doing: the guest's numbers depend on it.
bench_host_conditions() {
	cat <<-EOC
		part=host
		date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		host_kernel=$(uname -r)
		host_cpus=$(nproc)
		host_cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
		host_load=$(cut -d' ' -f1-3 /proc/loadavg)
		host_qemu_running=$(bench_qemu_count)
		accel=$CMR_VM_ACCEL
		guest_kernel_image=${CMR_VM_KERNEL:-$CMR_KBUILD/bzImage}
		guest_cpus=$CMR_VM_CPUS
		git_commit=$(git -C "$CMR_ROOT" describe --always --dirty 2>/dev/null || echo none)
	EOC
}

# bench_publish OUT: bench/README-results.md and the README's section.
bench_publish() {
	local out=$1 rel readme=$CMR_ROOT/README.md section
	rel=${out#"$CMR_ROOT"/}
	python3 "$CMR_ROOT/bench/report.py" "$out" --image-prefix "$rel/" || return 1
	section=$(mktemp)
	{
		echo "<!-- Written by ./contig-mr bench from $rel; do not edit by hand. -->"
		echo
		# One level down: the section sits under the README's own heading.
		sed 's/^#/##/' "$out/results.md"
		echo "Raw data (CSV), plots and every run's log: \`$rel/\`."
	} >"$section"
	cp "$section" "$CMR_ROOT/bench/README-results.md"
	if grep -q '^<!-- bench:begin -->' "$readme" && grep -q '^<!-- bench:end -->' "$readme"; then
		awk -v f="$section" '
			/^<!-- bench:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
			/^<!-- bench:end -->/ { skip = 0 }
			!skip' "$readme" >"$readme.tmp" && mv "$readme.tmp" "$readme"
		say "bench: README.md results section updated"
	else
		say "bench: README.md has no <!-- bench:begin/end --> markers; wrote bench/README-results.md only"
	fi
	rm -f "$section"
	# Links in the README copy point into the run directory.
	python3 "$CMR_ROOT/bench/report.py" "$out" >/dev/null
}

# bench_sample_load FILE: every 30 s, the host's load and how many QEMU
# guests run (ours included), until killed.
bench_sample_load() {
	echo "time,load1,load5,qemu_guests" >"$1"
	while :; do
		echo "$(date -u +%H:%M:%S),$(cut -d' ' -f1,2 /proc/loadavg | tr ' ' ','),$(bench_qemu_count)" >>"$1"
		sleep 30
	done
}

bench_main() {
	BENCH_SMOKE=0 BENCH_REPEATS=""
	local out="" parts=$BENCH_PARTS_ALL mem="" p failed=() default_out=1 part_mem publish=0 host=""
	while [ $# -gt 0 ]; do
		case $1 in
		--smoke) BENCH_SMOKE=1 ;;
		--out) out=$2 && default_out=0 && shift ;;
		--repeats) BENCH_REPEATS=$2 && shift ;;
		--parts) parts=$2 && shift ;;
		--mem) mem=$2 && shift ;;
		--kernel) CMR_VM_KERNEL=$(realpath "$2") && shift ;;
		--kvm) CMR_VM_ACCEL=kvm ;;
		--publish) publish=1 ;;
		-h | --help) bench_usage && return 0 ;;
		*) bench_usage >&2 && die "bench: unknown option '$1'" ;;
		esac
		shift
	done
	for p in $parts; do
		case " $BENCH_PARTS_ALL " in *" $p "*) ;; *) die "bench: unknown part '$p'" ;; esac
	done
	case $BENCH_REPEATS in '' | [1-9] | [1-9][0-9]) ;; *) die "bench: --repeats takes a number" ;; esac
	# Publishing a part alone would leave the README with that part only.
	[ "$publish" = 0 ] || { [ -n "$out" ] && [ -e "$out/conditions-host.txt" ]; } ||
		die "bench: --publish adds to an earlier run: --out must name its directory"
	if [ -z "$out" ]; then
		out=$CMR_ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)-$([ "$BENCH_SMOKE" = 1 ] && echo smoke || echo full)
	fi
	mkdir -p "$out" || die "bench: cannot create $out"
	out=$(cd "$out" && pwd)
	if [ "$BENCH_SMOKE" = 1 ]; then
		BENCH_TIMEOUT=600
	else
		BENCH_TIMEOUT=7200
	fi
	# An earlier run's host conditions stay; this run's are named by its
	# parts.
	[ -e "$out/conditions-host.txt" ] && host="-${parts// /-}"
	bench_host_conditions >"$out/conditions-host$host.txt"
	bench_sample_load "$out/host-load$host.csv" &
	local sampler=$!
	[ "$(bench_qemu_count)" = 0 ] ||
		say "bench: warning: other QEMU guests are running on this host; the numbers will show it (conditions-host.txt)"

	for p in $parts; do
		case $p in
		setup | frag | hold)
			# The goals of these parts are stated for an 8 GiB guest
			# (2 GiB buffers; six 1 GiB windows).
			part_mem=${mem:-4G}
			[ -z "$mem" ] && [ "$BENCH_SMOKE" = 0 ] && part_mem=8G
			bench_part "$p" "$out" "$part_mem" || failed+=("$p")
			;;
		scale)
			# 16 GiB of 1 GiB extents needs 16 free 1 GiB windows.
			part_mem=${mem:-4G}
			[ -z "$mem" ] && [ "$BENCH_SMOKE" = 0 ] && part_mem=20G
			bench_part "$p" "$out" "$part_mem" || failed+=("$p")
			;;
		*) bench_part "$p" "$out" "${mem:-$CMR_VM_MEM}" || failed+=("$p") ;;
		esac
	done

	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	python3 "$CMR_ROOT/bench/report.py" "$out" --check || failed+=(report)
	[ "$default_out" = 1 ] && ln -sfn "$(basename "$out")" "$CMR_ROOT/bench/results/latest"
	if [ "$BENCH_SMOKE" = 0 ] && [ ${#failed[@]} = 0 ] &&
		{ [ "$publish" = 1 ] || { [ "$default_out" = 1 ] && [ "$parts" = "$BENCH_PARTS_ALL" ]; }; }; then
		bench_publish "$out" || failed+=(publish)
	fi
	say "bench: results in $out (results.md, *.csv, *.png)"
	[ ${#failed[@]} = 0 ] || { say "bench: failed: ${failed[*]}"; return 1; }
}
