#!/bin/sh
# dmesg-scan.sh FILE|-
# Prints the kernel log lines that mean the kernel found a bug, with the
# lines that follow each one (the report's body), and exits 1 if there is
# any; exits 0 on a clean log. Used in the guest after every test and on
# the host on the whole console log and dmesg of every run.
#
# Matched: BUG:, kernel BUG at, WARNING:, Oops, Kernel panic, possible recursive locking,
# circular locking dependency, other lockdep reports, kmemleak reports,
# KASAN, UBSAN, general protection fault, hung tasks, soft/hard lockups,
# RCU stalls. kmemleak counts when it reports (its "new suspected memory
# leaks" line, or the "unreferenced object" records of its debugfs file),
# not when it merely names itself (start-up lines, the command line).
set -u
input=${1:--}
awk '
	/BUG:|kernel BUG at|WARNING:|Oops|Kernel panic|possible recursive locking|circular locking dependency|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|kmemleak: [0-9]+ new suspected memory leak|unreferenced object 0x|KASAN|UBSAN|general protection fault|blocked for more than|soft lockup|hard LOCKUP|rcu_sched self-detected stall|rcu: INFO:/ {
		hits++
		ctx = 12
	}
	ctx > 0 { print; ctx-- }
	END { exit hits > 0 }
' "$input"
