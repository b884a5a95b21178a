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

for page in ibv_alloc_contig_buf ibv_alloc_contig_mr ibv_query_contig_mr; do
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
			ok "$page.3: whatis entry: $(lexgrog "$f" | head -n1 | cut -d'"' -f2)" ||
			notok "$page.3: lexgrog finds no NAME"
	fi
done
for pair in ibv_free_contig_buf:ibv_alloc_contig_buf \
	    ibv_detach_contig_buf:ibv_alloc_contig_buf \
	    ibv_reg_contig_buf_mr:ibv_alloc_contig_buf \
	    ibv_query_contig_buf:ibv_alloc_contig_buf \
	    ibv_alloc_contig_mr_ex:ibv_alloc_contig_mr \
	    ibv_free_contig_mr:ibv_alloc_contig_mr \
	    ibv_contig_mr_buf:ibv_alloc_contig_mr; do
	alias=${pair%%:*} page=${pair#*:}
	[ "$(cat "$dir/$alias.3")" = ".so man3/$page.3" ] &&
		ok "$alias.3 is .so man3/$page.3" ||
		notok "$alias.3 is not an alias page of $page.3"
	# In the NAME line, where whatis finds it.
	if command -v lexgrog >/dev/null; then
		lexgrog "$dir/$page.3" | grep -q "$alias" &&
			ok "$page.3 names $alias in NAME" ||
			notok "$page.3 does not name $alias in NAME"
	else
		grep -q "$alias" "$dir/$page.3" &&
			ok "$page.3 documents $alias" ||
			notok "$page.3 does not mention $alias"
	fi
done
# Every exported function has a page (the _ibv_* ones are the inline
# ibv_query_* calls' back ends, documented on those pages).
for f in ibv_alloc_contig_buf ibv_free_contig_buf ibv_detach_contig_buf \
	 ibv_reg_contig_buf_mr \
	 ibv_query_contig_buf ibv_alloc_contig_mr ibv_alloc_contig_mr_ex \
	 ibv_free_contig_mr ibv_contig_mr_buf ibv_query_contig_mr; do
	[ -f "$dir/$f.3" ] || missing_page="$missing_page $f"
done
[ -z "${missing_page:-}" ] && ok "a page for each of the ten functions" ||
	notok "no page for:$missing_page"
grep -q '_ibv_query_contig_buf' "$dir/ibv_alloc_contig_buf.3" &&
	grep -q '_ibv_query_contig_mr' "$dir/ibv_query_contig_mr.3" &&
	ok "_ibv_query_contig_buf and _ibv_query_contig_mr are documented" ||
	notok "_ibv_query_contig_* not documented"
echo "1..$n"
exit $fail
