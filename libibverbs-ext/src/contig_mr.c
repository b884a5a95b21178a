// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The public entry points: ibv_alloc_contig_mr(), ibv_alloc_contig_mr_ex(),
 * ibv_free_contig_mr() and ibv_query_contig_mr().
 *
 * No global state: every call works from its arguments and the
 * environment, so any number of threads may allocate and free at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend.h"
#include "contig_mr.h"
#include "nldev.h"

#define CMR_EXPORT __attribute__((visibility("default")))

/*
 * Try the back ends in order. Only "no memory" and "not supported" move on
 * to the next; anything else (a bad access flag, a bad node) would fail
 * the same way again. The error reported is ENOMEM when any back end ran
 * out of memory, else that of the last one tried.
 */
static int alloc_from(const struct cmr_backend *const *list, unsigned int n,
		      const struct cmr_request *req, struct cmr_mr *mr)
{
	bool nomem = false;
	unsigned int i;
	int ret = EOPNOTSUPP;

	for (i = 0; i < n; i++) {
		ret = list[i]->alloc(list[i], req, mr);
		if (!ret)
			return 0;
		if (ret == ENOMEM)
			nomem = true;
		else if (ret != EOPNOTSUPP)
			return ret;
	}
	return nomem ? ENOMEM : ret;
}

CMR_EXPORT struct ibv_mr *
ibv_alloc_contig_mr_ex(struct ibv_pd *pd, size_t length, unsigned int access,
		       const struct ibv_alloc_contig_mr_attr *attr)
{
	const struct cmr_backend *list[4];
	struct cmr_request req;
	struct cmr_mr *mr;
	unsigned int n;
	int ret;

	ret = cmr_build_request(pd, length, access, attr,
				getenv(CMR_ENV_POLICY), &req);
	if (ret)
		goto err;
	if (req.numa_node == CMR_NODE_DEFAULT)
		req.numa_node = cmr_default_numa_node(pd->context);
	if (req.node_strict && req.numa_node < 0) {
		ret = EINVAL;
		goto err;
	}
	n = cmr_policy_backends(req.policy, req.length, list, 4);

	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		ret = ENOMEM;
		goto err;
	}
	ret = alloc_from(list, n, &req, mr);
	if (ret) {
		free(mr);
		goto err;
	}
	return &mr->ibv_mr;

err:
	errno = ret;
	return NULL;
}

CMR_EXPORT struct ibv_mr *ibv_alloc_contig_mr(struct ibv_pd *pd,
					      size_t length,
					      unsigned int access)
{
	return ibv_alloc_contig_mr_ex(pd, length, access, NULL);
}

CMR_EXPORT int ibv_free_contig_mr(struct ibv_mr *ibmr)
{
	struct cmr_mr *mr;
	int ret;

	if (!ibmr)
		return EINVAL;
	mr = to_cmr(ibmr);
	/* The MR stays usable when the kernel refuses to deregister it. */
	ret = mr->backend->dereg(mr);
	if (ret)
		return ret;
	/* Deregistered: what is left is ours to release, whatever happens. */
	if (munmap(mr->map_addr, mr->map_length))
		ret = errno;
	free(mr);
	return ret;
}

static int query_device_pages(struct cmr_mr *mr, uint64_t *page_size,
			      uint64_t *entries)
{
	struct ibv_context *ctx = mr->ibv_mr.context;
	const struct cmr_device_ops *ops;
	struct cmr_drv_attrs *attrs;
	uint32_t index, driver_id;
	int ret;

	ret = cmr_device_index(ctx, &index);
	if (ret)
		return ret;
	ret = cmr_driver_id(ctx, &driver_id);
	if (ret)
		return ret;
	ops = cmr_device_ops(driver_id);
	if (!ops)
		return EOPNOTSUPP;

	attrs = malloc(sizeof(*attrs));
	if (!attrs)
		return ENOMEM;
	ret = cmr_nl_mr_driver_attrs(index, mr->ibv_mr.lkey, attrs);
	if (!ret)
		ret = ops->mr_pages(attrs, page_size, entries);
	free(attrs);
	return ret;
}

CMR_EXPORT int ibv_query_contig_mr(struct ibv_mr *ibmr,
				   struct ibv_contig_mr_info *info)
{
	uint64_t page_size, entries;
	struct cmr_mr *mr;
	uint32_t want;
	int saved = errno;

	if (!ibmr || !info)
		return EINVAL;
	if (info->comp_mask & ~(uint32_t)CMR_INFO_MASK_ALL)
		return EINVAL;
	mr = to_cmr(ibmr);
	want = info->comp_mask;

	memset(info, 0, sizeof(*info));
	info->backend = mr->backend->kind;
	info->length = mr->map_length;
	info->contig_extent = mr->contig_extent;
	info->alignment = mr->alignment;

	/* Unknown is not an error: the fields stay 0, the bit clear. */
	if ((want & IBV_CONTIG_MR_INFO_DEVICE_PAGES) &&
	    !query_device_pages(mr, &page_size, &entries)) {
		info->device_page_size = page_size;
		info->map_entries = entries;
		info->comp_mask |= IBV_CONTIG_MR_INFO_DEVICE_PAGES;
	}
	errno = saved;
	return 0;
}
