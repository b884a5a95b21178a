// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_errors: the errors of the library's calls that need the kernel or a
 * live buffer, and the uverbs ioctl layer's own checks of
 * UVERBS_METHOD_CONTIG_BUF_ALLOC reached through the library's raw encoder
 * (libibverbs-ext-internal), where the public API cannot produce the
 * input: method and object ids the kernel does not have, a wrong driver
 * id, a reserved header field, unknown mandatory and optional attributes,
 * missing and malformed ones. (The method's own checks of lengths, flags,
 * nodes, handles and outputs are kernel_errors'.) Then RLIMIT_MEMLOCK
 * without CAP_IPC_LOCK: the buffer is charged as locked memory (VmLck),
 * its MR as pinned memory (VmPin), each against the limit on its own.
 *
 *   vm_errors [--require]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "contig_mr.h"
#include "kt.h"

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static bool require;

static void check_support(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, 4096, 0);

	if (mr) {
		ibv_free_contig_mr(mr);
		return;
	}
	if (errno == EOPNOTSUPP && !require)
		t_skip_all("kernel without UVERBS_OBJECT_CONTIG_BUF");
	t_bail("ibv_alloc_contig_mr(4 KiB): %s", strerrorname_np(errno));
}

/* A failed allocation leaves no buffer: VmLck and the mappings as before. */
static void nothing_left(const char *what, long long lck, int maps)
{
	long long now = t_status_kb(0, "VmLck");
	int m = t_mappings_of("contig_buf");

	t_ok(now == lck && m == maps, "%s: no buffer left (VmLck %+lld kB, "
	     "contig_buf mappings %d -> %d)", what, now - lck, maps, m);
}

static void api_errors(void)
{
	long long lck = t_status_kb(0, "VmLck");
	int maps = t_mappings_of("contig_buf");
	struct ibv_contig_buf *buf = NULL;
	struct ibv_mr *mr;
	int ret;

	mr = ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_REMOTE_WRITE);
	t_errno_is(mr ? 0 : errno, EINVAL,
		   "REMOTE_WRITE without LOCAL_WRITE (ib_check_mr_access in "
		   "ibv_reg_mr)");
	mr = ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_REMOTE_ATOMIC);
	t_errno_is(mr ? 0 : errno, EINVAL,
		   "REMOTE_ATOMIC without LOCAL_WRITE");
	mr = ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_ON_DEMAND);
	t_errno_is(mr ? 0 : errno, EINVAL, "ON_DEMAND (refused by the "
		   "library)");
	mr = ibv_alloc_contig_mr(pd, 1ul << 40, 0);
	t_errno_is(mr ? 0 : errno, ENOMEM, "1 TiB: more than the RAM");
	mr = ibv_alloc_contig_mr(pd, CMR_MAX_LENGTH, 0);
	t_errno_is(mr ? 0 : errno, ENOMEM, "the longest length accepted");
	ret = ibv_alloc_contig_buf(pd, 1ul << 40, NULL, &buf);
	t_errno_is(ret, ENOMEM, "ibv_alloc_contig_buf of 1 TiB");
	nothing_left("after the failed allocations", lck, maps);

	ret = ibv_alloc_contig_buf(pd, 4096, NULL, NULL);
	t_errno_is(ret, EINVAL, "ibv_alloc_contig_buf with buf NULL");
	t_errno_is(ibv_free_contig_buf(NULL), EINVAL,
		   "ibv_free_contig_buf(NULL)");
	t_errno_is(ibv_free_contig_mr(NULL), EINVAL,
		   "ibv_free_contig_mr(NULL)");
	errno = 0;
	t_ok(!ibv_contig_mr_buf(NULL) && errno == EINVAL,
	     "ibv_contig_mr_buf(NULL): NULL, EINVAL");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(pd, NULL, NULL, 4096, 0) &&
		     errno == EINVAL,
	     "ibv_reg_contig_buf_mr without a buffer: EINVAL");

	ret = ibv_alloc_contig_buf(pd, 8192, NULL, &buf);
	if (!t_errno_is(ret, 0, "ibv_alloc_contig_buf of 8 KiB"))
		return;
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(pd, buf, buf->addr, 0, 0) &&
		     errno == EINVAL,
	     "ibv_reg_contig_buf_mr of length 0: EINVAL");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(pd, buf, buf->addr, 4096,
				    IBV_ACCESS_ON_DEMAND) &&
		     errno == EINVAL,
	     "ibv_reg_contig_buf_mr with ON_DEMAND: EINVAL");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(pd, buf, (char *)buf->addr + 4096, 8192,
				    0) &&
		     errno == EINVAL,
	     "ibv_reg_contig_buf_mr past the end: EINVAL");
	t_errno_is(_ibv_query_contig_buf(buf, &(struct ibv_contig_mr_info){ 0 },
					 IBV_CONTIG_MR_INFO_SIZE_V1 - 1),
		   EINVAL, "ibv_query_contig_buf with a short info_size");
	t_errno_is(ibv_free_contig_buf(buf), 0, "ibv_free_contig_buf");
	t_errno_is(ibv_free_contig_buf(buf), EINVAL,
		   "ibv_free_contig_buf of a freed buffer");
	nothing_left("after the free", lck, maps);
}

