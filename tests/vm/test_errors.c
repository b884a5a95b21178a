// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_errors: every error of ibv_alloc_contig_mr() that needs the kernel,
 * and the kernel's own checks of UVERBS_METHOD_ALLOC_CONTIG_MR reached
 * through the library's raw encoder (libibverbs-ext-internal), where the
 * public API cannot produce the input: a PD handle that does not exist, a
 * handle of another file or of another object type, unknown or malformed
 * attributes, a wrong driver id. Then RLIMIT_MEMLOCK without CAP_IPC_LOCK.
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

#include "cmr_test.h"
#include "contig_mr.h"
#include "uverbs_cmd.h"

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static uint32_t driver_id;
static bool require;

static void check_support(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, 4096, 0);

	if (mr) {
		ibv_free_contig_mr(mr);
		return;
	}
	if (errno == EOPNOTSUPP && !require)
		t_skip_all("kernel without UVERBS_METHOD_ALLOC_CONTIG_MR");
	t_bail("ibv_alloc_contig_mr(4 KiB): %s", strerrorname_np(errno));
}

static void api_errors(void)
{
	struct ibv_mr *mr;

	mr = ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_REMOTE_WRITE);
	t_errno_is(mr ? 0 : errno, EINVAL,
		   "REMOTE_WRITE without LOCAL_WRITE (ib_check_mr_access)");
	mr = ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_REMOTE_ATOMIC);
	t_errno_is(mr ? 0 : errno, EINVAL,
		   "REMOTE_ATOMIC without LOCAL_WRITE");
	mr = ibv_alloc_contig_mr(pd, 1ul << 40, 0);
	t_errno_is(mr ? 0 : errno, ENOMEM, "1 TiB: more than the RAM");
	mr = ibv_alloc_contig_mr(pd, CMR_MAX_LENGTH, 0);
	t_errno_is(mr ? 0 : errno, ENOMEM, "the longest length accepted");
}

/* ---- raw commands ------------------------------------------------------- */

struct raw {
	struct cmr_ioctl_cmd cmd;
	struct cmr_alloc_out out;
};

static void raw_init(struct raw *r, uint32_t pd_handle, uint64_t length,
		     uint32_t access)
{
	struct cmr_alloc_in in = {
		.pd_handle = pd_handle, .length = length, .access = access,
		.numa_node = -1, .flags = 0,
	};

	cmr_encode_alloc_contig_mr(&r->cmd, driver_id, &in, &r->out);
}

static struct ib_uverbs_attr *raw_attr(struct raw *r, uint16_t id)
{
	unsigned int i;

	for (i = 0; i < r->cmd.hdr.num_attrs; i++)
		if (r->cmd.attrs[i].attr_id == id)
			return &r->cmd.attrs[i];
	return NULL;
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
	struct ib_uverbs_attr *a = raw_attr(r, id);
	unsigned int i = a - r->cmd.attrs;

	memmove(a, a + 1, (r->cmd.hdr.num_attrs - i - 1) * sizeof(*a));
	r->cmd.hdr.num_attrs--;
	r->cmd.hdr.length -= sizeof(*a);
}

/* Run; on success undo it (destroy, unmap) and return 0. */
static int raw_run(struct raw *r)
{
	struct cmr_ioctl_cmd destroy;
	int ret = cmr_ioctl(ctx->cmd_fd, &r->cmd);

	if (ret)
		return ret;
	cmr_decode_alloc_contig_mr(&r->cmd, &r->out);
	cmr_encode_destroy_mr(&destroy, driver_id, r->out.handle);
	if (cmr_ioctl(ctx->cmd_fd, &destroy))
		t_diag("raw destroy failed");
	munmap((void *)(uintptr_t)r->out.addr, r->out.length);
	return 0;
}

