/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * Back ends and device helpers of libibverbs-ext.
 *
 * A back end supplies the memory of a contiguous buffer, mapped into the
 * process: the kernel's contiguous allocator (kernel_contig.c) or hugetlb
 * pages (hugetlb.c). It registers nothing: MRs over a buffer go through
 * the standard MR path, in common code (libibverbs-ext/src/contig_mr.c).
 * The policy (libibverbs-ext/src/attr.c) decides which back ends a request
 * tries and in which order.
 *
 * A device helper (rxe.c) knows how one driver reports an MR's device page
 * size through the restrack driver attributes of RDMA netlink.
 */
#ifndef CMR_BACKEND_H
#define CMR_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "contig_mr.h"

struct cmr_backend {
	const char *name;
	enum ibv_contig_mr_backend kind;
	uint64_t page_size;	/* hugetlb page size; 0 for the kernel */
	/*
	 * Allocate and map at least req->length bytes; fill buf->pub
	 * (context, addr, length: what is mapped), backend, contig_extent,
	 * alignment, numa_node and the back end's own fields. Returns 0 or
	 * a positive errno, and leaves nothing behind on failure.
	 */
	int (*alloc)(const struct cmr_backend *be,
		     const struct cmr_request *req, struct cmr_buf *buf);
	/*
	 * Release what the mapping does not hold: the kernel object (the
	 * caller unmaps buf->pub.addr afterwards). NULL when there is
	 * nothing. Returns 0 or a positive errno; on failure the buffer is
	 * left intact.
	 */
	int (*destroy)(struct cmr_buf *buf);
};

extern const struct cmr_backend cmr_backend_kernel_contig;
extern const struct cmr_backend cmr_backend_hugetlb_1g;
extern const struct cmr_backend cmr_backend_hugetlb_2m;

/* One restrack driver attribute of an MR: a name and its value. */
#define CMR_MAX_DRV_ATTRS 32
#define CMR_DRV_NAME_MAX 32

struct cmr_drv_attr {
	char name[CMR_DRV_NAME_MAX];
	bool numeric;		/* value holds a U32/U64/S32/S64 value */
	uint64_t value;
};

struct cmr_drv_attrs {
	unsigned int n;
	struct cmr_drv_attr attr[CMR_MAX_DRV_ATTRS];
};

/* The numeric attribute called name; false when absent or a string. */
bool cmr_drv_attr_get(const struct cmr_drv_attrs *attrs, const char *name,
		      uint64_t *value);

struct cmr_device_ops {
	uint32_t driver_id;	/* enum rdma_driver_id */
	const char *name;
	/*
	 * The device page size and the number of translation entries of an
	 * MR, from its driver attributes. Returns 0, or ENOENT when the
	 * driver did not report them.
	 */
	int (*mr_pages)(const struct cmr_drv_attrs *attrs, uint64_t *page_size,
			uint64_t *entries);
};

/* The helper for a driver, or NULL. */
const struct cmr_device_ops *cmr_device_ops(uint32_t driver_id);

#endif /* CMR_BACKEND_H */
