#!/bin/sh
# host_alloc_wrapper RUN: contig-mr-run's options, and a program under the
# preload where no contiguous memory can be had (a device that does not
# exist): it runs on ordinary memory with --on-fail fallback, and its large
# allocations fail with --on-fail fail while small ones still work.
run=$1
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not installed"; exit 77; }
echo "TAP version 13"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT

"$run" --help >"$tmp/help" 2>&1 && grep -q -- "--on-fail" "$tmp/help" &&
	ok "--help: usage, exit 0" || notok "--help"
for bad in "--min" "--min 2X -- true" "--min -5 -- true" "--on-fail maybe -- true" \
	   "--bogus -- true" ""; do
	# shellcheck disable=SC2086
	"$run" $bad >"$tmp/out" 2>&1
	rc=$?
	[ "$rc" = 2 ] && ok "'$bad': refused, exit 2 ($(head -n1 "$tmp/out"))" ||
		notok "'$bad': exit $rc"
done

# What the wrapper exports, seen by the program it runs.
"$run" --min 3M --min-extent 1G --on-fail fail --device dev0 --verbose -- \
	sh -c 'echo "$CMR_ALLOC_MIN $CMR_ALLOC_MIN_EXTENT $CMR_ALLOC_ON_FAIL $CMR_ALLOC_DEVICE $CMR_ALLOC_VERBOSE $LD_PRELOAD"' \
	>"$tmp/env" 2>&1
read -r min ext pol dev verb pre <"$tmp/env"
[ "$min $ext $pol $dev $verb" = "3145728 1073741824 fail dev0 1" ] &&
	ok "sizes in bytes and settings exported: $min $ext $pol $dev $verb" ||
	notok "exported: $(cat "$tmp/env")"
case $pre in */libcontig-mr-alloc.so*) [ -f "${pre%%:*}" ] &&
	ok "LD_PRELOAD names the library: $pre" || notok "no file $pre" ;;
*) notok "LD_PRELOAD is '$pre'" ;; esac
LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 "$run" -- sh -c 'echo "$LD_PRELOAD"' >"$tmp/env"
case $(cat "$tmp/env") in *libcontig-mr-alloc.so:/lib/x86_64-linux-gnu/libc.so.6) ok "an existing LD_PRELOAD is kept after it" ;;
*) notok "LD_PRELOAD became $(cat "$tmp/env")" ;; esac

prog='import mmap
small = bytearray(1 << 20)
try:
    big = bytearray(16 << 20)
    big[-1] = 1
    print("malloc ok")
except MemoryError:
    print("malloc failed")
try:
    m = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_PRIVATE)
    m[-1] = 1
    print("mmap ok")
except OSError:
    print("mmap failed")'
"$run" --device nosuchdev -- python3 -c "$prog" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && [ "$(tr '\n' ' ' <"$tmp/out")" = "malloc ok mmap ok " ] &&
	ok "fallback: the program runs on ordinary memory" ||
	notok "fallback: exit $rc: $(cat "$tmp/out" "$tmp/err")"
[ "$(grep -c 'no contiguous memory' "$tmp/err")" = 1 ] &&
	ok "fallback: one line says why: $(cat "$tmp/err")" ||
	notok "fallback: stderr: $(cat "$tmp/err")"
"$run" --device nosuchdev --on-fail fail -- python3 -c "$prog" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && [ "$(tr '\n' ' ' <"$tmp/out")" = "malloc failed mmap failed " ] &&
	ok "fail: the large malloc and the large private mmap fail, small ones work" ||
	notok "fail: exit $rc: $(cat "$tmp/out" "$tmp/err")"

echo "1..$n"
exit $fail
