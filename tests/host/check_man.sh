#!/bin/sh
# host_man MAN3_DIR: the built man pages render without groff warnings,
# have the sections of rdma-core's pages and a NAME line whatis can index;
# the alias pages point at the page that documents them.
dir=$1
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
[ -f "$dir/ibv_alloc_contig_mr.3" ] ||
	{ echo "1..0 # SKIP man pages not built (pandoc missing)"; exit 77; }
command -v groff >/dev/null ||
	{ echo "1..0 # SKIP groff not installed"; exit 77; }
echo "TAP version 13"

for page in ibv_alloc_contig_mr ibv_query_contig_mr; do
	f=$dir/$page.3
	warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
	[ -z "$warn" ] && ok "$page.3: groff -ww prints no warning" ||
		{ notok "$page.3: groff warnings"; echo "$warn" | sed 's/^/# /'; }
	text=$(MANWIDTH=80 man -l "$f" 2>/dev/null)
	missing=
	for s in NAME SYNOPSIS DESCRIPTION "RETURN VALUE" ERRORS NOTES \
		 EXAMPLE "SEE ALSO"; do
		echo "$text" | grep -qx "$s" || missing="$missing $s"
	done
	[ -z "$missing" ] && ok "$page.3: all sections present" ||
		notok "$page.3: missing$missing"
	if command -v lexgrog >/dev/null; then
		lexgrog "$f" | grep -q "$page" &&
			ok "$page.3: whatis entry: $(lexgrog "$f" | cut -d'"' -f2)" ||
			notok "$page.3: lexgrog finds no NAME"
	fi
done
for alias in ibv_alloc_contig_mr_ex ibv_free_contig_mr; do
	[ "$(cat "$dir/$alias.3")" = ".so man3/ibv_alloc_contig_mr.3" ] &&
		ok "$alias.3 is .so man3/ibv_alloc_contig_mr.3" ||
		notok "$alias.3 is not an alias page"
	grep -q "$alias" "$dir/ibv_alloc_contig_mr.3" &&
		ok "ibv_alloc_contig_mr.3 documents $alias" ||
		notok "ibv_alloc_contig_mr.3 does not mention $alias"
done
echo "1..$n"
exit $fail
