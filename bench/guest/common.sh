# Shared by the guest-side benchmark scripts; sourced.
# shellcheck shell=bash
set -u

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMR_ROOT=${CMR_ROOT:-$(cd "$BENCH_DIR/.." && pwd)}
CMR_BUILD=${CMR_BUILD:-$CMR_ROOT/build}

# The build tree's programs: cmr-bench and the perftest wrappers. The
# driver exports CMR_BENCH_BIN / CMR_PERFTEST_BIN; the defaults are the
# project's build (build/user).
CMR_BENCH_BIN=${CMR_BENCH_BIN:-$CMR_BUILD/user/bench/cmr-bench}
CMR_PERFTEST_BIN=${CMR_PERFTEST_BIN:-$CMR_BUILD/user/perftest-patches/bin}

# parse_common ARGS...: --out DIR, --repeats N, --smoke.
OUT= REPEATS= SMOKE=0
parse_common() {
	while [ $# -gt 0 ]; do
		case $1 in
		--out) OUT=$2 && shift ;;
		--repeats) REPEATS=$2 && shift ;;
		--smoke) SMOKE=1 ;;
		*) die "unknown option $1" ;;
		esac
		shift
	done
	[ -n "$OUT" ] || die "--out DIR is required"
	mkdir -p "$OUT" || die "cannot create $OUT"
}

mem_total_bytes() { echo $(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) * 1024)); }

# set_knob FILE VALUE: write a kernel setting (sysfs, procfs) for this
# part, and put the old value back when the script exits (exit, die, an
# error under set -u, SIGTERM; not SIGKILL): the smoke runs share one
# guest boot with the tests after them, which must see the kernel as it
# booted. No-op where FILE is not writable.
KNOBS=()
set_knob() {
	local f=$1 old i
	[ -w "$f" ] || return 0
	for ((i = 0; i < ${#KNOBS[@]}; i += 2)); do
		[ "${KNOBS[i]}" = "$f" ] && break
	done
	if [ "$i" -ge "${#KNOBS[@]}" ]; then
		# A choice file ("always [madvise] never") reads back its
		# current value in brackets.
		old=$(sed -E 's/.*\[([^]]*)\].*/\1/' "$f") || return 0
		KNOBS+=("$f" "$old")
	fi
	echo "$2" >"$f" 2>/dev/null || say "cannot set $f to $2"
}
restore_knobs() {
	local i
	for ((i = ${#KNOBS[@]} - 2; i >= 0; i -= 2)); do
		echo "${KNOBS[i + 1]}" >"${KNOBS[i]}" 2>/dev/null ||
			say "cannot restore ${KNOBS[i]} to ${KNOBS[i + 1]}"
	done
	KNOBS=()
}
trap restore_knobs EXIT

# Transparent huge pages as Debian ships them (madvise): memalign()
# buffers get 4 KiB pages unless they ask. Recorded in the conditions.
set_thp() { set_knob /sys/kernel/mm/transparent_hugepage/enabled "$1"; }

# hugetlb pools at run time: set_hugepages SIZE_KB N.
set_hugepages() {
	set_knob "/sys/kernel/mm/hugepages/hugepages-${1}kB/nr_hugepages" "$2"
}

# Empty 2 MiB and 1 GiB pools: the parts that grow them at run time
# (cmr-bench setup and probe) start from nothing reserved.
empty_hugetlb_pools() {
	set_hugepages 2048 0
	set_hugepages 1048576 0
}

# conditions PART: key=value lines describing where the numbers come from.
conditions() {
	local thp model accel dbg=
	thp=$(sed -E 's/.*\[([a-z]+)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
	model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	# The driver says; else QEMU's TCG names itself in the CPU model.
	accel=${CMR_BENCH_ACCEL:-}
	if [ -z "$accel" ]; then
		case $model in *TCG*) accel=tcg ;; *) accel=unknown ;; esac
	fi
	[ -e /sys/kernel/debug/kmemleak ] && dbg="$dbg kmemleak"
	[ -e /proc/lockdep ] && dbg="$dbg lockdep"
	dbg=${dbg# } && dbg=${dbg:-none}
	cat <<-EOC
		part=$1
		date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		kernel=$(uname -r)
		kernel_version=$(cat /proc/version)
		accel=$accel
		cpus=$(nproc)
		cpu_model=$model
		mem_total_mib=$(($(mem_total_bytes) >> 20))
		numa_nodes=$(ls -d /sys/devices/system/node/node* 2>/dev/null | wc -l)
		thp=$thp
		kernel_debug=$dbg
		rdma_device=${CMR_RXE:-}
		perftest=$(dpkg-query -W -f='${Version}' perftest 2>/dev/null)
		rdma_core=$(dpkg-query -W -f='${Version}' rdma-core 2>/dev/null)
		smoke=$SMOKE
		repeats=$REPEATS
	EOC
}

# Records the kernel's free-memory picture (buddy allocator orders).
memory_state() {
	echo "## $1"
	echo "# /proc/buddyinfo (free blocks per order 0..10)"
	cat /proc/buddyinfo
	# Pageblocks that are not MIGRATE_MOVABLE hold most of what isolation
	# cannot migrate: where they are decides which windows can be had.
	echo "# /proc/pagetypeinfo (pageblocks per migratetype)"
	sed -n '/^Number of blocks type/,/^$/p' /proc/pagetypeinfo
	echo "# /proc/meminfo"
	grep -E '^(MemTotal|MemFree|MemAvailable|Cached|Shmem|AnonPages|Mlocked|HugePages_Total|Hugepagesize):' /proc/meminfo
	echo
}

# setup_part NAME: cmr-bench setup over $SIZES x $BACKINGS, $REPEATS
# rounds, with THP madvise and empty pools; writes NAME.csv,
# conditions-NAME.txt and NAME-memory.txt to $OUT (parts 2 and 6).
setup_part() { # setup_part NAME [cmr-bench setup options...]
	local rc name=$1
	shift
	set_thp madvise
	empty_hugetlb_pools
	conditions "$name" >"$OUT/conditions-$name.txt"
	echo "sizes=$SIZES" >>"$OUT/conditions-$name.txt"
	echo "backings=$BACKINGS" >>"$OUT/conditions-$name.txt"
	echo "setup_options=$*" >>"$OUT/conditions-$name.txt"
	memory_state "before" >"$OUT/$name-memory.txt"
	"$CMR_BENCH_BIN" setup --dev "${CMR_RXE:-}" --sizes "$SIZES" --backings "$BACKINGS" \
		--repeats "$REPEATS" --csv "$OUT/$name.csv" "$@"
	rc=$?
	memory_state "after" >>"$OUT/$name-memory.txt"
	[ $rc = 0 ] || die "cmr-bench setup ($name) failed ($rc)"
	say "$name: $(($(wc -l <"$OUT/$name.csv") - 1)) measurements"
}
