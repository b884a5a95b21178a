// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Back end: the kernel's contiguous allocator, the CONTIG_BUF object.
 *
 * UVERBS_METHOD_CONTIG_BUF_ALLOC allocates zeroed, physically contiguous
 * memory, charges it as locked memory and to the memory cgroup, and
 * returns a file descriptor for it; the kernel maps nothing. The library
 * maps the whole buffer from the descriptor (MAP_SHARED: the kernel places
 * the mapping so that the virtual address agrees with the physical one
 * modulo the reported alignment) and closes the descriptor, which the
 * mapping keeps alive. The object's handle is kept for
 * UVERBS_METHOD_CONTIG_BUF_FREE; the memory goes back to the system when
 * the object, the mapping and every MR pinning it are gone.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "uverbs_cmd.h"

static int free_object(int cmd_fd, uint32_t driver_id, uint32_t handle)
{
	struct cmr_ioctl_cmd cmd;

	cmr_encode_buf_free(&cmd, driver_id, handle);
	return cmr_ioctl(cmd_fd, &cmd);
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static bool response_ok(const struct cmr_request *req,
			const struct cmr_buf_alloc_out *out)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return out->fd >= 0 && out->length >= req->length &&
	       !(out->length % page) && out->length <= CMR_MAX_LENGTH &&
	       pow2(out->alignment) && out->extent_size &&
	       !(out->extent_size % page) && out->extent_size <= out->length &&
	       (out->extent_size == out->length || pow2(out->extent_size));
}

static int kc_alloc(const struct cmr_backend *be,
		    const struct cmr_request *req, struct cmr_buf *buf)
{
	struct ibv_context *ctx = req->pd->context;
	/*
	 * Without a node from the caller the kernel chooses: the task's
	 * memory policy and cpuset first, then the device's node, then the
	 * CPU's. Naming the library's default here would override the
	 * policy, and fail (EINVAL) where the cpuset excludes that node.
	 */
	struct cmr_buf_alloc_in in = {
		.length = req->length,
		.numa_node = req->numa_node >= 0 ? req->numa_node : -1,
		.flags = req->node_strict ? IB_UVERBS_CONTIG_BUF_NODE_STRICT : 0,
		.min_extent = req->min_extent,
	};
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	uint32_t driver_id;
	void *addr;
	int ret;

	ret = cmr_driver_id(ctx, &driver_id);
	if (ret)
		return ret;

	cmr_encode_buf_alloc(&cmd, driver_id, &in, &out);
	ret = cmr_ioctl(ctx->cmd_fd, &cmd);
	if (ret)
		return cmr_alloc_errno(ret);
	cmr_decode_buf_alloc(&cmd, &out);

	if (!response_ok(req, &out)) {
		/* Not the ABI we were built for: undo what we can. */
		ret = EPROTO;
		goto err_free;
	}
	addr = mmap(NULL, out.length, PROT_READ | PROT_WRITE, MAP_SHARED,
		    out.fd, 0);
	if (addr == MAP_FAILED) {
		ret = errno;
		goto err_free;
	}
	/* The mapping holds the memory from now on. */
	close(out.fd);

	buf->pub.context = ctx;
	buf->pub.addr = addr;
	buf->pub.length = out.length;
	buf->backend = be;
	buf->contig_extent = out.extent_size;
	buf->alignment = out.alignment;
	buf->numa_node = out.numa_node < CMR_MAX_NUMA_NODES ?
				 (int)out.numa_node : -1;
	buf->handle = out.handle;
	buf->driver_id = driver_id;
	return 0;

err_free:
	if (out.fd >= 0)
		close(out.fd);
	free_object(ctx->cmd_fd, driver_id, out.handle);
	return ret;
}

static int kc_destroy(struct cmr_buf *buf)
{
	int ret = free_object(buf->pub.context->cmd_fd, buf->driver_id,
			      buf->handle);

	/*
	 * EIO: the device is gone and the kernel has destroyed the object
	 * already (rdma-core's destroy calls treat it as success too).
	 */
	return ret == EIO ? 0 : ret;
}

const struct cmr_backend cmr_backend_kernel_contig = {
	.name = "kernel-contig",
	.kind = IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG,
	.alloc = kc_alloc,
	.destroy = kc_destroy,
};
