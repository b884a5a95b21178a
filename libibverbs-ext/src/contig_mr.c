// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The public entry points.
 *
 * Buffers: ibv_alloc_contig_buf() (back-end order and fallback),
 * ibv_free_contig_buf(), ibv_detach_contig_buf() (the mapping outlives the
 * library's record), ibv_reg_contig_buf_mr() (the standard MR path
 * over a part of a buffer) and ibv_query_contig_buf().
 *
 * The one-call form: ibv_alloc_contig_mr(_ex)() is a buffer plus one MR
 * over it, ibv_free_contig_mr() undoes both, ibv_contig_mr_buf() names the
 * buffer, ibv_query_contig_mr() describes any MR inside a live buffer.
 * The MR is the provider's own; the buffer behind it is found in the
 * registry (registry.c).
 *
 * errno convention as in libibverbs: calls returning a pointer return NULL
 * and set errno; calls returning int return 0 or a positive errno.
 * Arguments are checked before any system call.
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
 * to the next; anything else (a bad node) would fail the same way again.
 * The error reported is ENOMEM when any back end ran out of memory, else
 * that of the last one tried.
 */
static int alloc_from(const struct cmr_backend *const *list, unsigned int n,
		      const struct cmr_request *req, struct cmr_buf *buf)
{
	bool nomem = false;
	unsigned int i;
	int ret = EOPNOTSUPP;

	for (i = 0; i < n; i++) {
		ret = list[i]->alloc(list[i], req, buf);
		if (!ret)
			return 0;
		if (ret == ENOMEM)
			nomem = true;
		else if (ret != EOPNOTSUPP)
			return ret;
	}
	return nomem ? ENOMEM : ret;
}

/* After the argument checks: allocate, map and record one buffer. */
static int alloc_buf(const struct cmr_request *req, struct cmr_buf **out)
{
	const struct cmr_backend *list[4];
	struct cmr_buf *buf;
	unsigned int n;
	int ret;

	n = cmr_policy_backends(req->policy, req->length, list, 4);
	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return ENOMEM;
	ret = alloc_from(list, n, req, buf);
	if (ret) {
		free(buf);
		return ret;
	}
	cmr_registry_add(buf);
	*out = buf;
	return 0;
}

/*
 * Release a buffer that is no longer in the registry; unmap it too unless
 * the caller keeps the mapping (which then holds the memory).
 */
static int release_buf(struct cmr_buf *buf, bool unmap)
{
	int ret = 0;

	if (buf->backend->destroy) {
		ret = buf->backend->destroy(buf);
		if (ret) {
			/* Still whole: the caller may try again. */
			cmr_registry_add(buf);
			return ret;
		}
	}
	/* The object is gone: what is left is ours, whatever happens. */
	if (unmap && munmap(buf->pub.addr, buf->pub.length))
		ret = errno;
	free(buf);
	return ret;
}

CMR_EXPORT int ibv_alloc_contig_buf(struct ibv_pd *pd, size_t length,
				    const struct ibv_alloc_contig_mr_attr *attr,
				    struct ibv_contig_buf **buf)
{
	struct cmr_request req;
	struct cmr_buf *b;
	int ret;

	ret = buf ? cmr_build_request(pd, length, attr,
				      getenv(CMR_ENV_POLICY), &req) :
		    EINVAL;
	if (!ret)
		ret = alloc_buf(&req, &b);
	if (ret) {
		errno = ret;
		return ret;
	}
	*buf = &b->pub;
	return 0;
}

/* ibv_free_contig_buf() and ibv_detach_contig_buf(). */
static int release_pub(struct ibv_contig_buf *pub, bool unmap)
{
	struct cmr_buf *buf;

	if (!pub)
		return EINVAL;
	buf = to_cmr_buf(pub);
	/* Taking it out first makes a second free of it EINVAL. */
	if (!cmr_registry_remove(buf))
		return EINVAL;
	return release_buf(buf, unmap);
}

CMR_EXPORT int ibv_free_contig_buf(struct ibv_contig_buf *pub)
{
	return release_pub(pub, true);
}

CMR_EXPORT int ibv_detach_contig_buf(struct ibv_contig_buf *pub)
{
	return release_pub(pub, false);
}

/* After the checks: the standard registration, IOVA = address. */
static struct ibv_mr *reg_range(struct ibv_pd *pd, void *addr, size_t length,
				unsigned int access)
{
	struct ibv_mr *mr;

	errno = 0;
	mr = ibv_reg_mr_iova2(pd, addr, length, (uintptr_t)addr, access);
	if (!mr) {
		if (!errno)
			errno = ENOMEM;
		return NULL;
	}
	/*
	 * If malloc() gave this MR the address of a one-call MR that was
	 * deregistered with ibv_dereg_mr(), the old association is stale.
	 */
	cmr_registry_forget_mr(mr);
	return mr;
}

CMR_EXPORT struct ibv_mr *ibv_reg_contig_buf_mr(struct ibv_pd *pd,
						struct ibv_contig_buf *buf,
						void *addr, size_t length,
						unsigned int access)
{
	int ret = cmr_check_range(pd, buf, addr, length, access);

	if (ret) {
		errno = ret;
		return NULL;
	}
	return reg_range(pd, addr, length, access);
}

