#!/usr/bin/env bash
# Open MPI 4.1 (openmpi-bin) with pml ucx and osc ucx, two ranks running
# tests/stacks/mpi_bw.c (MPI_Send/MPI_Recv, then MPI_Put into a window,
# every word checked), rank 0 on rxe2 and rank 1 on rxe1 of the pair
# set-up, over UCX's RDMA transports only (UCX_TLS=rc_verbs,ud_verbs: no
# shared memory, no TCP), without and then with the allocator preload
# (contig-mr-run --min 1M), in the same run. For each run:
#  - both ranks exit 0 and rank 1 found no wrong word;
#  - the data crossed the veth: rxe2 sent and rxe1 received at least a
#    packet per MTU moved;
#  - the two MRs of SIZE bytes (up to a page more, for rounding) of each
#    rank, its message buffer's and its window's, as `rdma resource show
#    mr -dd` lists them once the puts are over (mpi_bw holds them until
#    they were seen; looking earlier would take CPU from the transfers
#    being timed): 2 MiB pages at best without the preload, one device
#    page of at least SIZE with it;
#  - the bandwidths; their ratios are printed, not judged (TCG).
# Open MPI 4.1 offers pml ucx only on the devices of its pml_ucx_devices
# and opal_common_ucx_devices lists (mlx* by default): "any" opens it to
# rxe. UCX_UD_VERBS_ETH_DGID_CHECK=n as in ucx_perftest.sh.
T=$(cd "$(dirname "$0")" && pwd)
RUN=${1:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR MPI_BW}
# shellcheck source=../../perftest-patches/tests/lib.sh
. "$T/../../perftest-patches/tests/lib.sh" /usr/bin "${2:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR MPI_BW}"
PROG=${3:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR MPI_BW}
[ -n "${CMR_RXE1:-}" ] || skip "needs the pair set-up (CMR_RXE1, CMR_RXE2)"
command -v mpirun >/dev/null || fail "mpirun not installed (openmpi-bin)"
size=$((8 << 20)) iters=${CMR_STACK_ITERS:-4}
mtu=$(port_mtu "$CMR_RXE1") || fail "$CMR_RXE1: no active_mtu in ibv_devinfo"
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none
     --mca pml ucx --mca osc ucx --mca btl self
     --mca pml_ucx_devices any --mca opal_common_ucx_devices any
     --mca pml_ucx_tls any --mca opal_common_ucx_tls any)
ucx=("UCX_TLS=rc_verbs,ud_verbs" UCX_IB_GID_INDEX=1 UCX_UD_VERBS_ETH_DGID_CHECK=n)

# rank_pid LABEL RANK: the pid rank RANK printed, once it has.
rank_pid() {
	wait_for "$TMP/$1.out" "^mpi_bw: rank $2 pid" 120 || return 1
	awk -v r="$2" '$1 == "mpi_bw:" && $2 == "rank" && $3 == r && $4 == "pid" { print $5; exit }' "$TMP/$1.out"
}

# run LABEL [PREFIX...]: both ranks, each run as PREFIX mpi_bw.
run() {
	local label=$1 pids=() sent rcvd rc rank
	shift
	counter sent "$CMR_RXE2" sent_pkts && counter rcvd "$CMR_RXE1" rcvd_pkts
	start_server "$label" timeout 400 "${mpi[@]}" \
		-np 1 env "${ucx[@]}" UCX_NET_DEVICES="$CMR_RXE2:1" "$@" "$PROG" "$size" "$iters" "$TMP/$label.seen" : \
		-np 1 env "${ucx[@]}" UCX_NET_DEVICES="$CMR_RXE1:1" "$@" "$PROG" "$size" "$iters" "$TMP/$label.seen"
	pids[0]=$(rank_pid "$label" 0) && pids[1]=$(rank_pid "$label" 1) ||
		{ wait "$SPID"; show "$label"; fail "$label: the ranks did not start"; }
	wait_for "$TMP/$label.out" '^mpi_bw: put ' 400 || { show "$label"; fail "$label: no result for put"; }
	for rank in 0 1; do
		mrs_of "$label-$rank" "${pids[rank]}" "$size" $((size + 4096)) 2 ||
			{ show "$label"; cat "$TMP/$label-$rank.mrs"; fail "$label: not two MRs of $size bytes of rank $rank"; }
	done
	touch "$TMP/$label.seen"
	wait "$SPID"
	rc=$?
	[ $rc = 0 ] || { show "$label"; fail "$label: mpirun exit $rc"; }
	no_hold_timeout "$label" "$TMP/$label.out"
	[ "$(grep -c '^mpi_bw: .* words checked, 0 wrong$' "$TMP/$label.out")" = 2 ] ||
		{ show "$label"; fail "$label: no clean result for send/recv and put"; }
	grep '^mpi_bw: .* words checked' "$TMP/$label.out" | while read -r line; do note "$label: $line"; done
	counter sent "$CMR_RXE2" sent_pkts "$sent" && counter rcvd "$CMR_RXE1" rcvd_pkts "$rcvd"
	[ "$sent" -ge $((2 * size * iters / mtu)) ] && [ "$rcvd" -ge $((2 * size * iters / mtu)) ] ||
		fail "$label: $sent packets sent by $CMR_RXE2, $rcvd received by $CMR_RXE1 for $((2 * size * iters)) bytes (MTU $mtu)"
	ok "$label: $((2 * size * iters)) bytes from rank 0 on $CMR_RXE2 to rank 1 on $CMR_RXE1, every word right ($sent packets sent, $rcvd received)"
}

run plain
run preload "$RUN" --min 1M --verbose --
for rank in 0 1; do
	expect_pages "plain-$rank" "preload-$rank" "$size"
done
grep -q 'contig-mr-alloc.*contiguous at' "$TMP/preload.out" || fail "preload: the preload served no region"
bw() { reported_bw "$TMP/$1.out" mpi_bw "$2"; }
for what in send/recv put; do
	compare_bw "$what" "$size" "$iters" "$(bw preload "$what")" "$(bw plain "$what")"
done
