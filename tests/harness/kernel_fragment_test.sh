#!/usr/bin/env bash
# The kernel flavours' config fragments: the guest flavour is guest.config
# as written; the bench flavour is guest.config with every symbol that
# bench.config names taken from bench.config, and nothing else lost; the
# debug flavour adds KASAN and DEBUG_PAGEALLOC and keeps the guest's
# checkers; the stock flavour is guest.config on a tree without the series.
. "$(dirname "$0")/lib.sh"
die() { echo "die: $*"; exit 3; }
say() { :; }
CMR_KBUILD=/nonexistent
# shellcheck source=../../scripts/lib/kernel.sh
. "$CMR_ROOT/scripts/lib/kernel.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=$CMR_ROOT/kernel/guest.config over=$CMR_ROOT/kernel/bench.config

CMR_KFLAVOUR=guest kernel_fragment "$tmp/guest"
cmp -s "$tmp/guest" "$base" || fail "guest fragment differs from guest.config"
[ "$(CMR_KFLAVOUR=guest kernel_image)" = /nonexistent/bzImage ] || fail "guest image path"
ok "guest flavour: guest.config, build/kernel/bzImage"

CMR_KFLAVOUR=bench kernel_fragment "$tmp/bench"
[ "$(CMR_KFLAVOUR=bench kernel_image)" = /nonexistent/bzImage-bench ] || fail "bench image path"
syms=$(grep -oE 'CONFIG_[A-Za-z0-9_]+' "$over" | sort -u)
[ -n "$syms" ] || fail "bench.config names no symbol"
for s in $syms; do
	diff <(grep -w -- "$s" "$tmp/bench") <(grep -w -- "$s" "$over") >/dev/null ||
		fail "$s: the bench fragment does not take bench.config's line"
done
# Every guest.config line about another symbol is still there.
while IFS= read -r line; do
	case $line in *CONFIG_*) ;; *) continue ;; esac
	sym=$(grep -oE 'CONFIG_[A-Za-z0-9_]+' <<<"$line" | head -n1)
	grep -qxF -- "$sym" <<<"$syms" && continue
	grep -qxF -- "$line" "$tmp/bench" || fail "bench fragment lost '$line'"
done <"$base"
# The debugging options the benchmarks must not measure are off.
for s in CONFIG_PROVE_LOCKING CONFIG_DEBUG_KMEMLEAK CONFIG_DEBUG_VM; do
	grep -qx "# $s is not set" "$tmp/bench" || fail "bench fragment leaves $s on"
done
ok "bench flavour: bench.config over guest.config, $(wc -w <<<"$syms") symbols replaced"

CMR_KFLAVOUR=debug kernel_fragment "$tmp/debug"
for s in CONFIG_KASAN CONFIG_DEBUG_PAGEALLOC CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT \
	CONFIG_PROVE_LOCKING CONFIG_DEBUG_KMEMLEAK CONFIG_DEBUG_VM; do
	grep -qx "$s=y" "$tmp/debug" || fail "debug fragment lacks $s=y"
done
[ "$(CMR_KFLAVOUR=debug kernel_image)" = /nonexistent/bzImage-debug ] || fail "debug image path"
(CMR_KFLAVOUR=debug kernel_has_series) || fail "debug flavour without the series"
ok "debug flavour: KASAN and DEBUG_PAGEALLOC over the guest's lockdep, kmemleak, DEBUG_VM"

CMR_KFLAVOUR=stock kernel_fragment "$tmp/stock"
cmp -s "$tmp/stock" "$base" || fail "stock fragment differs from guest.config"
(CMR_KFLAVOUR=stock kernel_has_series) && fail "stock flavour with the series"
[ "$(CMR_KFLAVOUR=stock kernel_srcdir)" = /nonexistent/src-stock ] || fail "stock source tree"
[ "$(CMR_KFLAVOUR=stock kernel_image)" = /nonexistent/bzImage-stock ] || fail "stock image path"
ok "stock flavour: guest.config, no series, its own tree and image"

(CMR_KFLAVOUR=nosuch kernel_check_flavour) >"$tmp/out" && fail "unknown flavour name accepted"
(CMR_KFLAVOUR=nosuch kernel_fragment "$tmp/x") >"$tmp/out" && fail "unknown flavour accepted"
expect_in "$tmp/out" "unknown kernel flavour 'nosuch'" "unknown flavour"
ok "unknown flavour refused"
