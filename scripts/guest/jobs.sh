# What the guest runs, chosen by CMR_JOB in job.env; sourced by run.sh.
# Results go to the shared run directory /run/cmr:
#   rc             exit status of a command job
#   results        one line per test: NAME STATUS RC SECONDS
#   tests/NAME.out a test's output (and its dmesg hits, if any)
#   tests/*        files a test leaves for the host in $CMR_ARTIFACTS
#   dmesg          the whole kernel log at the end, kmemleak report appended

CMR_SCAN="$CMR_ROOT/scripts/dmesg-scan.sh"
. "$CMR_ROOT/scripts/run-test.sh"

# Opening kmemleak's file fails (EBUSY) when it is built in but off.
cmr_kmemleak_on() { cat /sys/kernel/debug/kmemleak >/dev/null 2>&1; }

cmr_console() { sed -u 's/^/CMR| /' >/dev/console; }

# A command: output shown live on the host and kept in /run/cmr/out.
cmr_job_cmd() {
	{
		sh -c "$CMR_COMMAND" </dev/null 2>&1
		echo $? >/run/cmr/rc
	} | tee /run/cmr/out | cmr_console
}

# An interactive shell on the serial console.
cmr_job_shell() {
	echo "contig-mr guest: exit the shell to power off" >/dev/console
	setsid -c /bin/bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
	echo 0 >/run/cmr/rc
}

# Tests of one set-up from a manifest (see cmake/tests.cmake), one by one,
# each under its own timeout; a test that leaves a dmesg hit fails.
cmr_job_tests() {
	local name timeout setup cmd rc status start lines out
	mkdir -p /run/cmr/tests
	export CMR_ARTIFACTS=/run/cmr/tests
	: >/run/cmr/results
	while IFS="$(printf '\t')" read -r name timeout setup cmd; do
		[ "$setup" = "$CMR_SETUP" ] || continue
		case " $CMR_ONLY " in "  ") ;; *" $name "*) ;; *) continue ;; esac
		out=/run/cmr/tests/$name.out
		lines=$(dmesg | wc -l)
		start=$(date +%s)
		cmr_run_test "$timeout" "$cmd" "$out"
		status=$CMR_STATUS rc=$CMR_RC
		if dmesg | tail -n +"$((lines + 1))" | "$CMR_SCAN" - >"$out.dmesg"; then
			rm -f "$out.dmesg"
		else
			status=FAIL
			{ echo "# dmesg hits during the test:"; cat "$out.dmesg"; } >>"$out"
		fi
		echo "$name $status $rc $(($(date +%s) - start))" >>/run/cmr/results
		echo "$status $name ($(($(date +%s) - start)) s)" | cmr_console
		[ "$status" = FAIL ] && tail -n 30 "$out" | sed 's/^/    /' | cmr_console
	done <"$CMR_LIST"
	echo 0 >/run/cmr/rc
}

cmr_finish() {
	if cmr_kmemleak_on; then
		echo scan >/sys/kernel/debug/kmemleak
		cat /sys/kernel/debug/kmemleak >/run/cmr/kmemleak
	fi
	dmesg >/run/cmr/dmesg
	cat /run/cmr/kmemleak >>/run/cmr/dmesg 2>/dev/null
	echo done >/run/cmr/done
	cmr_poweroff
}
