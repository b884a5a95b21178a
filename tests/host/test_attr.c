// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * host_attr: argument checks (requests, access flags, registration ranges,
 * query sizes), comp_mask, flags, policy and environment parsing, the
 * back-end order of each policy, the registry, the NUMA and netlink parsers.
 * Pure functions of the library: no device, no system call.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <rdma/rdma_netlink.h>

#include "backend.h"
#include "cmr_test.h"
#include "contig_mr.h"
#include "nldev.h"

static struct ibv_context fake_ctx;
static struct ibv_pd fake_pd = { .context = &fake_ctx, .handle = 1 };

#define A(mask, node, fl, pol)                                                 \
	(&(struct ibv_alloc_contig_mr_attr){ .comp_mask = (mask),              \
					     .numa_node = (node),              \
					     .flags = (fl),                    \
					     .policy = (pol) })

static void test_min_extent(void)
{
	static const struct {
		uint64_t v;
		int want;
	} cases[] = {
		{ 0, EINVAL }, { 1, EINVAL }, { 2048, EINVAL },
		{ 4096, 0 }, { 4097, EINVAL }, { 3 << 20, EINVAL },
		{ 1 << 30, 0 }, { UINT64_C(1) << 63, 0 }, { UINT64_MAX, EINVAL },
	};
	struct ibv_alloc_contig_mr_attr a = {
		.comp_mask = IBV_CONTIG_MR_ATTR_MIN_EXTENT,
	};
	struct cmr_request req;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a.min_extent = cases[i].v;
		t_errno_is(cmr_check_request(&fake_pd, 4096, &a), cases[i].want,
			   "min_extent 0x%llx", (unsigned long long)cases[i].v);
	}
	a.min_extent = 1 << 30;
	t_ok(!cmr_build_request(&fake_pd, 4096, &a, "CONTIG", &req) &&
		     req.min_extent == 1 << 30,
	     "min_extent reaches the request");
	a.comp_mask = 0;
	t_ok(!cmr_build_request(&fake_pd, 4096, &a, "CONTIG", &req) &&
		     !req.min_extent,
	     "min_extent ignored without its comp_mask bit");
}

static void test_check_request(void)
{
	struct ibv_pd no_ctx = { 0 };

	t_errno_is(cmr_check_request(&fake_pd, 4096, NULL), 0, "plain request");
	t_errno_is(cmr_check_request(NULL, 4096, NULL), EINVAL, "NULL pd");
	t_errno_is(cmr_check_request(&no_ctx, 4096, NULL), EINVAL,
		   "pd without context");
	t_errno_is(cmr_check_request(&fake_pd, 0, NULL), EINVAL, "length 0");
	t_errno_is(cmr_check_request(&fake_pd, 1, NULL), 0, "length 1");
	t_errno_is(cmr_check_request(&fake_pd, CMR_MAX_LENGTH, NULL), 0,
		   "length CMR_MAX_LENGTH");
	t_errno_is(cmr_check_request(&fake_pd, CMR_MAX_LENGTH + 1, NULL),
		   EINVAL, "length CMR_MAX_LENGTH + 1");
	t_errno_is(cmr_check_request(&fake_pd, SIZE_MAX, NULL), EINVAL,
		   "length SIZE_MAX (overflows any rounding)");
	t_errno_is(cmr_check_request(&fake_pd, SIZE_MAX - 4095, NULL), EINVAL,
		   "length SIZE_MAX - 4095");

	t_errno_is(cmr_check_request(&fake_pd, 4096, A(0, 99, 99, 99)), 0,
		   "attr fields ignored without their comp_mask bit");
	t_errno_is(cmr_check_request(&fake_pd, 4096, A(1u << 4, 0, 0, 0)),
		   EINVAL, "unknown comp_mask bit 4");
	t_errno_is(cmr_check_request(&fake_pd, 4096, A(1u << 31, 0, 0, 0)),
		   EINVAL, "unknown comp_mask bit 31");
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_NUMA_NODE, -1, 0, 0)),
		   0, "numa_node -1 (no preference)");
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_NUMA_NODE, -2, 0, 0)),
		   EINVAL, "numa_node -2");
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_NUMA_NODE,
				       CMR_MAX_NUMA_NODES, 0, 0)),
		   EINVAL, "numa_node %d", CMR_MAX_NUMA_NODES);
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_FLAGS, 0, 2, 0)),
		   EINVAL, "unknown flag bit 1");
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_FLAGS |
					       IBV_CONTIG_MR_ATTR_NUMA_NODE,
				       -1, IBV_CONTIG_MR_NODE_STRICT, 0)),
		   EINVAL, "NODE_STRICT with numa_node -1");
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_FLAGS, 0,
				       IBV_CONTIG_MR_NODE_STRICT, 0)),
		   0, "NODE_STRICT on the default node");
	t_errno_is(cmr_check_request(&fake_pd, 4096,
				     A(IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
				       IBV_CONTIG_MR_POLICY_HUGE + 1)),
		   EINVAL, "unknown policy");
	test_min_extent();
}

