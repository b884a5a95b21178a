#!/bin/sh
# contig-mr-run: run a program with its large anonymous allocations served
# from physically contiguous memory (libcontig-mr-alloc.so, preloaded).
# Options become the library's environment (docs/applications.md).
usage() {
	cat <<USAGE
usage: contig-mr-run [--min SIZE] [--on-fail fallback|fail] [--device NAME]
                     [--min-extent SIZE] [--verbose] [--] COMMAND [ARG...]
  --min SIZE         serve requests of SIZE and more (default 2M)
  --on-fail POLICY   no contiguous memory: fallback to ordinary memory
                     (default), or fail the call with ENOMEM
  --device NAME      RDMA device to allocate through (default: the first)
  --min-extent SIZE  allow extents of at least SIZE (a power of two)
  --verbose          one line on stderr per region
SIZE is a byte count with an optional K, M, G or T suffix (powers of 1024).
USAGE
	exit "$1"
}

die() {
	echo "contig-mr-run: $*" >&2
	exit 2
}

bytes() {
	case $2 in
	*[!0-9KMGT]* | "" | [KMGT]*) die "$1: not a size: $2" ;;
	esac
	numfmt --from=iec "$2" 2>/dev/null || die "$1: not a size: $2"
}

while [ $# -gt 0 ]; do
	case $1 in
	--min) [ $# -ge 2 ] || usage 2; CMR_ALLOC_MIN=$(bytes "$1" "$2") || exit 2
		export CMR_ALLOC_MIN; shift 2 ;;
	--min-extent) [ $# -ge 2 ] || usage 2
		CMR_ALLOC_MIN_EXTENT=$(bytes "$1" "$2") || exit 2
		export CMR_ALLOC_MIN_EXTENT; shift 2 ;;
	--on-fail) [ $# -ge 2 ] || usage 2
		case $2 in fallback | fail) ;; *) die "--on-fail: fallback or fail, not $2" ;; esac
		export CMR_ALLOC_ON_FAIL="$2"; shift 2 ;;
	--device) [ $# -ge 2 ] || usage 2; export CMR_ALLOC_DEVICE="$2"; shift 2 ;;
	--verbose) export CMR_ALLOC_VERBOSE=1; shift ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (--help)" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || usage 2

here=$(dirname "$(readlink -f "$0")")
lib=
for dir in "$here/../lib" "$here/../@CMAKE_INSTALL_LIBDIR@"; do
	[ -f "$dir/libcontig-mr-alloc.so" ] && { lib=$(readlink -f "$dir/libcontig-mr-alloc.so"); break; }
done
[ -n "$lib" ] || die "libcontig-mr-alloc.so not found next to $here"
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"