static void raw_errors(void)
{
	struct ibv_context *ctx2;
	struct ibv_pd *pd2[3] = { 0 };
	struct ibv_cq *cq;
	struct raw r;
	int i;

	raw_init(&r, pd->handle, 4096, IBV_ACCESS_LOCAL_WRITE);
	t_errno_is(raw_run(&r), 0, "raw: a well-formed command succeeds");
	t_ok(raw_attr(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ADDR)->flags &
		     UVERBS_ATTR_F_VALID_OUTPUT,
	     "raw: the kernel marks the outputs valid");

	raw_init(&r, 0x7fffffff, 4096, 0);
	t_errno_is(raw_run(&r), ENOENT, "raw: PD handle that does not exist");

	/* Handles are per file: one that exists in ctx2 only. */
	ctx2 = ibv_open_device(ctx->device);
	if (ctx2) {
		for (i = 0; i < 3; i++)
			pd2[i] = ibv_alloc_pd(ctx2);
		raw_init(&r, pd2[2] ? pd2[2]->handle : 0x7ffffffe, 4096, 0);
		t_ok(pd2[2] && pd2[2]->handle != pd->handle,
		     "raw: another context's PD has handle %u (ours %u)",
		     pd2[2] ? pd2[2]->handle : 0, pd->handle);
		t_errno_is(raw_run(&r), ENOENT,
			   "raw: another context's PD handle");
		for (i = 2; i >= 0; i--)
			if (pd2[i])
				ibv_dealloc_pd(pd2[i]);
		ibv_close_device(ctx2);
	}

	cq = ibv_create_cq(ctx, 4, NULL, NULL, 0);
	if (cq) {
		raw_init(&r, cq->handle, 4096, 0);
		t_errno_is(raw_run(&r), EINVAL, "raw: a CQ handle as the PD");
		ibv_destroy_cq(cq);
	}

	/* What a kernel without the series answers for the method. */
	raw_init(&r, pd->handle, 4096, 0);
	r.cmd.hdr.method_id = UVERBS_METHOD_ALLOC_CONTIG_MR + 8;
	t_errno_is(raw_run(&r), EPROTONOSUPPORT,
		   "raw: a method id the kernel does not have");

	raw_init(&r, pd->handle, 4096, 0);
	r.cmd.hdr.driver_id = driver_id + 1;
	t_errno_is(raw_run(&r), EINVAL, "raw: wrong driver id");

	raw_init(&r, pd->handle, 4096, 0);
	r.cmd.hdr.reserved2 = 1;
	t_errno_is(raw_run(&r), EPROTONOSUPPORT, "raw: reserved header field");

	raw_init(&r, pd->handle, 4096, 0);
	raw_add(&r, 200, 4, UVERBS_ATTR_F_MANDATORY, 0);
	t_errno_is(raw_run(&r), EPROTONOSUPPORT,
		   "raw: unknown mandatory attribute (the library maps this "
		   "to EOPNOTSUPP)");
	t_ok(cmr_alloc_errno(EPROTONOSUPPORT) == EOPNOTSUPP,
	     "library: EPROTONOSUPPORT is reported as EOPNOTSUPP");

	raw_init(&r, pd->handle, 4096, 0);
	raw_add(&r, 200, 4, 0, 0);
	t_errno_is(raw_run(&r), 0, "raw: unknown optional attribute ignored");

	raw_init(&r, pd->handle, 4096, 0);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_LENGTH);
	t_errno_is(raw_run(&r), EINVAL, "raw: LENGTH missing");

	raw_init(&r, pd->handle, 4096, 0);
	raw_drop(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT);
	t_errno_is(raw_run(&r), EINVAL, "raw: an output missing");

	raw_init(&r, pd->handle, 0, 0);
	t_errno_is(raw_run(&r), EINVAL, "raw: length 0");

	raw_init(&r, pd->handle, UINT64_MAX, 0);
	t_errno_is(raw_run(&r), EINVAL, "raw: length 2^64-1 (overflows)");

	raw_init(&r, pd->handle, 1ull << 50, 0);
	t_errno_is(raw_run(&r), ENOMEM, "raw: length 2^50");

	raw_init(&r, pd->handle, 4096, IBV_ACCESS_ON_DEMAND);
	t_errno_is(raw_run(&r), EINVAL, "raw: access ON_DEMAND");

	raw_init(&r, pd->handle, 4096, IBV_ACCESS_ZERO_BASED);
	t_errno_is(raw_run(&r), EINVAL, "raw: access ZERO_BASED");

	raw_init(&r, pd->handle, 4096, 0);
	raw_add(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS, 4,
		UVERBS_ATTR_F_MANDATORY, 1u << 5);
	t_errno_is(raw_run(&r), EINVAL, "raw: unknown flag");

	raw_init(&r, pd->handle, 4096, 0);
	raw_add(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE, 8,
		UVERBS_ATTR_F_MANDATORY, 0);
	t_errno_is(raw_run(&r), EINVAL, "raw: NUMA_NODE of 8 bytes");

	raw_init(&r, pd->handle, 4096, 0);
	raw_add(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE, 4,
		UVERBS_ATTR_F_MANDATORY, 0xffffffffu);
	t_errno_is(raw_run(&r), EINVAL, "raw: NUMA_NODE 0xffffffff");

	raw_init(&r, pd->handle, 4096, 0);
	raw_attr(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LKEY)->data = 8;
	t_errno_is(raw_run(&r), EFAULT,
		   "raw: an output pointer into nowhere");

	raw_init(&r, pd->handle, 4096, 0);
	raw_attr(&r, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LENGTH)->len = 4;
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
		struct ibv_mr *mr;
		int bits = 0;

		if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(100);
		mr = ibv_alloc_contig_mr(pd, 4u << 20, 0);
		if (!mr && errno == ENOMEM)
			bits |= 1;
		mr = ibv_alloc_contig_mr(pd, 512u << 10, 0);
		if (mr && !ibv_free_contig_mr(mr))
			bits |= 2;
		/* hugetlb registration is charged the same way. */
		mr = ibv_alloc_contig_mr_ex(pd, 4u << 20, 0, &all);
		if (!mr && errno == ENOMEM)
			bits |= 4;
		else
			printf("# memlock child: policy ALL gave %s\n",
			       mr ? "an MR" : strerrorname_np(errno));
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
	t_ok(status & 2, "memlock: 512 KiB within it: allocated and freed");
	t_ok(status & 4, "memlock: policy ALL over the limit: ENOMEM too "
	     "(ibv_reg_mr of hugetlb pages is charged the same way)");
	t_hugetlb_pool(2048, 0);
}

int main(int argc, char **argv)
{
	require = argc > 1 && !strcmp(argv[1], "--require");
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	ctx = t_open_device(NULL);
	pd = ibv_alloc_pd(ctx);
	if (!pd)
		t_bail("ibv_alloc_pd: %s", strerror(errno));
	check_support();
	if (cmr_driver_id(ctx, &driver_id))
		t_bail("driver id");

	api_errors();
	raw_errors();
	if (geteuid() == 0)
		test_memlock();
	else
		t_skip("memlock: needs root to drop CAP_IPC_LOCK");

	t_errno_is(ibv_dealloc_pd(pd), 0, "dealloc the PD: nothing leaked");
	ibv_close_device(ctx);
	return t_done();
}