/* ---- raw commands ------------------------------------------------------- */

struct raw {
	struct cmr_ioctl_cmd cmd;
	struct cmr_buf_alloc_out out;
};

static void raw_init(struct raw *r, uint64_t length)
{
	struct cmr_buf_alloc_in in = { .length = length, .numa_node = -1 };

	cmr_encode_buf_alloc(&r->cmd, kt_raw_driver_id(), &in, &r->out);
}

static void raw_add(struct raw *r, uint16_t id, uint16_t len, uint16_t flags,
		    uint64_t data)
{
	struct ib_uverbs_attr *a = &r->cmd.attrs[r->cmd.hdr.num_attrs++];

	a->attr_id = id;
	a->len = len;
	a->flags = flags;
	a->data = data;
	r->cmd.hdr.length += sizeof(*a);
}

static void raw_drop(struct raw *r, uint16_t id)
{
	struct ib_uverbs_attr *a = kt_cmd_attr(&r->cmd, id);
	unsigned int i = a - r->cmd.attrs;

	memmove(a, a + 1, (r->cmd.hdr.num_attrs - i - 1) * sizeof(*a));
	r->cmd.hdr.num_attrs--;
	r->cmd.hdr.length -= sizeof(*a);
}

/* Run; on success undo it (FREE, close) and return 0. */
static int raw_run(struct raw *r)
{
	int ret = cmr_ioctl(ctx->cmd_fd, &r->cmd);

	if (ret)
		return ret;
	cmr_decode_buf_alloc(&r->cmd, &r->out);
	if (kt_raw_free(ctx, r->out.handle))
		t_diag("raw FREE failed");
	if (r->out.fd >= 0)
		close(r->out.fd);
	return 0;
}

