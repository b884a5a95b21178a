# Building user space and running the test manifests.
# shellcheck shell=bash
. "$CMR_ROOT/scripts/run-test.sh"

user_build() {
	mkdir -p "$CMR_BUILD"
	cmake -S "$CMR_ROOT" -B "$CMR_UBUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$CMR_BUILD/cmake.log" 2>&1 ||
		{ cat "$CMR_BUILD/cmake.log" >&2; die "cmake configure failed"; }
	cmake --build "$CMR_UBUILD" -j"$(nproc)" >>"$CMR_BUILD/cmake.log" 2>&1 ||
		{ tail -n 40 "$CMR_BUILD/cmake.log" >&2; die "user-space build failed (log: $CMR_BUILD/cmake.log)"; }
}

# Totals of the whole run.
T_PASS=0 T_FAIL=0 T_SKIP=0
T_FAILED=()

tally() { # NAME STATUS
	case $2 in
	PASS) T_PASS=$((T_PASS + 1)) ;;
	SKIP) T_SKIP=$((T_SKIP + 1)) ;;
	*) T_FAIL=$((T_FAIL + 1)) && T_FAILED+=("$1") ;;
	esac
}

selected() { # NAME: true when --only is empty or names it
	[ -z "${CMR_ONLY:-}" ] && return 0
	case " $CMR_ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

# Host tests: one by one, each under its timeout, output kept in
# build/host-tests/NAME.out and shown on failure.
run_host_tests() {
	local list=$1 name timeout setup cmd status start out dir=$CMR_BUILD/host-tests
	mkdir -p "$dir"
	cd "$CMR_ROOT" || die "no $CMR_ROOT"
	while IFS=$'\t' read -r name timeout setup cmd; do
		[ -n "$name" ] && selected "$name" || continue
		out=$dir/$name.out
		start=$(now)
		cmr_run_test "$timeout" "$cmd" "$out"
		status=$CMR_STATUS
		printf '%s %s [host] (%s s)\n' "$status" "$name" "$(($(now) - start))"
		[ "$status" = SKIP ] && grep -m1 -i 'skip' "$out" | sed 's/^/    /'
		[ "$status" = FAIL ] && tail -n 30 "$out" | sed 's/^/    /'
		tally "$name" "$status"
	done <"$list"
}

# The run directory of each set-up booted by the last run_vm_tests.
declare -A VM_RUNS=()

# VM tests: one boot per rxe set-up that has selected tests; the guest runs
# them one by one (scripts/guest/jobs.sh). A test the guest never reported
# (it died or hung) fails, and so does a kernel bug report anywhere in the
# run's logs.
run_vm_tests() {
	local list=$1 setup names run name status rc secs budget
	VM_RUNS=()
	for setup in none loop pair; do
		names=$(awk -F'\t' -v s="$setup" '$3 == s { print $1 }' "$list")
		local want=()
		for name in $names; do selected "$name" && want+=("$name"); done
		[ ${#want[@]} -eq 0 ] && continue
		run=$(vm_new_rundir "tests-$setup")
		VM_RUNS[$setup]=$run
		# The watchdog of a test run: every test may use its whole timeout,
		# plus 300 s to boot, set up, scan for leaks and power off.
		budget=$(awk -F'\t' -v only=" ${want[*]} " \
			'index(only, " " $1 " ") { t += $2 } END { print t + 300 }' "$list")
		say "booting the guest for ${#want[@]} test(s) with set-up '$setup' ($run)"
		CMR_VM_SETUP=$setup CMR_VM_LIST=$list CMR_VM_ONLY="${want[*]}" \
			CMR_VM_TIMEOUT=$budget vm_run tests "$run"
		for name in "${want[@]}"; do
			read -r status rc secs < <(awk -v n="$name" '$1 == n { print $2, $3, $4 }' "$run/results" 2>/dev/null)
			if [ -z "${status:-}" ]; then
				status=FAIL
				printf 'FAIL %s [vm:%s] (not run: see the guest messages above)\n' "$name" "$setup"
			else
				printf '%s %s [vm:%s] (%s s)\n' "$status" "$name" "$setup" "$secs"
				[ "$status" = SKIP ] && grep -m1 -i 'skip' "$run/tests/$name.out" | sed 's/^/    /'
			fi
			tally "$name" "$status"
			status=
		done
		if vm_scan_logs "$run"; then
			tally "dmesg-scan[$setup]" PASS
		else
			printf 'FAIL dmesg-scan[%s]\n' "$setup"
			tally "dmesg-scan[$setup]" FAIL
		fi
	done
}

print_summary() {
	[ ${#T_FAILED[@]} -gt 0 ] && printf 'failed: %s\n' "${T_FAILED[*]}"
	printf '%d passed, %d failed, %d skipped\n' "$T_PASS" "$T_FAIL" "$T_SKIP"
	[ "$T_FAIL" -eq 0 ]
}
