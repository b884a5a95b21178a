/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * libibverbs-ext: physically contiguous RDMA memory.
 *
 * A contiguous buffer (struct ibv_contig_buf) is physically contiguous,
 * zeroed memory that the kernel allocates, accounts as locked memory and
 * maps into the caller. Any number of MRs, on any PD of the context and
 * over any sub-range, are registered over it through the standard MR path
 * (ibv_reg_contig_buf_mr(), or ibv_reg_mr() on its addresses) and get large
 * device pages because the memory is contiguous and aligned; they are
 * released with ibv_dereg_mr().
 *
 * ibv_alloc_contig_mr() is the one-call convenience: allocate a buffer,
 * register all of it, return the MR; ibv_free_contig_mr() undoes both.
 *
 * See ibv_alloc_contig_buf(3), ibv_alloc_contig_mr(3) and
 * ibv_query_contig_mr(3).
 */
#ifndef INFINIBAND_VERBS_CONTIG_H
#define INFINIBAND_VERBS_CONTIG_H

#include <stddef.h>
#include <stdint.h>
#include <infiniband/verbs.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Valid fields of struct ibv_alloc_contig_mr_attr. */
enum ibv_alloc_contig_mr_attr_mask {
	IBV_CONTIG_MR_ATTR_NUMA_NODE = 1 << 0,
	IBV_CONTIG_MR_ATTR_FLAGS = 1 << 1,
	IBV_CONTIG_MR_ATTR_POLICY = 1 << 2,
	IBV_CONTIG_MR_ATTR_MIN_EXTENT = 1 << 3,
};

/* struct ibv_alloc_contig_mr_attr.flags */
enum ibv_contig_mr_flags {
	/* Take the memory from the requested (or default) node only. */
	IBV_CONTIG_MR_NODE_STRICT = 1 << 0,
};

/* Where the memory may come from (struct ibv_alloc_contig_mr_attr.policy). */
enum ibv_contig_mr_policy {
	/* The environment variable IBV_CONTIG_MR_ALLOC_TYPE (CONTIG, ALL or
	 * HUGE); CONTIG when it is not set. */
	IBV_CONTIG_MR_POLICY_DEFAULT = 0,
	/* Kernel contiguous allocation only. */
	IBV_CONTIG_MR_POLICY_CONTIG = 1,
	/* Kernel contiguous, else hugetlb 1 GiB pages, else 2 MiB pages. */
	IBV_CONTIG_MR_POLICY_ALL = 2,
	/* hugetlb pages only: 1 GiB, else 2 MiB. */
	IBV_CONTIG_MR_POLICY_HUGE = 3,
};

/* Attributes of ibv_alloc_contig_buf() and ibv_alloc_contig_mr_ex(). */
struct ibv_alloc_contig_mr_attr {
	uint32_t comp_mask;	/* enum ibv_alloc_contig_mr_attr_mask */
	int numa_node;		/* >= 0, or -1: no preference */
	uint32_t flags;		/* enum ibv_contig_mr_flags */
	uint32_t policy;	/* enum ibv_contig_mr_policy */
	/*
	 * A power of two of at least the page size: when no single range of
	 * the whole length is free, the kernel may build the buffer from
	 * physically contiguous extents of at least this size, each aligned
	 * to its size, mapped back to back. Without it the buffer is one
	 * range or the call fails.
	 */
	uint64_t min_extent;
};

/* The back end that supplied a buffer's memory. */
enum ibv_contig_mr_backend {
	IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG = 1,
	IBV_CONTIG_MR_BACKEND_HUGETLB_1G = 2,
	IBV_CONTIG_MR_BACKEND_HUGETLB_2M = 3,
};

/*
 * A contiguous buffer. The fields are the caller's to read; the library
 * owns the structure (ibv_free_contig_buf() releases it).
 */
struct ibv_contig_buf {
	struct ibv_context *context;
	void *addr;		/* the mapping; page aligned */
	size_t length;		/* bytes mapped at addr */
};

/*
 * What the library knows about a buffer, and, for ibv_query_contig_mr(),
 * about an MR. comp_mask: requested on input, valid on output.
 */