static void test_check_access(void)
{
	t_errno_is(cmr_check_access(IBV_ACCESS_LOCAL_WRITE |
				    IBV_ACCESS_REMOTE_READ),
		   0, "local write, remote read");
	t_errno_is(cmr_check_access(0), 0, "no access flag");
	t_errno_is(cmr_check_access(IBV_ACCESS_ON_DEMAND), EINVAL,
		   "IBV_ACCESS_ON_DEMAND");
	t_errno_is(cmr_check_access(IBV_ACCESS_ZERO_BASED), EINVAL,
		   "IBV_ACCESS_ZERO_BASED");
	t_errno_is(cmr_check_access(1u << 31), EINVAL, "unknown access bit 31");
	t_errno_is(cmr_check_access(IBV_ACCESS_LOCAL_WRITE |
				    IBV_ACCESS_REMOTE_WRITE |
				    IBV_ACCESS_REMOTE_ATOMIC |
				    IBV_ACCESS_MW_BIND |
				    IBV_ACCESS_RELAXED_ORDERING),
		   0, "all supported access flags");
}

static void test_check_range(void)
{
	static char mem[3 * 4096] __attribute__((aligned(4096)));
	const unsigned int rw = IBV_ACCESS_LOCAL_WRITE;
	struct ibv_contig_buf b = { .context = &fake_ctx, .addr = mem,
				    .length = sizeof(mem) };
	struct ibv_context other_ctx;
	struct ibv_pd other_pd = { .context = &other_ctx };
	struct ibv_pd no_ctx = { 0 };
	char *end = mem + sizeof(mem);

	t_errno_is(cmr_check_range(&fake_pd, &b, mem, sizeof(mem), rw), 0,
		   "the whole buffer");
	t_errno_is(cmr_check_range(&fake_pd, &b, mem + 1, 100, rw), 0,
		   "100 bytes at offset 1");
	t_errno_is(cmr_check_range(&fake_pd, &b, end - 1, 1, rw), 0,
		   "the last byte");
	t_errno_is(cmr_check_range(&fake_pd, &b, mem, 0, rw), EINVAL,
		   "length 0");
	t_errno_is(cmr_check_range(&fake_pd, &b, end, 0, rw), EINVAL,
		   "length 0 at the end");
	t_errno_is(cmr_check_range(&fake_pd, &b, end, 1, rw), EINVAL,
		   "one byte past the end");
	t_errno_is(cmr_check_range(&fake_pd, &b, mem, sizeof(mem) + 1, rw),
		   EINVAL, "one byte too long");
	t_errno_is(cmr_check_range(&fake_pd, &b, end - 1, 2, rw), EINVAL,
		   "crossing the end");
	t_errno_is(cmr_check_range(&fake_pd, &b,
				   (void *)((uintptr_t)mem - 1), 2, rw),
		   EINVAL, "starting before the buffer");
	t_errno_is(cmr_check_range(&fake_pd, &b, mem + 4096, SIZE_MAX, rw),
		   EINVAL, "length SIZE_MAX (addr + length overflows)");
	t_errno_is(cmr_check_range(&fake_pd, &b, (void *)UINTPTR_MAX, 2, rw),
		   EINVAL, "address UINTPTR_MAX");
	t_errno_is(cmr_check_range(&other_pd, &b, mem, 4096, rw), EINVAL,
		   "a PD of another context");
	t_errno_is(cmr_check_range(NULL, &b, mem, 4096, rw), EINVAL,
		   "NULL pd");
	t_errno_is(cmr_check_range(&no_ctx, &b, mem, 4096, rw), EINVAL,
		   "pd without context");
	t_errno_is(cmr_check_range(&fake_pd, NULL, mem, 4096, rw), EINVAL,
		   "NULL buffer");
	t_errno_is(cmr_check_range(&fake_pd, &b, mem, 4096,
				   IBV_ACCESS_ON_DEMAND),
		   EINVAL, "inside, but IBV_ACCESS_ON_DEMAND");
}