static void raw_errors(void)
{
	static const uint16_t outs[] = {
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD,
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH,
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT,
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE,
	};
	unsigned int i, valid = 0;
	struct raw r;

	raw_init(&r, 4096);
	t_errno_is(raw_run(&r), 0, "raw: a well-formed command succeeds");
	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
		if (kt_cmd_attr(&r.cmd, outs[i])->flags &
		    UVERBS_ATTR_F_VALID_OUTPUT)
			valid++;
	t_ok(valid == sizeof(outs) / sizeof(outs[0]),
	     "raw: the kernel marks all %u outputs valid (%u)",
	     (unsigned int)(sizeof(outs) / sizeof(outs[0])), valid);

	/* What a kernel without the series answers. */
	raw_init(&r, 4096);
	r.cmd.hdr.method_id = UVERBS_METHOD_CONTIG_BUF_FREE + 1;
	t_errno_is(raw_run(&r), EPROTONOSUPPORT,
		   "raw: a method id the object does not have");
	raw_init(&r, 4096);
	r.cmd.hdr.object_id = UVERBS_OBJECT_CONTIG_BUF - 1;
	t_errno_is(raw_run(&r), EPROTONOSUPPORT,
		   "raw: the object id below ours (none)");
	t_ok(cmr_alloc_errno(EPROTONOSUPPORT) == EOPNOTSUPP,
	     "library: EPROTONOSUPPORT is reported as EOPNOTSUPP");

	raw_init(&r, 4096);
	r.cmd.hdr.driver_id = kt_raw_driver_id() + 1;
	t_errno_is(raw_run(&r), EINVAL, "raw: wrong driver id");

	raw_init(&r, 4096);
	r.cmd.hdr.reserved2 = 1;
	t_errno_is(raw_run(&r), EPROTONOSUPPORT, "raw: reserved header field");

	raw_init(&r, 4096);
	raw_add(&r, 200, 4, UVERBS_ATTR_F_MANDATORY, 0);
	t_errno_is(raw_run(&r), EPROTONOSUPPORT,
		   "raw: unknown mandatory attribute (the library maps this "
		   "to EOPNOTSUPP)");

	raw_init(&r, 4096);
	raw_add(&r, 200, 4, 0, 0);
	t_errno_is(raw_run(&r), 0, "raw: unknown optional attribute ignored");

	raw_init(&r, 4096);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH);
	t_errno_is(raw_run(&r), EINVAL, "raw: LENGTH missing");

	raw_init(&r, 4096);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);
	t_errno_is(raw_run(&r), EINVAL, "raw: HANDLE missing");

	raw_init(&r, 4096);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD);
	t_errno_is(raw_run(&r), EINVAL, "raw: RESP_FD missing");

	raw_init(&r, 4096);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT);
	t_errno_is(raw_run(&r), EINVAL, "raw: RESP_ALIGNMENT missing");

	raw_init(&r, 4096);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE);
	t_errno_is(raw_run(&r), 0, "raw: RESP_NUMA_NODE (optional) left out");
	t_ok(r.out.numa_node == CMR_RESP_NODE_NONE && r.out.length == 4096,
	     "raw: ... the other outputs written, that one not");

	raw_init(&r, 4096);
	kt_cmd_attr(&r.cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH)->len = 4;
	t_errno_is(raw_run(&r), EINVAL, "raw: LENGTH of 4 bytes");

	raw_init(&r, 4096);
	raw_add(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE, 8,
		UVERBS_ATTR_F_MANDATORY, 0);
	t_errno_is(raw_run(&r), EINVAL, "raw: NUMA_NODE of 8 bytes");

	raw_init(&r, 4096);
	raw_add(&r, UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS, 2,
		UVERBS_ATTR_F_MANDATORY, 0);
	t_errno_is(raw_run(&r), EINVAL, "raw: FLAGS of 2 bytes");

	raw_init(&r, 4096);
	kt_cmd_attr(&r.cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE)->len = 4;
	t_errno_is(raw_run(&r), EINVAL, "raw: HANDLE with a length");

	raw_init(&r, 4096);
	kt_cmd_attr(&r.cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH)->len = 4;
	t_errno_is(raw_run(&r), EINVAL, "raw: an output too short");
}

/* ---- RLIMIT_MEMLOCK ----------------------------------------------------- */

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	data[CAP_IPC_LOCK / 32].inheritable &= ~(1u << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &hdr, data);
}

/* The buffer in VmLck and the MR in VmPin, relative to lck0 and pin0. */
static bool charged(long long lck0, long long pin0, long long lck_kb,
		    long long pin_kb)
{
	long long lck = t_status_kb(0, "VmLck"), pin = t_status_kb(0, "VmPin");

	if (lck - lck0 == lck_kb && pin - pin0 == pin_kb)
		return true;
	printf("# memlock child: VmLck %+lld kB, VmPin %+lld kB, expected "
	       "%+lld and %+lld\n", lck - lck0, pin - pin0, lck_kb, pin_kb);
	return false;
}