enum ibv_contig_mr_info_mask {
	/* device_page_size and map_entries (MRs only) */
	IBV_CONTIG_MR_INFO_DEVICE_PAGES = 1 << 0,
	/* numa_node */
	IBV_CONTIG_MR_INFO_NUMA_NODE = 1 << 1,
};

/*
 * Grows only at its end. The library writes no more than the size the
 * caller passes (sizeof as the caller was compiled), so a caller built
 * against an older header keeps working with a newer library.
 */
struct ibv_contig_mr_info {
	uint32_t comp_mask;	/* enum ibv_contig_mr_info_mask */
	uint32_t backend;	/* enum ibv_contig_mr_backend */
	uint64_t length;	/* bytes mapped at the buffer's address */
	uint64_t contig_extent;	/* bytes in each physically contiguous extent
				 * but the last; the buffer has
				 * ceil(length / contig_extent) of them */
	uint64_t alignment;	/* the buffer's address and its physical address
				 * agree modulo this power of two */
	uint64_t device_page_size; /* page size the device uses, 0: unknown */
	uint64_t map_entries;	/* device translation entries, 0: unknown */
	int32_t numa_node;	/* node of the memory, -1: unknown */
	uint32_t reserved;
};

/* The smallest info_size the query calls accept. */
#define IBV_CONTIG_MR_INFO_SIZE_V1                                             \
	offsetof(struct ibv_contig_mr_info, numa_node)

/*
 * Buffers. ibv_alloc_contig_buf() returns 0 and sets *buf, or a positive
 * errno (also left in errno). The PD names the context; MRs over the buffer
 * may use any PD of that context.
 */
int ibv_alloc_contig_buf(struct ibv_pd *pd, size_t length,
			 const struct ibv_alloc_contig_mr_attr *attr,
			 struct ibv_contig_buf **buf);

/* Unmap and release. MRs still registered over the buffer keep their
 * pages until ibv_dereg_mr(). 0 or a positive errno. */
int ibv_free_contig_buf(struct ibv_contig_buf *buf);

/*
 * Keep the mapping, drop the rest: the library releases the buffer's kernel
 * object and its own record, and the memory then lives exactly as long as
 * a mapping of it (and any MR over it): munmap() releases it, with its
 * accounting. For allocators that own memory by its address. buf is gone
 * afterwards. 0 or a positive errno; on failure buf stays valid.
 */
int ibv_detach_contig_buf(struct ibv_contig_buf *buf);

/* Register [addr, addr + length), which must lie inside buf, with
 * IOVA addr. NULL and errno on failure; release with ibv_dereg_mr(). */
struct ibv_mr *ibv_reg_contig_buf_mr(struct ibv_pd *pd,
				     struct ibv_contig_buf *buf, void *addr,
				     size_t length, unsigned int access);

int _ibv_query_contig_buf(struct ibv_contig_buf *buf,
			  struct ibv_contig_mr_info *info, size_t info_size);

static inline int ibv_query_contig_buf(struct ibv_contig_buf *buf,
				       struct ibv_contig_mr_info *info)
{
	return _ibv_query_contig_buf(buf, info, sizeof(*info));
}

/* The one-call form: a buffer with one MR over all of it. */
struct ibv_mr *ibv_alloc_contig_mr(struct ibv_pd *pd, size_t length,
				   unsigned int access);

struct ibv_mr *
ibv_alloc_contig_mr_ex(struct ibv_pd *pd, size_t length, unsigned int access,
		       const struct ibv_alloc_contig_mr_attr *attr);

/* Deregister and free the buffer. 0 or a positive errno; EINVAL for an MR
 * that ibv_alloc_contig_mr() did not return. */
int ibv_free_contig_mr(struct ibv_mr *mr);

/* The buffer behind an MR from ibv_alloc_contig_mr(), or NULL (EINVAL). */
struct ibv_contig_buf *ibv_contig_mr_buf(struct ibv_mr *mr);

int _ibv_query_contig_mr(struct ibv_mr *mr, struct ibv_contig_mr_info *info,
			 size_t info_size);

static inline int ibv_query_contig_mr(struct ibv_mr *mr,
				      struct ibv_contig_mr_info *info)
{
	return _ibv_query_contig_mr(mr, info, sizeof(*info));
}

#ifdef __cplusplus
}
#endif

#endif /* INFINIBAND_VERBS_CONTIG_H */
