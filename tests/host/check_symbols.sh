#!/bin/sh
# host_symbols LIB: the shared library exports exactly the public API, in
# versions IBVERBS_EXT_1.0 and 1.1, under the soname libibverbs-ext.so.1.
lib=$1
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
command -v nm >/dev/null || { echo "1..0 # SKIP nm not installed"; exit 77; }
echo "TAP version 13"

# Sorted in the C locale (the ibv_query_contig_* calls are inline wrappers
# over the _ibv_* symbols).
export LC_ALL=C
want='IBVERBS_EXT_1.0
IBVERBS_EXT_1.1
_ibv_query_contig_buf@@IBVERBS_EXT_1.0
_ibv_query_contig_mr@@IBVERBS_EXT_1.0
ibv_alloc_contig_buf@@IBVERBS_EXT_1.0
ibv_alloc_contig_mr@@IBVERBS_EXT_1.0
ibv_alloc_contig_mr_ex@@IBVERBS_EXT_1.0
ibv_contig_mr_buf@@IBVERBS_EXT_1.0
ibv_detach_contig_buf@@IBVERBS_EXT_1.1
ibv_free_contig_buf@@IBVERBS_EXT_1.0
ibv_free_contig_mr@@IBVERBS_EXT_1.0
ibv_reg_contig_buf_mr@@IBVERBS_EXT_1.0'
got=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
if [ "$got" = "$want" ]; then
	ok "exported: the ten functions of the API and their version nodes"
else
	notok "exported symbols differ"
	echo "$got" | sed 's/^/# got: /'
fi

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = libibverbs-ext.so.1 ] && ok "soname libibverbs-ext.so.1" ||
	notok "soname is '$soname'"

needed=$(readelf -d "$lib" | sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p' |
	 sort | tr '\n' ' ')
# libnl-3: RDMA netlink, through the library libibverbs uses for it.
[ "$needed" = "libc.so.6 libibverbs.so.1 libnl-3.so.200 " ] &&
	ok "needs only libibverbs.so.1, libnl-3.so.200 and libc.so.6" ||
	notok "needs: $needed"

# No internal symbol may leak, not even with another version.
leaks=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -E '^_?(cmr_|t_)' || true)
[ -z "$leaks" ] && ok "no cmr_* internals exported" || notok "exported: $leaks"

echo "1..$n"
exit $fail
