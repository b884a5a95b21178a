// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Back end: the kernel's contiguous allocator, UVERBS_METHOD_ALLOC_CONTIG_MR.
 *
 * One ioctl allocates (alloc_contig_pages), zeroes, maps and registers; the
 * kernel returns the keys, the address of the mapping and its length. The
 * memory goes back to the kernel once the MR is destroyed and the mapping
 * unmapped, so release is MR_DESTROY followed by munmap().
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "uverbs_cmd.h"

static int destroy_mr(int cmd_fd, uint32_t driver_id, uint32_t handle)
{
	struct cmr_ioctl_cmd cmd;

	cmr_encode_destroy_mr(&cmd, driver_id, handle);
	return cmr_ioctl(cmd_fd, &cmd);
}

static bool response_ok(const struct cmr_request *req,
			const struct cmr_alloc_out *out)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return out->addr && !(out->addr % page) &&
	       out->length >= req->length && !(out->length % page) &&
	       out->contig_length &&
	       out->alignment && !(out->alignment & (out->alignment - 1));
}

static int kc_alloc(const struct cmr_backend *be,
		    const struct cmr_request *req, struct cmr_mr *mr)
{
	struct ibv_context *ctx = req->pd->context;
	struct cmr_alloc_in in = {
		.pd_handle = req->pd->handle,
		.length = req->length,
		.access = req->access,
		.numa_node = req->numa_node,
		.flags = req->node_strict ?
				 IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT : 0,
	};
	struct cmr_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	uint32_t driver_id;
	int ret;

	ret = cmr_driver_id(ctx, &driver_id);
	if (ret)
		return ret;

	cmr_encode_alloc_contig_mr(&cmd, driver_id, &in, &out);
	ret = cmr_ioctl(ctx->cmd_fd, &cmd);
	if (ret)
		return cmr_alloc_errno(ret);
	cmr_decode_alloc_contig_mr(&cmd, &out);

	if (!response_ok(req, &out)) {
		/* Not the ABI we were built for: undo what we can. */
		destroy_mr(ctx->cmd_fd, driver_id, out.handle);
		if (out.addr && out.length)
			munmap((void *)(uintptr_t)out.addr, out.length);
		return EPROTO;
	}

	mr->ibv_mr.context = ctx;
	mr->ibv_mr.pd = req->pd;
	mr->ibv_mr.addr = (void *)(uintptr_t)out.addr;
	mr->ibv_mr.length = req->length;
	mr->ibv_mr.handle = out.handle;
	mr->ibv_mr.lkey = out.lkey;
	mr->ibv_mr.rkey = out.rkey;
	mr->backend = be;
	mr->map_addr = mr->ibv_mr.addr;
	mr->map_length = out.length;
	mr->contig_extent = out.contig_length;
	mr->alignment = out.alignment;
	mr->driver_id = driver_id;
	return 0;
}

static int kc_dereg(struct cmr_mr *mr)
{
	return destroy_mr(mr->ibv_mr.context->cmd_fd, mr->driver_id,
			  mr->ibv_mr.handle);
}

const struct cmr_backend cmr_backend_kernel_contig = {
	.name = "kernel-contig",
	.kind = IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG,
	.alloc = kc_alloc,
	.dereg = kc_dereg,
};