static void test_check_info(void)
{
	struct ibv_contig_mr_info info = { 0 };

	t_ok(IBV_CONTIG_MR_INFO_SIZE_V1 == 48 && sizeof(info) == 56,
	     "info: version 1 is 48 bytes, today's struct 56");
	t_errno_is(cmr_check_info(&info, sizeof(info)), 0, "sizeof(info)");
	t_errno_is(cmr_check_info(&info, IBV_CONTIG_MR_INFO_SIZE_V1), 0,
		   "IBV_CONTIG_MR_INFO_SIZE_V1");
	t_errno_is(cmr_check_info(&info, sizeof(info) + 64), 0,
		   "larger than this library's struct");
	t_errno_is(cmr_check_info(&info, IBV_CONTIG_MR_INFO_SIZE_V1 - 1),
		   EINVAL, "IBV_CONTIG_MR_INFO_SIZE_V1 - 1");
	t_errno_is(cmr_check_info(&info, 0), EINVAL, "info_size 0");
	t_errno_is(cmr_check_info(NULL, sizeof(info)), EINVAL, "NULL info");
	info.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES |
			 IBV_CONTIG_MR_INFO_NUMA_NODE;
	t_errno_is(cmr_check_info(&info, sizeof(info)), 0,
		   "both known comp_mask bits");
	info.comp_mask = 1u << 2;
	t_errno_is(cmr_check_info(&info, sizeof(info)), EINVAL,
		   "unknown comp_mask bit 2");
}

