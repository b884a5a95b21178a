/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * libibverbs-ext: physically contiguous memory regions.
 *
 * ibv_alloc_contig_mr() asks the kernel to allocate physically contiguous,
 * zeroed memory, map it into the caller and register it as a memory region
 * in one call, so that the device needs a single translation entry (or a
 * few) for the whole region. See ibv_alloc_contig_mr(3) and
 * ibv_query_contig_mr(3).
 *
 * MRs returned by this library must be released with ibv_free_contig_mr(),
 * never with ibv_dereg_mr(); ibv_rereg_mr() is not supported on them.
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

struct ibv_alloc_contig_mr_attr {
	uint32_t comp_mask;	/* enum ibv_alloc_contig_mr_attr_mask */
	int numa_node;		/* >= 0, or -1: no preference */
	uint32_t flags;		/* enum ibv_contig_mr_flags */
	uint32_t policy;	/* enum ibv_contig_mr_policy */
};

/* The back end that supplied an MR's memory. */
enum ibv_contig_mr_backend {
	IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG = 1,
	IBV_CONTIG_MR_BACKEND_HUGETLB_1G = 2,
	IBV_CONTIG_MR_BACKEND_HUGETLB_2M = 3,
};

/* struct ibv_contig_mr_info.comp_mask: requested (in) and valid (out). */
enum ibv_contig_mr_info_mask {
	/* device_page_size and map_entries */
	IBV_CONTIG_MR_INFO_DEVICE_PAGES = 1 << 0,
};

struct ibv_contig_mr_info {
	uint32_t comp_mask;	/* enum ibv_contig_mr_info_mask */
	uint32_t backend;	/* enum ibv_contig_mr_backend */
	uint64_t length;	/* bytes mapped at mr->addr */
	uint64_t contig_extent;	/* bytes in each physically contiguous extent */
	uint64_t alignment;	/* mr->addr and the physical address agree
				 * modulo this power of two */
	uint64_t device_page_size; /* page size the device uses, 0: unknown */
	uint64_t map_entries;	/* device translation entries, 0: unknown */
};

struct ibv_mr *ibv_alloc_contig_mr(struct ibv_pd *pd, size_t length,
				   unsigned int access);

struct ibv_mr *
ibv_alloc_contig_mr_ex(struct ibv_pd *pd, size_t length, unsigned int access,
		       const struct ibv_alloc_contig_mr_attr *attr);

int ibv_free_contig_mr(struct ibv_mr *mr);

int ibv_query_contig_mr(struct ibv_mr *mr, struct ibv_contig_mr_info *info);

#ifdef __cplusplus
}
#endif

#endif /* INFINIBAND_VERBS_CONTIG_H */