CMR_EXPORT struct ibv_mr *
ibv_alloc_contig_mr_ex(struct ibv_pd *pd, size_t length, unsigned int access,
		       const struct ibv_alloc_contig_mr_attr *attr)
{
	struct cmr_request req;
	struct cmr_buf *buf;
	struct ibv_mr *mr;
	int ret;

	ret = cmr_build_request(pd, length, attr, getenv(CMR_ENV_POLICY),
				&req);
	if (!ret)
		ret = cmr_check_access(access);
	if (!ret)
		ret = alloc_buf(&req, &buf);
	if (ret) {
		errno = ret;
		return NULL;
	}

	mr = reg_range(pd, buf->pub.addr, length, access);
	if (!mr) {
		ret = errno;
		if (cmr_registry_remove(buf))
			release_buf(buf, true);
		errno = ret;
		return NULL;
	}
	cmr_registry_set_mr(buf, mr);
	return mr;
}

CMR_EXPORT struct ibv_mr *ibv_alloc_contig_mr(struct ibv_pd *pd,
					      size_t length,
					      unsigned int access)
{
	return ibv_alloc_contig_mr_ex(pd, length, access, NULL);
}

CMR_EXPORT int ibv_free_contig_mr(struct ibv_mr *mr)
{
	struct cmr_buf *buf;
	int ret;

	if (!mr)
		return EINVAL;
	buf = cmr_registry_take_mr(mr);
	if (!buf)
		return EINVAL;
	ret = ibv_dereg_mr(mr);
	if (ret) {
		/* The MR stays registered and keeps its buffer. */
		cmr_registry_set_mr(buf, mr);
		return ret;
	}
	if (!cmr_registry_remove(buf))
		return 0;	/* freed meanwhile by ibv_free_contig_buf() */
	return release_buf(buf, true);
}

CMR_EXPORT struct ibv_contig_buf *ibv_contig_mr_buf(struct ibv_mr *mr)
{
	struct cmr_buf *buf = mr ? cmr_registry_mr_buf(mr) : NULL;

	if (!buf) {
		errno = EINVAL;
		return NULL;
	}
	return &buf->pub;
}

static int query_device_pages(struct ibv_mr *mr, uint64_t *page_size,
			      uint64_t *entries)
{
	struct ibv_context *ctx = mr->context;
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
	ret = cmr_nl_mr_driver_attrs(index, mr->lkey, attrs);
	if (!ret)
		ret = ops->mr_pages(attrs, page_size, entries);
	free(attrs);
	return ret;
}

/*
 * Fill a whole struct from the buffer (and the MR, if any), then hand the
 * caller at most info_size bytes of it: a caller built against an older,
 * shorter struct gets only the fields it knows.
 */
static void fill_info(const struct cmr_buf *buf, struct ibv_mr *mr,
		      struct ibv_contig_mr_info *info, size_t info_size)
{
	uint32_t want = info->comp_mask;
	struct ibv_contig_mr_info full;
	uint64_t page_size, entries;

	memset(&full, 0, sizeof(full));
	full.backend = buf->backend->kind;
	full.length = buf->pub.length;
	full.contig_extent = buf->contig_extent;
	full.alignment = buf->alignment;
	full.numa_node = buf->numa_node;
	/* Unknown is not an error: the fields stay 0 (-1), the bit clear. */
	if ((want & IBV_CONTIG_MR_INFO_NUMA_NODE) && buf->numa_node >= 0 &&
	    info_size >= offsetof(struct ibv_contig_mr_info, numa_node) +
				 sizeof(full.numa_node))
		full.comp_mask |= IBV_CONTIG_MR_INFO_NUMA_NODE;
	if (mr && (want & IBV_CONTIG_MR_INFO_DEVICE_PAGES) &&
	    !query_device_pages(mr, &page_size, &entries)) {
		full.device_page_size = page_size;
		full.map_entries = entries;
		full.comp_mask |= IBV_CONTIG_MR_INFO_DEVICE_PAGES;
	}
	memcpy(info, &full, info_size < sizeof(full) ? info_size : sizeof(full));
}

CMR_EXPORT int _ibv_query_contig_buf(struct ibv_contig_buf *pub,
				     struct ibv_contig_mr_info *info,
				     size_t info_size)
{
	struct cmr_buf copy;
	int ret;

	if (!pub)
		return EINVAL;
	ret = cmr_check_info(info, info_size);
	if (!ret)
		ret = cmr_registry_copy(to_cmr_buf(pub), &copy);
	if (ret)
		return ret;
	fill_info(&copy, NULL, info, info_size);
	return 0;
}

CMR_EXPORT int _ibv_query_contig_mr(struct ibv_mr *mr,
				    struct ibv_contig_mr_info *info,
				    size_t info_size)
{
	struct cmr_buf copy;
	int saved = errno;
	int ret;

	if (!mr)
		return EINVAL;
	ret = cmr_check_info(info, info_size);
	if (!ret)
		ret = cmr_registry_copy_range(mr->addr, mr->length, &copy);
	if (ret)
		return ret;
	fill_info(&copy, mr, info, info_size);
	errno = saved;
	return 0;
}