static void test_env(void)
{
	static const struct {
		const char *value;
		int ret;
		enum ibv_contig_mr_policy policy;
	} cases[] = {
		{ NULL, 0, IBV_CONTIG_MR_POLICY_CONTIG },
		{ "", 0, IBV_CONTIG_MR_POLICY_CONTIG },
		{ "CONTIG", 0, IBV_CONTIG_MR_POLICY_CONTIG },
		{ "contig", 0, IBV_CONTIG_MR_POLICY_CONTIG },
		{ "ALL", 0, IBV_CONTIG_MR_POLICY_ALL },
		{ "All", 0, IBV_CONTIG_MR_POLICY_ALL },
		{ "HUGE", 0, IBV_CONTIG_MR_POLICY_HUGE },
		{ "ANON", EINVAL, 0 },
		{ "HUGE ", EINVAL, 0 },
		{ " ALL", EINVAL, 0 },
		{ "CONTIGX", EINVAL, 0 },
		{ "1", EINVAL, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum ibv_contig_mr_policy p = 99;
		int ret = cmr_policy_from_env(cases[i].value, &p);

		t_ok(ret == cases[i].ret && (ret || p == cases[i].policy),
		     "%s=%s%s%s -> %s", CMR_ENV_POLICY,
		     cases[i].value ? "\"" : "",
		     cases[i].value ? cases[i].value : "(unset)",
		     cases[i].value ? "\"" : "",
		     cases[i].ret ? "EINVAL" : "ok");
	}
}

static void test_resolve(void)
{
	enum ibv_contig_mr_policy p;

	t_ok(!cmr_resolve_policy(NULL, "HUGE", &p) &&
		     p == IBV_CONTIG_MR_POLICY_HUGE,
	     "no attr: the environment decides");
	t_ok(!cmr_resolve_policy(A(IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
				   IBV_CONTIG_MR_POLICY_CONTIG),
				 "HUGE", &p) &&
		     p == IBV_CONTIG_MR_POLICY_CONTIG,
	     "attr policy overrides the environment");
	t_ok(!cmr_resolve_policy(A(IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
				   IBV_CONTIG_MR_POLICY_ALL),
				 "BOGUS", &p) &&
		     p == IBV_CONTIG_MR_POLICY_ALL,
	     "attr policy: a bad environment value is not even read");
	t_ok(!cmr_resolve_policy(A(IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
				   IBV_CONTIG_MR_POLICY_DEFAULT),
				 "ALL", &p) &&
		     p == IBV_CONTIG_MR_POLICY_ALL,
	     "attr POLICY_DEFAULT: the environment decides");
	t_ok(cmr_resolve_policy(A(0, 0, 0, IBV_CONTIG_MR_POLICY_CONTIG),
				"BOGUS", &p) == EINVAL,
	     "policy without its comp_mask bit: environment, EINVAL");
}

static void test_build_request(void)
{
	struct cmr_request r;

	memset(&r, 0xa5, sizeof(r));
	t_ok(!cmr_build_request(&fake_pd, 5000, NULL, NULL, &r) &&
		     r.pd == &fake_pd && r.length == 5000 &&
		     r.numa_node == CMR_NODE_DEFAULT && !r.node_strict &&
		     r.policy == IBV_CONTIG_MR_POLICY_CONTIG,
	     "request without attr: default node, not strict, CONTIG");
	t_ok(!cmr_build_request(&fake_pd, 5000,
				A(IBV_CONTIG_MR_ATTR_NUMA_NODE |
					  IBV_CONTIG_MR_ATTR_FLAGS |
					  IBV_CONTIG_MR_ATTR_POLICY,
				  2, IBV_CONTIG_MR_NODE_STRICT,
				  IBV_CONTIG_MR_POLICY_ALL),
				NULL, &r) &&
		     r.numa_node == 2 && r.node_strict &&
		     r.policy == IBV_CONTIG_MR_POLICY_ALL,
	     "request with every attribute");
	t_ok(!cmr_build_request(&fake_pd, 5000,
				A(IBV_CONTIG_MR_ATTR_NUMA_NODE, -1, 0, 0),
				NULL, &r) &&
		     r.numa_node == -1,
	     "numa_node -1 kept (no preference)");
	t_ok(cmr_build_request(&fake_pd, 5000, NULL, "nope", &r) == EINVAL,
	     "bad environment value: EINVAL");
	t_ok(cmr_build_request(NULL, 5000, NULL, "nope", &r) == EINVAL,
	     "argument errors first");
}

static void test_backends(void)
{
	const struct cmr_backend *l[4];
	unsigned int n;

	n = cmr_policy_backends(IBV_CONTIG_MR_POLICY_CONTIG, CMR_SZ_1G, l, 4);
	t_ok(n == 1 && l[0] == &cmr_backend_kernel_contig,
	     "CONTIG: kernel only");
	n = cmr_policy_backends(IBV_CONTIG_MR_POLICY_ALL, CMR_SZ_1G, l, 4);
	t_ok(n == 3 && l[0] == &cmr_backend_kernel_contig &&
		     l[1] == &cmr_backend_hugetlb_1g &&
		     l[2] == &cmr_backend_hugetlb_2m,
	     "ALL, 1 GiB: kernel, 1G pages, 2M pages");
	n = cmr_policy_backends(IBV_CONTIG_MR_POLICY_ALL, CMR_SZ_1G - 1, l, 4);
	t_ok(n == 2 && l[0] == &cmr_backend_kernel_contig &&
		     l[1] == &cmr_backend_hugetlb_2m,
	     "ALL, under 1 GiB: kernel, 2M pages");
	n = cmr_policy_backends(IBV_CONTIG_MR_POLICY_HUGE, 3 * CMR_SZ_1G, l, 4);
	t_ok(n == 2 && l[0] == &cmr_backend_hugetlb_1g &&
		     l[1] == &cmr_backend_hugetlb_2m,
	     "HUGE, 3 GiB: 1G pages, 2M pages");
	n = cmr_policy_backends(IBV_CONTIG_MR_POLICY_HUGE, 4096, l, 4);
	t_ok(n == 1 && l[0] == &cmr_backend_hugetlb_2m,
	     "HUGE, 4 KiB: 2M pages");
	t_ok(cmr_backend_kernel_contig.kind ==
			     IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG &&
		     cmr_backend_hugetlb_1g.kind ==
			     IBV_CONTIG_MR_BACKEND_HUGETLB_1G &&
		     cmr_backend_hugetlb_1g.page_size == CMR_SZ_1G &&
		     cmr_backend_hugetlb_2m.kind ==
			     IBV_CONTIG_MR_BACKEND_HUGETLB_2M &&
		     cmr_backend_hugetlb_2m.page_size == CMR_SZ_2M,
	     "back-end kinds and page sizes");
}

/* The registry on made-up buffers: it never follows pub.addr. */
static void test_registry(void)
{
	static struct cmr_buf b1, b2, b3;
	struct ibv_mr mr = { .handle = 7, .lkey = 0x700, .length = 100 };
	char *a1 = (char *)0x100000, *a2 = (char *)0x300000;
	struct cmr_buf copy;

	b1.pub = (struct ibv_contig_buf){ &fake_ctx, a1, 0x200000 };
	b1.numa_node = 1;
	b2.pub = (struct ibv_contig_buf){ &fake_ctx, a2, 0x1000 };
	b2.numa_node = 2;
	cmr_registry_add(&b1);
	cmr_registry_add(&b2);

	t_ok(!cmr_registry_copy(&b1, &copy) && copy.numa_node == 1 &&
		     copy.pub.addr == a1,
	     "copy of a live buffer");
	t_errno_is(cmr_registry_copy(&b3, &copy), EINVAL,
		   "copy of a buffer never added");
	t_ok(!cmr_registry_copy_range(a1, 0x200000, &copy) &&
		     copy.numa_node == 1,
	     "range: the whole first buffer");
	t_ok(!cmr_registry_copy_range(a1 + 0x1ff000, 0x1000, &copy) &&
		     copy.numa_node == 1,
	     "range: its last page");
	t_errno_is(cmr_registry_copy_range(a1 + 0x1ff000, 0x1001, &copy),
		   EINVAL, "range: one byte beyond it");
	t_ok(!cmr_registry_copy_range(a2 + 1, 10, &copy) &&
		     copy.numa_node == 2,
	     "range: inside the second buffer");
	t_errno_is(cmr_registry_copy_range(a1 - 1, 10, &copy), EINVAL,
		   "range: starting before any buffer");
	t_errno_is(cmr_registry_copy_range(a2, SIZE_MAX, &copy), EINVAL,
		   "range: length SIZE_MAX");

	mr.addr = a1;
	t_ok(!cmr_registry_mr_buf(&mr), "no one-call MR yet");
	cmr_registry_set_mr(&b1, &mr);
	t_ok(cmr_registry_mr_buf(&mr) == &b1, "the one-call MR finds b1");
	mr.handle = 8;
	t_ok(!cmr_registry_mr_buf(&mr),
	     "same pointer, another handle: not that MR");
	mr.handle = 7;
	mr.lkey = 0x701;
	t_ok(!cmr_registry_mr_buf(&mr), "same pointer, another lkey: not it");
	mr.lkey = 0x700;
	mr.addr = a1 + 4096;
	t_ok(!cmr_registry_mr_buf(&mr), "same pointer, another address: not it");
	mr.addr = a1;
	t_ok(cmr_registry_take_mr(&mr) == &b1 && !cmr_registry_mr_buf(&mr),
	     "take: found once, then gone");
	cmr_registry_set_mr(&b1, &mr);
	cmr_registry_forget_mr(&mr);
	t_ok(!cmr_registry_mr_buf(&mr),
	     "forget: a new MR at that address drops the association");
	cmr_registry_set_mr(&b1, &mr);
	cmr_registry_set_mr(&b2, &mr);
	t_ok(cmr_registry_mr_buf(&mr) != &b1,
	     "set on another buffer drops the old association");

	t_ok(cmr_registry_remove(&b1) && !cmr_registry_remove(&b1),
	     "remove: once, then EINVAL-worthy");
	t_errno_is(cmr_registry_copy_range(a1, 10, &copy), EINVAL,
		   "a removed buffer is not found by address");
	t_ok(cmr_registry_remove(&b2) && !cmr_registry_remove(&b3),
	     "remove the second; a never-added one is not live");
}

static void test_numa_parse(void)
{
	t_ok(cmr_parse_numa_node("0\n") == 0, "sysfs \"0\\n\" -> 0");
	t_ok(cmr_parse_numa_node("3") == 3, "\"3\" -> 3");
	t_ok(cmr_parse_numa_node("-1\n") == -1, "\"-1\\n\" -> -1 (no node)");
	t_ok(cmr_parse_numa_node("") == -1 && cmr_parse_numa_node(NULL) == -1,
	     "empty -> -1");
	t_ok(cmr_parse_numa_node("x") == -1 && cmr_parse_numa_node("1x") == -1,
	     "garbage -> -1");
	t_ok(cmr_parse_numa_node("99999") == -1, "out of range -> -1");
}

/* ---- netlink messages built by hand, as the kernel lays them out -------- */

struct msgbuf {
	char buf[4096] __attribute__((aligned(8)));
	size_t len;
	size_t nest[8];
	int depth;
};

static void put(struct msgbuf *m, uint16_t type, const void *data,
		size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy(m->buf + m->len + NLA_HDRLEN, data, len);
	m->len += NLA_ALIGN(a->nla_len);
}

static void put_u32(struct msgbuf *m, uint16_t type, uint32_t v)
{
	put(m, type, &v, 4);
}

static void put_u64(struct msgbuf *m, uint16_t type, uint64_t v)
{
	put(m, type, &v, 8);
}

static void put_str(struct msgbuf *m, uint16_t type, const char *s)
{
	put(m, type, s, strlen(s) + 1);
}

static void nest_start(struct msgbuf *m, uint16_t type)
{
	m->nest[m->depth++] = m->len;
	put(m, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct msgbuf *m)
{
	size_t start = m->nest[--m->depth];
	struct nlattr *a = (struct nlattr *)(m->buf + start);

	a->nla_len = m->len - start;
}

static void msg_start(struct msgbuf *m)
{
	memset(m, 0, sizeof(*m));
	m->len = NLMSG_HDRLEN;
}

static struct nlmsghdr *msg_end(struct msgbuf *m)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;

	nlh->nlmsg_len = m->len;
	nlh->nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV,
					   RDMA_NLDEV_CMD_RES_MR_GET);
	nlh->nlmsg_flags = NLM_F_MULTI;
	return nlh;
}

