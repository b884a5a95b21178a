// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_netlink: the library's RDMA netlink and uverbs plumbing on a real
 * device (internal functions, from libibverbs-ext-internal):
 *  - the library's device index is libibverbs' one;
 *  - the uverbs driver id from netlink agrees with the ioctl probe, and is
 *    RDMA_DRIVER_RXE on rxe;
 *  - the restrack driver attributes of an ordinary MR (ibv_reg_mr() of
 *    scattered 4 KiB pages) are found by lkey and read 4 KiB pages, one
 *    entry per page, when the driver reports them;
 *  - without CAP_NET_ADMIN the MR's keys are hidden: ENOENT, and
 *    ibv_query_contig_mr() reports the device pages as unknown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "backend.h"
#include "cmr_test.h"
#include "contig_mr.h"
#include "nldev.h"

static int drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int w = CAP_NET_ADMIN / 32;
	unsigned int bit = 1u << (CAP_NET_ADMIN % 32);

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[w].effective &= ~bit;
	data[w].permitted &= ~bit;
	data[w].inheritable &= ~bit;
	return syscall(SYS_capset, &hdr, data);
}

int main(void)
{
	struct ibv_context *ctx = t_open_device(NULL);
	uint32_t index = 0, nl_id = 0, probe_id = 0, any_id = 0;
	const struct cmr_device_ops *ops;
	struct cmr_drv_attrs *attrs;
	struct ibv_pd *pd;
	struct t_buf b;
	uint64_t ps = 0, entries = 0;
	int idx, ret, status;
	pid_t pid;

	attrs = calloc(1, sizeof(*attrs));
	pd = ibv_alloc_pd(ctx);
	if (!pd || !attrs)
		t_bail("PD");

	idx = ibv_get_device_index(ctx->device);
	ret = cmr_device_index(ctx, &index);
	t_ok(!ret && idx >= 0 && (int)index == idx,
	     "device index: %u (libibverbs: %d)", index, idx);

	ret = cmr_nl_uverbs_driver_id((uint32_t)idx, &nl_id);
	t_ok(!ret, "uverbs driver id over netlink: %u", nl_id);
	ret = cmr_driver_id_probe(ctx->cmd_fd, &probe_id);
	t_ok(!ret && probe_id == nl_id, "the ioctl probe finds the same: %u",
	     probe_id);
	t_ok(!cmr_driver_id(ctx, &any_id) && any_id == nl_id,
	     "cmr_driver_id() agrees");
	if (!strncmp(ibv_get_device_name(ctx->device), "rxe", 3))
		t_ok(nl_id == RDMA_DRIVER_RXE, "rxe is RDMA_DRIVER_RXE (%d)",
		     RDMA_DRIVER_RXE);

	if (t_buf_alloc(&b, pd, 64 << 10, IBV_ACCESS_LOCAL_WRITE))
		t_bail("ibv_reg_mr");
	ret = cmr_nl_mr_driver_attrs((uint32_t)idx, b.mr->lkey, attrs);
	if (geteuid() != 0) {
		t_skip("restrack keys need CAP_NET_ADMIN");
	} else {
		t_ok(!ret, "restrack entry of an ordinary MR found by lkey "
		     "0x%x (%u driver attributes)", b.mr->lkey, attrs->n);
		ops = cmr_device_ops(nl_id);
		if (ops && !ops->mr_pages(attrs, &ps, &entries))
			/* Pages that happen to be physically adjacent may
			 * be joined into larger device pages. */
			t_ok(ps >= 4096 && !(ps & (ps - 1)) &&
				     ps * entries >= (64 << 10) &&
				     entries >= 1 && entries <= 16,
			     "64 KiB of malloc()ed memory: %" PRIu64
			     " B pages x %" PRIu64, ps, entries);
		else
			t_skip("the driver reports no page size");
	}
	t_errno_is(cmr_nl_mr_driver_attrs((uint32_t)idx, 0xfffffff0u, attrs),
		   ENOENT, "an lkey no MR has");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct ibv_contig_mr_info info = {
			.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
		};
		struct ibv_mr *mr;
		int bits = 0;

		if (drop_net_admin())
			_exit(100);
		if (cmr_nl_mr_driver_attrs((uint32_t)idx, b.mr->lkey, attrs) ==
		    ENOENT)
			bits |= 1;
		/* The child reuses the parent's context: MRs of its own. */
		mr = ibv_alloc_contig_mr(pd, 1u << 20, 0);
		if (!mr && errno == EOPNOTSUPP)
			_exit(bits | 2 | 4);
		if (mr && !ibv_query_contig_mr(mr, &info) &&
		    !(info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES) &&
		    !info.device_page_size && info.alignment)
			bits |= 2;
		if (mr && !ibv_free_contig_mr(mr))
			bits |= 4;
		_exit(bits);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 100) {
		t_ok(false, "child without CAP_NET_ADMIN");
	} else {
		status = WEXITSTATUS(status);
		t_ok(status & 1, "without CAP_NET_ADMIN the lkey is not seen");
		t_ok(status & 2, "... and query reports the device pages as "
		     "unknown, the rest as usual");
		t_ok(status & 4, "... and the MR frees normally");
	}

	t_buf_free(&b);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	free(attrs);
	return t_done();
}
