# shellcheck shell=sh
# One test, the same way on the host (scripts/lib/testrun.sh) and in the
# guest (scripts/guest/jobs.sh): POSIX sh, sourced by both.
#
# cmr_run_test TIMEOUT CMD OUT: runs CMD with no input under timeout(1),
# output to OUT. Sets CMR_RC to its exit status and CMR_STATUS to PASS (0),
# SKIP (77, the one skip code, as CTest's SKIP_RETURN_CODE and Automake
# have it) or FAIL (anything else, including the timeout, which is noted
# in OUT).
cmr_run_test() {
	timeout -k 5 "$1" sh -c "$2" </dev/null >"$3" 2>&1
	CMR_RC=$?
	case $CMR_RC in
	0) CMR_STATUS=PASS ;;
	77) CMR_STATUS=SKIP ;;
	124 | 137) CMR_STATUS=FAIL && echo "# timed out after $1 s" >>"$3" ;;
	*) CMR_STATUS=FAIL ;;
	esac
}