/* A driver nest in rxe's layout: page_size, map_entries, a string entry. */
static void put_rxe_driver(struct msgbuf *m, uint64_t page_size,
			   uint32_t entries)
{
	uint8_t hex = RDMA_NLDEV_PRINT_TYPE_HEX;

	nest_start(m, RDMA_NLDEV_ATTR_DRIVER);
	put_str(m, RDMA_NLDEV_ATTR_DRIVER_STRING, "page_size");
	put_u64(m, RDMA_NLDEV_ATTR_DRIVER_U64, page_size);
	put_str(m, RDMA_NLDEV_ATTR_DRIVER_STRING, "state");
	put_str(m, RDMA_NLDEV_ATTR_DRIVER_STRING, "valid");
	put_str(m, RDMA_NLDEV_ATTR_DRIVER_STRING, "map_entries");
	put(m, RDMA_NLDEV_ATTR_DRIVER_PRINT_TYPE, &hex, 1);
	put_u32(m, RDMA_NLDEV_ATTR_DRIVER_U32, entries);
	nest_end(m);
}

static void put_mr(struct msgbuf *m, uint32_t lkey, bool with_driver,
		   uint64_t page_size, uint32_t entries)
{
	nest_start(m, RDMA_NLDEV_ATTR_RES_MR_ENTRY);
	put_u32(m, RDMA_NLDEV_ATTR_RES_RKEY, lkey);
	put_u32(m, RDMA_NLDEV_ATTR_RES_LKEY, lkey);
	put_u64(m, RDMA_NLDEV_ATTR_RES_MRLEN, 1ull << 30);
	put_u32(m, RDMA_NLDEV_ATTR_RES_MRN, lkey >> 8);
	put_u32(m, RDMA_NLDEV_ATTR_RES_PID, 1234);
	if (with_driver)
		put_rxe_driver(m, page_size, entries);
	nest_end(m);
}

