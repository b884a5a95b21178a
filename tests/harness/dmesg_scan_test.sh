#!/usr/bin/env bash
# The scanner flags a recorded console log with a real WARNING and BUG
# (captured from the guest with LKDTM) and passes a recorded clean boot;
# it matches the kernel's message format only, not the tests' words.
. "$(dirname "$0")/lib.sh"
scan=$CMR_ROOT/scripts/dmesg-scan.sh
fix=$(dirname "$0")/fixtures
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$scan" "$fix/clean-boot.log" >"$out" && ok "clean boot log passes" ||
	{ cat "$out"; fail "clean boot log flagged"; }
! "$scan" "$fix/warning-and-bug.log" >"$out" || fail "log with WARNING and BUG passed"
expect_in "$out" 'WARNING: CPU' "WARNING report"
expect_in "$out" 'BUG: kernel NULL pointer dereference|kernel BUG at' "BUG report"
ok "log with WARNING and BUG flagged"
printf 'kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n' |
	"$scan" - >/dev/null && fail "kmemleak report passed"
ok "kmemleak report flagged"
# The kernel's format: prefixes of dmesg and /dev/kmsg before the report.
for line in '[   12.345678] WARNING: CPU: 1 PID: 5 at mm/page_alloc.c:1 f+0x1/0x2' \
	'<4>[   12.345678] [  T123] BUG: KASAN: slab-out-of-bounds in f+0x1/0x2' \
	'[  101.000001] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [t:1]' \
	'[  101.000001] rcu: INFO: rcu_preempt self-detected stall on CPU' \
	'[  101.000001] INFO: task t:1 blocked for more than 120 seconds.'; do
	printf '%s\n' "$line" | "$scan" - >/dev/null && fail "report passed: $line"
done
ok "reports after dmesg, kmsg and caller-id prefixes flagged"
# The tests' own words are not the kernel's: they never match.
for line in 'CMR| ok - no BUG/WARNING lines in the kernel log' \
	'CMR| WARNING: the pool is not empty' \
	'[    3.000000] rxe: test said the words BUG: and WARNING: mid-message' \
	'[    0.000000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15731)'; do
	printf '%s\n' "$line" | "$scan" - >"$out" || { cat "$out"; fail "not a report, flagged: $line"; }
done
ok "test output and words inside messages not flagged"
