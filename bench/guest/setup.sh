#!/usr/bin/env bash
# Parts 2 and 3: set-up and release cost of a registered buffer per backing
# and size (cmr-bench setup, interleaved contig contig-buf memalign huge2m
# huge1g per size, --repeats rounds), and from the first round each MR's
# device page size and translation entries as `rdma resource show mr -dd`
# reports them.
#
# Writes to --out: setup.csv, conditions-setup.txt, setup-memory.txt.
. "$(dirname "$0")/common.sh"
parse_common "$@"
[ -x "$CMR_BENCH_BIN" ] || die "no $CMR_BENCH_BIN (build the project)"
# The smoke run leaves out 1 GiB pages: faulting one in zeroes 1 GiB,
# seconds under TCG, whatever the buffer size.
if [ "$SMOKE" = 1 ]; then
	REPEATS=${REPEATS:-1} SIZES=${CMR_BENCH_SETUP_SIZES:-2M,16M}
	BACKINGS=${CMR_BENCH_SETUP_BACKINGS:-contig,contig-buf,memalign,huge2m}
else
	REPEATS=${REPEATS:-5} SIZES=${CMR_BENCH_SETUP_SIZES:-2M,8M,32M,128M,512M,1G,2G}
	BACKINGS=${CMR_BENCH_SETUP_BACKINGS:-contig,contig-buf,memalign,huge2m,huge1g}
fi
setup_part setup