static void test_netlink_parse(void)
{
	const struct cmr_device_ops *ops;
	struct cmr_drv_attrs attrs;
	struct nlmsghdr *nlh;
	struct msgbuf m;
	uint64_t ps = 0, n = 0, v;

	msg_start(&m);
	put_u32(&m, RDMA_NLDEV_ATTR_DEV_INDEX, 1);
	put_str(&m, RDMA_NLDEV_ATTR_DEV_NAME, "rxe0");
	nest_start(&m, RDMA_NLDEV_ATTR_RES_MR);
	put_mr(&m, 0x1234, true, 4096, 7);
	put_mr(&m, 0x5678, false, 0, 0);
	put_mr(&m, 0x9abc, true, 1ull << 30, 1);
	nest_end(&m);
	nlh = msg_end(&m);

	t_errno_is(cmr_nl_parse_mr_msg(nlh, 0x9abc, &attrs), 0,
		   "the third MR of a dump message is found by lkey");
	t_ok(attrs.n == 3, "three driver attributes (got %u)", attrs.n);
	t_ok(cmr_drv_attr_get(&attrs, "page_size", &v) && v == 1ull << 30,
	     "page_size (u64) = 1 GiB");
	t_ok(cmr_drv_attr_get(&attrs, "map_entries", &v) && v == 1,
	     "map_entries (u32 after a print type) = 1");
	t_ok(!cmr_drv_attr_get(&attrs, "state", &v),
	     "a string attribute is not numeric");
	t_ok(!cmr_drv_attr_get(&attrs, "missing", &v), "absent attribute");

	t_errno_is(cmr_nl_parse_mr_msg(nlh, 0x1234, &attrs), 0,
		   "the first MR is found");
	t_ok(cmr_drv_attr_get(&attrs, "page_size", &v) && v == 4096,
	     "its page_size is its own");
	t_errno_is(cmr_nl_parse_mr_msg(nlh, 0x5678, &attrs), 0,
		   "an MR without driver attributes is found");
	t_ok(attrs.n == 0, "with no attributes");
	t_errno_is(cmr_nl_parse_mr_msg(nlh, 0x4242, &attrs), ENOENT,
		   "an lkey not in the message");

	ops = cmr_device_ops(RDMA_DRIVER_RXE);
	t_ok(ops && !strcmp(ops->name, "rxe"), "rxe has a device helper");
	t_ok(!cmr_device_ops(RDMA_DRIVER_UNKNOWN) && !cmr_device_ops(1000),
	     "other drivers have none");
	cmr_nl_parse_mr_msg(nlh, 0x9abc, &attrs);
	t_ok(ops && !ops->mr_pages(&attrs, &ps, &n) && ps == 1ull << 30 &&
		     n == 1,
	     "rxe helper: page size 1 GiB, 1 entry");
	cmr_nl_parse_mr_msg(nlh, 0x5678, &attrs);
	t_ok(ops && ops->mr_pages(&attrs, &ps, &n) == ENOENT,
	     "rxe helper without the attributes: ENOENT");

	/* Malformed: a value with no name before it. */
	msg_start(&m);
	nest_start(&m, RDMA_NLDEV_ATTR_RES_MR);
	nest_start(&m, RDMA_NLDEV_ATTR_RES_MR_ENTRY);
	put_u32(&m, RDMA_NLDEV_ATTR_RES_LKEY, 1);
	nest_start(&m, RDMA_NLDEV_ATTR_DRIVER);
	put_u32(&m, RDMA_NLDEV_ATTR_DRIVER_U32, 5);
	nest_end(&m);
	nest_end(&m);
	nest_end(&m);
	nlh = msg_end(&m);
	t_errno_is(cmr_nl_parse_mr_msg(nlh, 1, &attrs), EPROTO,
		   "a driver value without a name");

	/* Truncated: an attribute running past the message. */
	msg_start(&m);
	nest_start(&m, RDMA_NLDEV_ATTR_RES_MR);
	put_mr(&m, 0x77, true, 8192, 2);
	nest_end(&m);
	nlh = msg_end(&m);
	((struct nlmsghdr *)m.buf)->nlmsg_len = NLMSG_HDRLEN + 8;
	t_errno_is(cmr_nl_parse_mr_msg(nlh, 0x77, &attrs), ENOENT,
		   "a truncated message is not read past its end");
}

