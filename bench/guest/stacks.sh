#!/usr/bin/env bash
# Part 7: the communication stacks of tests/stacks/ (ucx_perftest tag_bw
# and ucp_put_bw, Open MPI's send/recv and put through mpi_bw, libfabric's
# fi_read and fi_write through fi_rma) across the pair set-up's two rxe
# devices. Each run of a stack's script moves the same data without and
# then with the allocator preload, in the same guest and one right after
# the other, and checks it as the test does; a round runs the three
# scripts once with transparent huge pages "never" (the plain run's
# buffers are 4 KiB pages) and, in the full form, once more with "always"
# (2 MiB pages where THP backs them). --repeats rounds.
#
# Writes to --out: stacks.csv (one row per bandwidth), stacks-runs.csv
# (one row per script run: status, seconds), stacks-logs/ (every run's
# TAP output), conditions-stacks.txt.
. "$(dirname "$0")/common.sh"
parse_common "$@"

[ -n "${CMR_RXE1:-}" ] && [ -n "${CMR_RXE2:-}" ] || die "needs the pair set-up (CMR_RXE1, CMR_RXE2)"
UB=${CMR_USER_BUILD:-$CMR_BUILD/user}
RUN=$UB/preload/bin/contig-mr-run RDMA_MR=$UB/tests/lib/cmr-rdma-mr
STACKS=$CMR_ROOT/tests/stacks
for f in "$RUN" "$RDMA_MR" "$UB/tests/stacks/stack_mpi_bw" "$UB/tests/stacks/stack_fi_rma" \
	"$UB/tests/stacks/libcmr_hold_dereg.so"; do
	[ -x "$f" ] || die "no $f (build the project)"
done
if [ "$SMOKE" = 1 ]; then
	REPEATS=${REPEATS:-1} THPS="never" ITERS=""
else
	# More data per run than the tests move, for timings of seconds.
	REPEATS=${REPEATS:-3} THPS="never always" ITERS=${CMR_BENCH_STACK_ITERS:-16}
fi

# set_script STACK: SCRIPT, the command of STACK's test script.
set_script() {
	case $1 in
	ucx) SCRIPT=("$STACKS/ucx_perftest.sh" "$RUN" "$RDMA_MR" "$UB/tests/stacks/libcmr_hold_dereg.so") ;;
	openmpi) SCRIPT=("$STACKS/openmpi_ucx.sh" "$RUN" "$RDMA_MR" "$UB/tests/stacks/stack_mpi_bw") ;;
	libfabric) SCRIPT=("$STACKS/libfabric.sh" "$RUN" "$RDMA_MR" "$UB/tests/stacks/stack_fi_rma") ;;
	esac
}

conditions stacks >"$OUT/conditions-stacks.txt"
{
	echo "thp_settings=$THPS"
	echo "iterations=${ITERS:-as in the tests}"
	echo "ucx=$(dpkg-query -W -f='${Version}' ucx-utils 2>/dev/null)"
	echo "openmpi=$(dpkg-query -W -f='${Version}' openmpi-bin 2>/dev/null)"
	echo "libfabric=$(dpkg-query -W -f='${Version}' libfabric1 2>/dev/null)"
	echo "rdma_devices=$CMR_RXE1,$CMR_RXE2"
} >>"$OUT/conditions-stacks.txt"
mkdir -p "$OUT/stacks-logs"
echo "repeat,thp,stack,test,backing,bytes,iterations,bw_mbs" >"$OUT/stacks.csv"
echo "repeat,thp,stack,status,seconds" >"$OUT/stacks-runs.csv"
failed=0
for ((r = 1; r <= REPEATS; r++)); do
	for thp in $THPS; do
		set_thp "$thp"
		for stack in ucx openmpi libfabric; do
			log=$OUT/stacks-logs/$r-$thp-$stack.tap rows=$(mktemp)
			say "stacks: round $r/$REPEATS, THP $thp, $stack"
			start=$(date +%s)
			set_script "$stack"
			CMR_STACK_CSV=$rows CMR_STACK_ITERS=$ITERS timeout 1200 "${SCRIPT[@]}" >"$log" 2>&1
			rc=$?
			echo "$r,$thp,$stack,$rc,$(($(date +%s) - start))" >>"$OUT/stacks-runs.csv"
			if [ $rc = 0 ]; then
				sed "s/^/$r,$thp,$stack,/" "$rows" >>"$OUT/stacks.csv"
			else
				say "stacks: $stack failed ($rc), its numbers are left out: $(grep -m1 '^not ok' "$log")"
				failed=$((failed + 1))
			fi
			rm -f "$rows"
		done
	done
done
restore_knobs
say "stacks: $(($(wc -l <"$OUT/stacks.csv") - 1)) bandwidths, $failed failed runs"
