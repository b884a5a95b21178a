#!/usr/bin/env bash
# ucx_perftest (ucx-utils, UCX 1.13), tag_bw (tag matching: eager, then
# rendezvous by RDMA READ at this size) and ucp_put_bw (RDMA WRITE), from
# rxe2 to rxe1 of the pair
# set-up over UCX's RDMA transports only (UCX_TLS=rc_verbs,ud_verbs: RC for
# the data, UD for the wire-up), without and then with the allocator
# preload (contig-mr-run --min 1M), in the same run. For each run:
#  - the data crossed the veth: rxe2 sent and rxe1 received at least a
#    packet per MTU moved;
#  - the MRs of ucx_perftest's own 1 MiB message buffers, as `rdma resource
#    show mr -dd` lists them once the client has its result (HOLD_LIB,
#    LD_PRELOADed, keeps them until they were seen; looking earlier would
#    take CPU from the transfers being timed): 2 MiB pages at best without
#    the preload, one page of the whole buffer with it;
#  - a bandwidth is reported; their ratio is printed, not judged (TCG).
# UCX's UD wire-up needs UCX_UD_VERBS_ETH_DGID_CHECK=n on 6.1's rxe: with
# its default (y) it ends in "UD endpoint ...: unhandled timeout error",
# in the loop and the pair set-up alike. UCX_ALLOC_PRIO=heap in both runs:
# UCX takes the buffers it allocates itself (as ucx_perftest's are) from
# SysV shared memory first (md:sysv), and its mmap method bypasses the
# preload's mmap(); with heap they come from malloc(), which the preload
# serves (docs/applications.md).
T=$(cd "$(dirname "$0")" && pwd)
RUN=${1:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR HOLD_LIB}
# shellcheck source=../../perftest-patches/tests/lib.sh
. "$T/../../perftest-patches/tests/lib.sh" /usr/bin "${2:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR HOLD_LIB}"
HOLD=${3:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR HOLD_LIB}
[ -n "${CMR_RXE1:-}" ] || skip "needs the pair set-up (CMR_RXE1, CMR_RXE2)"
command -v ucx_perftest >/dev/null || fail "ucx_perftest not installed (ucx-utils)"
size=1048576 iters=${CMR_STACK_ITERS:-10}
mtu=$(port_mtu "$CMR_RXE1") || fail "$CMR_RXE1: no active_mtu in ibv_devinfo"
ucx=("UCX_TLS=rc_verbs,ud_verbs" UCX_IB_GID_INDEX=1 UCX_UD_VERBS_ETH_DGID_CHECK=n
     UCX_ALLOC_PRIO=heap)

# run LABEL TEST [PREFIX...]: server on rxe1, client on rxe2, each as PREFIX
# ucx_perftest -t TEST; checks the wire and the result, records the MRs.
run() {
	local label=$1 spid cpid sent rcvd retries1 retries2 perf hold
	perf=(ucx_perftest -t "$2" -s "$size" -n "$iters")
	hold=(LD_PRELOAD="$HOLD${LD_PRELOAD:+:$LD_PRELOAD}" CMR_HOLD_FILE="$TMP/$label.seen" CMR_HOLD_MIN="$size")
	shift 2
	counter sent "$CMR_RXE2" sent_pkts && counter rcvd "$CMR_RXE1" rcvd_pkts
	counter retries1 "$CMR_RXE1" completer_retry_err && counter retries2 "$CMR_RXE2" completer_retry_err
	next_port
	start_server "$label-srv" env "${ucx[@]}" "${hold[@]}" UCX_NET_DEVICES="$CMR_RXE1:1" "$@" "${perf[@]}" -p "$PORT"
	spid=$SPID
	wait_listen "$PORT" || { show "$label-srv"; fail "$label: the server does not listen"; }
	start_client "$label-cli" env "${ucx[@]}" "${hold[@]}" UCX_NET_DEVICES="$CMR_RXE2:1" "$@" "${perf[@]}" -p "$PORT" "$CMR_IP1"
	cpid=$CPID
	wait_for "$TMP/$label-cli.out" '^Final:' 300 || { show "$label-cli"; fail "$label: no result"; }
	mrs_of "$label-srv" "$spid" "$size" "$size" || { show "$label-srv"; fail "$label: no MR of $size bytes of the server"; }
	mrs_of "$label-cli" "$cpid" "$size" "$size" || { show "$label-cli"; fail "$label: no MR of $size bytes of the client"; }
	touch "$TMP/$label.seen"
	wait "$cpid" || { show "$label-cli"; fail "$label: the client failed"; }
	wait "$spid" || { show "$label-srv"; fail "$label: the server failed"; }
	# A hold before the result stalled a timed transfer (an MR of the
	# message size deregistered mid-run); one that timed out, the test.
	awk '/^hold_dereg: holding/ { h = 1 } /^Final:/ { exit h }' "$TMP/$label-cli.out" ||
		{ show "$label-cli"; fail "$label: the client held an MR before its result"; }
	no_hold_timeout "$label" "$TMP/$label-cli.out" "$TMP/$label-srv.out"
	counter sent "$CMR_RXE2" sent_pkts "$sent" && counter rcvd "$CMR_RXE1" rcvd_pkts "$rcvd"
	counter retries1 "$CMR_RXE1" completer_retry_err "$retries1"
	counter retries2 "$CMR_RXE2" completer_retry_err "$retries2"
	note "$label: $((retries1 + retries2)) retries of a request (completer_retry_err)"
	[ "$sent" -ge $((size * iters / mtu)) ] && [ "$rcvd" -ge $((size * iters / mtu)) ] ||
		fail "$label: $sent packets sent by $CMR_RXE2, $rcvd received by $CMR_RXE1 for $((size * iters)) bytes (MTU $mtu)"
	ok "$label: $((size * iters)) bytes from $CMR_RXE2 to $CMR_RXE1 ($sent packets sent, $rcvd received)"
}
bw() { awk '$1 == "Final:" { print $7 }' "$TMP/$1-cli.out"; }
for t in tag_bw ucp_put_bw; do
	run "plain-$t" "$t"
	run "preload-$t" "$t" "$RUN" --min 1M --verbose --
	for side in srv cli; do
		grep -q 'contig-mr-alloc.*contiguous at' "$TMP/preload-$t-$side.out" ||
			{ show "preload-$t-$side"; fail "preload $t $side: the preload served no region"; }
		expect_pages "plain-$t-$side" "preload-$t-$side" "$size"
	done
	compare_bw "$t" "$size" "$iters" "$(bw "preload-$t")" "$(bw "plain-$t")"
done