static void test_helpers(void)
{
	uint8_t buf[100];
	uint64_t sz;

	t_ok(!t_parse_size("1G", &sz) && sz == 1ul << 30, "t_parse_size 1G");
	t_ok(!t_parse_size("64k", &sz) && sz == 64 << 10, "t_parse_size 64k");
	t_ok(!t_parse_size("2MiB", &sz) && sz == 2 << 20, "t_parse_size 2MiB");
	t_ok(!t_parse_size("4097", &sz) && sz == 4097, "t_parse_size 4097");
	t_ok(t_parse_size("x", &sz) && t_parse_size("1Q", &sz) &&
		     t_parse_size("-1", &sz),
	     "t_parse_size rejects garbage");
	t_ok(!t_parse_size("3M+4K", &sz) && sz == (3 << 20) + 4096,
	     "t_parse_size 3M+4K");
	t_ok(t_parse_size("", &sz) && t_parse_size("1M+", &sz) &&
		     t_parse_size("+1M", &sz) && t_parse_size("17179869184G", &sz) &&
		     t_parse_size("18446744073709551615+1", &sz),
	     "t_parse_size rejects empty terms and overflow");
	t_fill(buf, sizeof(buf), 7, 13);
	t_ok(t_check(buf, sizeof(buf), 7, 13) == -1, "pattern round trip");
	t_ok(t_check(buf + 3, 50, 7, 16) == -1, "pattern slice at an offset");
	buf[42] ^= 1;
	t_ok(t_check(buf, sizeof(buf), 7, 13) == 42, "pattern mismatch found");
	memset(buf, 0, sizeof(buf));
	buf[77] = 1;
	t_ok(t_check_zero(buf, sizeof(buf)) == 77 &&
		     t_check_zero(buf, 77) == -1,
	     "t_check_zero");
	t_ok(t_meminfo_kb("MemFree") > 0 && t_meminfo_kb("NoSuchField") == -1,
	     "t_meminfo_kb");
}

int main(void)
{
	test_check_request();
	test_check_access();
	test_check_range();
	test_check_info();
	test_env();
	test_resolve();
	test_build_request();
	test_backends();
	test_registry();
	test_numa_parse();
	test_netlink_parse();
	test_helpers();
	return t_done();
}
