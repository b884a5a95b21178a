#!/usr/bin/env bash
# vm_alloc_preload_memcg RUN: a program under the allocator preload inside a
# memory cgroup of its own with memory.max 96M, --on-fail fail. Its
# contiguous regions are charged to its group while they exist (and shown
# as "kernel" in memory.stat); a region the group has no room for fails
# with ENOMEM and the preload's error line, with no OOM kill; freeing a
# region returns its charge, and the room serves a region again. The
# program is Python: bytearray() of a large size is calloc(), which the
# preload serves (the kernel zeroed the buffer). After the first region the
# checks read memory.stat's "kernel": memory.current also moves with the
# page cache the group's reclaim takes back as it nears memory.max; each
# bound leaves 1-2 MiB for the rest of the kernel's own memory moving.
RUN=${1:?usage: $0 CONTIG_MR_RUN}
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"
[ -n "${CMR_RXE:-}" ] || { echo "1..0 # SKIP needs the loop set-up (CMR_RXE)"; exit 77; }
root=/sys/fs/cgroup
grep -qw memory "$root/cgroup.controllers" 2>/dev/null ||
	{ echo "1..0 # SKIP no cgroup v2 memory controller"; exit 77; }
tmp=$(mktemp -d)
cg=$root/cmr-preload-$$
enabled=""
# The group goes (its process has exited, so it can), and the root's
# controllers are left as they were.
cleanup() {
	[ -d "$cg" ] && ! rmdir "$cg" && echo "# cannot remove $cg" >&2
	[ -z "$enabled" ] || echo -memory >"$root/cgroup.subtree_control" ||
		echo "# cannot disable the memory controller again at $root" >&2
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "TAP version 13"
if ! grep -qw memory "$root/cgroup.subtree_control"; then
	echo +memory >"$root/cgroup.subtree_control" || { echo "Bail out! cannot enable the memory controller"; exit 1; }
	enabled=1
fi
mkdir "$cg" && echo 96M >"$cg/memory.max" || { echo "Bail out! cannot make $cg"; exit 1; }

cat >"$tmp/prog.py" <<'PY'
import os, sys

MIB = 1 << 20
cg = "/sys/fs/cgroup" + open("/proc/self/cgroup").read().split("::", 1)[1].strip()

def current():
    return int(open(cg + "/memory.current").read())

def stat(key):
    for line in open(cg + "/memory.stat"):
        k, v = line.split()
        if k == key:
            return int(v)

def regions():
    return sum("contig_buf" in line for line in open("/proc/self/maps"))

base, kbase, r0 = current(), stat("kernel"), regions()
a = bytearray(48 * MIB)
print("held", current() - base, stat("kernel") - kbase, regions() - r0, a[0], a[-1])
sys.stdout.flush()
try:
    b = bytearray(64 * MIB)
    print("over", "allocated")
except MemoryError:
    print("over", "MemoryError")
sys.stdout.flush()
del a
print("freed", stat("kernel") - kbase, regions() - r0)
k1 = stat("kernel")
b = bytearray(64 * MIB)
print("again", stat("kernel") - k1, regions() - r0)
PY

# The child enters the group before it execs the wrapper: all its memory,
# the preload's included, is charged there.
timeout 120 sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
	"$RUN" --min 1M --on-fail fail --verbose -- python3 "$tmp/prog.py" >"$tmp/out" 2>"$tmp/err"
rc=$?
val() { awk -v k="$1" -v i="$2" '$1 == k { print $i; exit }' "$tmp/out"; }
mib=$((1 << 20))
[ $rc = 0 ] && ok "the program ran to its end in the group (exit 0)" ||
	{ show "$tmp/out"; show "$tmp/err"; notok "the program: exit $rc"; }
held=$(val held 2) kernel=$(val held 3) nreg=$(val held 4)
[ "${held:-0}" -ge $((48 * mib)) ] && [ "${held:-0}" -lt $((56 * mib)) ] &&
	ok "a 48 MiB region charges the group's memory.current: +$((held / 1024)) KiB" ||
	notok "memory.current rose by ${held:-nothing} bytes for a 48 MiB region"
[ "${kernel:-0}" -ge $((48 * mib)) ] &&
	ok "shown as kernel memory in memory.stat: +$((kernel / 1024)) KiB" ||
	notok "memory.stat kernel rose by ${kernel:-nothing} bytes"
[ "${nreg:-0}" -ge 1 ] && [ "$(val held 5)$(val held 6)" = 00 ] &&
	ok "it is a contig_buf mapping ($nreg), zeroed at both ends" ||
	notok "not a contiguous region, or not zeroed ($(grep '^held' "$tmp/out"))"
[ "$(val over 2)" = MemoryError ] &&
	ok "64 MiB more, beyond memory.max: MemoryError (ENOMEM)" ||
	notok "over memory.max: $(val over 2)"
grep -q 'contig-mr-alloc\[[0-9]*\]: error: [0-9]* bytes: no contiguous memory (.*): the call fails' "$tmp/err" &&
	ok "and the preload's error line: $(grep -o 'error: .*' "$tmp/err" | head -n1)" ||
	{ show "$tmp/err"; notok "no error line for the refused region"; }
oom=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
[ "$oom" = 0 ] && ok "no OOM kill in the group (memory.events oom_kill 0)" ||
	notok "memory.events oom_kill $oom"
freed=$(val freed 2)
[ -n "$freed" ] && [ "$freed" -lt $((2 * mib)) ] && [ "$(val freed 3)" = 0 ] &&
	ok "freeing it returns the charge: kernel memory +$((freed / 1024)) KiB over the start, no region left" ||
	notok "after free: kernel memory +${freed:-?} bytes, $(val freed 3) region(s)"
again=$(val again 2)
[ "${again:-0}" -ge $((63 * mib)) ] && [ "$(val again 3)" = 1 ] &&
	ok "the room then serves a 64 MiB region: kernel memory +$((again / 1024)) KiB" ||
	notok "after free, 64 MiB: kernel memory +${again:-?} bytes, $(val again 3) region(s)"
rmdir "$cg" && ok "the group is removed once its process has gone" ||
	notok "cannot remove $cg: $(cat "$cg/cgroup.procs" 2>/dev/null | wc -l) processes, memory.current $(cat "$cg/memory.current" 2>/dev/null)"
tap_end