/*
 * In a child (capabilities cannot come back): no CAP_IPC_LOCK, a limit of
 * 1 MiB. Reports one bit per check in its exit status.
 */
static void test_memlock(void)
{
	struct ibv_alloc_contig_mr_attr all = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_ALL,
	};
	int status;
	pid_t pid;

	/* Pages for the hugetlb fallback, so that it gets to ibv_reg_mr(). */
	if (t_hugetlb_pool(2048, 4) < 2)
		t_diag("memlock: no 2 MiB hugetlb pages for the fallback");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 1u << 20, 1u << 20 };
		long long lck0, pin0;
		struct ibv_mr *mr;
		int bits = 0;

		if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(100);
		lck0 = t_status_kb(0, "VmLck");
		pin0 = t_status_kb(0, "VmPin");
		mr = ibv_alloc_contig_mr(pd, 4u << 20, 0);
		if (!mr && errno == ENOMEM)
			bits |= 1;
		else if (mr)
			ibv_free_contig_mr(mr);
		mr = ibv_alloc_contig_mr(pd, 512u << 10, 0);
		if (mr) {
			bits |= 2;
			if (charged(lck0, pin0, 512, 512))
				bits |= 8;
			if (!ibv_free_contig_mr(mr) &&
			    charged(lck0, pin0, 0, 0))
				bits |= 16;
		}
		/* Buffer and MR each within the limit, together beyond. */
		mr = ibv_alloc_contig_mr(pd, 768u << 10, 0);
		if (mr) {
			if (charged(lck0, pin0, 768, 768))
				bits |= 32;
			ibv_free_contig_mr(mr);
		} else {
			printf("# memlock child: 768 KiB: %s\n",
			       strerrorname_np(errno));
		}
		/* hugetlb registration is charged to VmPin the same way. */
		mr = ibv_alloc_contig_mr_ex(pd, 4u << 20, 0, &all);
		if (!mr && errno == ENOMEM)
			bits |= 4;
		else
			printf("# memlock child: policy ALL gave %s\n",
			       mr ? "an MR" : strerrorname_np(errno));
		if (mr)
			ibv_free_contig_mr(mr);
		fflush(stdout);
		_exit(bits);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 100) {
		t_ok(false, "memlock: child set-up failed");
		return;
	}
	status = WEXITSTATUS(status);
	t_ok(status & 1, "memlock: 4 MiB over a 1 MiB RLIMIT_MEMLOCK: ENOMEM");
	t_ok(status & 2, "memlock: 512 KiB within it: allocated");
	t_ok(status & 8, "memlock: ... the buffer in VmLck (512 kB), its MR "
	     "in VmPin (512 kB)");
	t_ok(status & 16, "memlock: ... freed: both back");
	t_ok(status & 32, "memlock: 768 KiB works: VmLck 768 kB and VmPin "
	     "768 kB, each within the limit on its own");
	t_ok(status & 4, "memlock: policy ALL over the limit: ENOMEM too "
	     "(ibv_reg_mr of hugetlb pages is charged to VmPin)");
	t_hugetlb_pool(2048, 0);
}

int main(int argc, char **argv)
{
	require = argc > 1 && !strcmp(argv[1], "--require");
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	t_dev_setup(NULL, &ctx, &pd, NULL);
	check_support();
	if (kt_raw_init(ctx))
		t_bail("driver id");

	api_errors();
	raw_errors();
	if (geteuid() == 0)
		test_memlock();
	else
		t_skip("memlock: needs root to drop CAP_IPC_LOCK");

	t_dev_teardown(ctx, pd, NULL);
	return t_done();
}
