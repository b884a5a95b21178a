#!/bin/sh
# host_install BUILD_DIR WORK_DIR CC: `cmake --install` into a fresh prefix,
# then use the result as a user would: pkg-config, compile, link and run a
# program against it, run the installed example program against the
# installed library only, and read the man pages with man(1).
build=$1 work=$2 cc=${3:-cc}
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - # SKIP $1"; }
echo "TAP version 13"
command -v pkg-config >/dev/null ||
	{ echo "1..0 # SKIP pkg-config not installed"; exit 77; }

prefix=$work/prefix
rm -rf "$work" && mkdir -p "$work" || exit 1
if cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
	ok "cmake --install --prefix $prefix"
else
	notok "cmake --install failed"; sed 's/^/# /' "$work/install.log"
	echo "1..$n"; exit 1
fi

pc=$(find "$prefix" -name libibverbs-ext.pc | head -n1)
[ -n "$pc" ] && ok "libibverbs-ext.pc installed (${pc#$prefix/})" ||
	{ notok "no libibverbs-ext.pc"; echo "1..$n"; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir libibverbs-ext)
incdir=$(pkg-config --variable=includedir libibverbs-ext)
case $libdir in "$prefix"/*) ok "pkg-config libdir is in the prefix: $libdir" ;;
	*) notok "pkg-config libdir $libdir is not under $prefix" ;; esac
[ -f "$incdir/infiniband/verbs_contig.h" ] &&
	ok "header at \${includedir}/infiniband/verbs_contig.h" ||
	notok "no $incdir/infiniband/verbs_contig.h"
[ -L "$libdir/libibverbs-ext.so" ] && [ -L "$libdir/libibverbs-ext.so.1" ] &&
	[ -f "$libdir/libibverbs-ext.so.1.0.0" ] &&
	ok "libibverbs-ext.so -> .so.1 -> .so.1.0.0" ||
	notok "library links missing in $libdir"
pkg-config --print-requires libibverbs-ext | grep -qx libibverbs &&
	ok "Requires: libibverbs" || notok "Requires is not libibverbs"

cat >"$work/user.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <infiniband/verbs_contig.h>

int main(void)
{
	struct ibv_contig_mr_info info = { 0 };
	struct ibv_contig_buf *buf = NULL;
	struct ibv_mr *mr = ibv_alloc_contig_mr(NULL, 4096,
						IBV_ACCESS_LOCAL_WRITE);

	if (mr || errno != EINVAL)
		return 1;
	if (ibv_alloc_contig_buf(NULL, 4096, NULL, &buf) != EINVAL || buf)
		return 2;
	if (ibv_reg_contig_buf_mr(NULL, NULL, NULL, 4096, 0) ||
	    errno != EINVAL)
		return 3;
	if (ibv_query_contig_buf(NULL, &info) != EINVAL ||
	    ibv_query_contig_mr(NULL, &info) != EINVAL)
		return 4;
	if (ibv_contig_mr_buf(NULL) || errno != EINVAL)
		return 5;
	printf("EINVAL as documented\n");
	return ibv_free_contig_mr(NULL) == EINVAL &&
	       ibv_free_contig_buf(NULL) == EINVAL ? 0 : 6;
}
PROG
# shellcheck disable=SC2046
if "$cc" -Wall -Werror $(pkg-config --cflags libibverbs-ext) "$work/user.c" \
	-o "$work/user" $(pkg-config --libs libibverbs-ext) 2>"$work/cc.log"; then
	ok "compile and link with \`pkg-config --cflags --libs libibverbs-ext\`"
else
	notok "compile/link failed"; sed 's/^/# /' "$work/cc.log"
fi
if [ -x "$work/user" ]; then
	readelf -d "$work/user" | grep -q 'NEEDED.*\[libibverbs-ext.so.1\]' &&
		ok "the program needs libibverbs-ext.so.1" ||
		notok "the program does not record libibverbs-ext.so.1"
	out=$(LD_LIBRARY_PATH=$libdir "$work/user") &&
		ok "the program runs against the installed library: $out" ||
		notok "the program failed"
	LD_LIBRARY_PATH=$libdir ldd "$work/user" | grep -q "$libdir/libibverbs-ext.so.1" &&
		ok "it loads the installed copy" || notok "it loads another copy"
fi

# The installed example program: it must use the installed library, with
# nothing pointing back into the build tree.
demo=$(find "$prefix" -type f -name ibv_contig_mr_demo | head -n1)
if [ -z "$demo" ]; then
	notok "ibv_contig_mr_demo not installed"
else
	ok "ibv_contig_mr_demo installed (${demo#$prefix/})"
	# (The prefix itself may lie inside the build tree: only paths into
	# the build tree outside the prefix count.)
	outside() { sed "s|$prefix||g" | grep -F "$build"; }
	rpath=$(readelf -d "$demo" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
	if echo "$rpath" | outside >/dev/null; then
		notok "ibv_contig_mr_demo has an RPATH into the build tree: $rpath"
	else
		ok "ibv_contig_mr_demo has no RPATH into the build tree${rpath:+ ($rpath)}"
	fi
	readelf -d "$demo" | grep -q 'NEEDED.*\[libibverbs-ext.so.1\]' &&
		ok "ibv_contig_mr_demo needs libibverbs-ext.so.1" ||
		notok "ibv_contig_mr_demo does not record libibverbs-ext.so.1"
	libs=$(LD_LIBRARY_PATH=$libdir ldd "$demo" 2>&1)
	echo "$libs" | grep -q "libibverbs-ext.so.1 => $libdir/libibverbs-ext.so.1" &&
		ok "ibv_contig_mr_demo loads the installed libibverbs-ext.so.1" ||
		{ notok "ibv_contig_mr_demo loads another libibverbs-ext"; echo "$libs" | sed 's/^/# /'; }
	echo "$libs" | outside >/dev/null &&
		{ notok "ibv_contig_mr_demo loads something from the build tree"; echo "$libs" | sed 's/^/# /'; } ||
		ok "ibv_contig_mr_demo loads nothing from the build tree"
	# Without a device it says so and exits 77: the program runs.
	LD_LIBRARY_PATH=$libdir "$demo" -d no_such_device 4096 >"$work/demo.out" 2>&1
	rc=$?
	[ $rc = 77 ] && ok "the installed demo runs (no device: status 77)" ||
		{ notok "the installed demo: status $rc"; sed 's/^/# /' "$work/demo.out"; }
fi

# The example's sources build as a user would build them, against the
# installed library alone: nothing of the tests' helpers or the build tree.
examples=$(cd "$(dirname "$0")/../../libibverbs-ext/examples" && pwd)
# shellcheck disable=SC2046
if "$cc" -Wall -Wextra -Werror $(pkg-config --cflags libibverbs-ext) \
	"$examples"/*.c -o "$work/demo" $(pkg-config --libs libibverbs-ext) \
	2>"$work/demo-cc.log"; then
	ok "the example builds from its sources with \`pkg-config --cflags --libs libibverbs-ext\` only"
else
	notok "the example does not build against the installed library alone"
	sed 's/^/# /' "$work/demo-cc.log"
fi

mandir=$prefix/share/man
if [ ! -f "$mandir/man3/ibv_alloc_contig_mr.3" ]; then
	skip "man pages not built (pandoc missing)"
elif ! command -v man >/dev/null; then
	skip "man(1) not installed (man-db)"
else
	for page in ibv_alloc_contig_buf ibv_free_contig_buf \
		    ibv_detach_contig_buf \
		    ibv_reg_contig_buf_mr ibv_query_contig_buf \
		    ibv_alloc_contig_mr ibv_alloc_contig_mr_ex \
		    ibv_free_contig_mr ibv_contig_mr_buf ibv_query_contig_mr; do
		path=$(MANPATH=$mandir man -w "$page" 2>/dev/null)
		case $path in "$mandir"/*) ok "man -w $page: $path" ;;
			*) notok "man -w $page gave '$path'" ;; esac
	done
	MANPATH=$mandir MANWIDTH=200 man ibv_free_contig_mr 2>/dev/null |
		grep -q 'ibv_free_contig_mr, ibv_contig_mr_buf - allocate' &&
		ok "man ibv_free_contig_mr shows ibv_alloc_contig_mr(3)" ||
		notok "man ibv_free_contig_mr does not render"
	MANPATH=$mandir MANWIDTH=200 man 3 ibv_query_contig_mr 2>/dev/null |
		grep -q 'ibv_query_contig_mr - describe' &&
		ok "man 3 ibv_query_contig_mr renders" ||
		notok "man 3 ibv_query_contig_mr does not render"
	MANPATH=$mandir MANWIDTH=200 man ibv_reg_contig_buf_mr 2>/dev/null |
		grep -q 'ibv_reg_contig_buf_mr, ibv_query_contig_buf - physically' &&
		ok "man ibv_reg_contig_buf_mr shows ibv_alloc_contig_buf(3)" ||
		notok "man ibv_reg_contig_buf_mr does not render"
fi
echo "1..$n"
exit $fail
