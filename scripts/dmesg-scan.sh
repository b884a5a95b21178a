#!/bin/sh
# dmesg-scan.sh FILE|-
# Prints the kernel log lines that mean the kernel found a bug, with the
# lines that follow each one (the report's body), and exits 1 if there is
# any; exits 0 on a clean log. Used in the guest after every test and on
# the host on the whole console log and dmesg of every run.
#
# Only what the kernel printed counts, in the kernel's message format: a
# report's first line begins the message, after the optional "<level>",
# "[ seconds]" and "[ Tid]"/"[ Cid]" prefixes of dmesg, /dev/kmsg and the
# console. Lines of the guest runner and its tests ("CMR| ...") and words
# inside a message never match, so a test that prints "no WARNING here"
# cannot fail the run.
#
# Matched at the message's start: WARNING: (also lockdep's and RCU's
# reports), BUG: (KASAN, soft lockups, bad page state), kernel BUG at,
# Oops, Kernel panic, general protection fault, UBSAN:, hung tasks ("INFO:
# task ... blocked for more than"), hard lockups, RCU stalls ("rcu: INFO:")
# and kmemleak's reports ("kmemleak: N new suspected memory leaks", and the
# "unreferenced object" records of its debugfs file, appended to the
# guest's dmesg), not kmemleak's start-up lines.
set -u
input=${1:--}
awk '
	{
		msg = $0
		sub(/^<[0-9]+>/, "", msg)
		sub(/^\[ *[0-9]+\.[0-9]+\] */, "", msg)
		sub(/^\[ *[CT][0-9]+\] */, "", msg)
	}
	msg ~ /^(WARNING:|BUG:|kernel BUG at|Oops|Kernel panic|general protection fault|UBSAN:|INFO: task .* blocked for more than|(watchdog|NMI watchdog): .*(soft lockup|hard LOCKUP)|rcu: INFO: |kmemleak: [0-9]+ new suspected memory leak|unreferenced object 0x)/ {
		hits++
		ctx = 12
	}
	ctx > 0 { print; ctx-- }
	END { exit hits > 0 }
' "$input"
