/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * Internal interfaces of libibverbs-ext. Nothing here is exported from the
 * shared library (the version script keeps only the ibv_* entry points);
 * the unit tests reach these functions through the static copy of the
 * library, libibverbs-ext-internal.a.
 */
#ifndef CMR_CONTIG_MR_H
#define CMR_CONTIG_MR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs_contig.h>

#define CMR_SZ_2M (UINT64_C(1) << 21)
#define CMR_SZ_1G (UINT64_C(1) << 30)

/*
 * Longest request accepted: the length must survive rounding up to the
 * largest page size any back end uses (1 GiB) and fit in a mapping
 * (PTRDIFF_MAX). Longer requests fail with EINVAL before any system call.
 */
#define CMR_MAX_LENGTH ((size_t)PTRDIFF_MAX - (size_t)CMR_SZ_1G + 1)

/* Access flags this library passes on; everything else is EINVAL. */
#define CMR_ACCESS_SUPPORTED                                                   \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |                    \
	 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC |                   \
	 IBV_ACCESS_MW_BIND | IBV_ACCESS_HUGETLB | IBV_ACCESS_OPTIONAL_RANGE)

#define CMR_ATTR_MASK_ALL                                                      \
	(IBV_CONTIG_MR_ATTR_NUMA_NODE | IBV_CONTIG_MR_ATTR_FLAGS |             \
	 IBV_CONTIG_MR_ATTR_POLICY)
#define CMR_FLAGS_ALL (IBV_CONTIG_MR_NODE_STRICT)
#define CMR_INFO_MASK_ALL (IBV_CONTIG_MR_INFO_DEVICE_PAGES)

/* Highest NUMA node number accepted (the nodemask given to mbind()). */
#define CMR_MAX_NUMA_NODES 1024

#define CMR_ENV_POLICY "IBV_CONTIG_MR_ALLOC_TYPE"

/* struct cmr_request.numa_node when the caller gave none. */
#define CMR_NODE_DEFAULT (-2)

/* A request after attribute checking and policy resolution. */
struct cmr_request {
	struct ibv_pd *pd;
	size_t length;
	unsigned int access;
	int numa_node;		/* >= 0, -1: no preference, or
				 * CMR_NODE_DEFAULT: resolve the default */
	bool node_strict;
	enum ibv_contig_mr_policy policy; /* never _DEFAULT */
};

struct cmr_backend;

/*
 * What ibv_alloc_contig_mr() returns: the caller sees ibv_mr, the library
 * finds the rest with container_of. ibv_dereg_mr() on &ibv_mr would hand
 * this structure to the provider, hence ibv_free_contig_mr().
 */
struct cmr_mr {
	struct ibv_mr ibv_mr;
	const struct cmr_backend *backend;
	void *map_addr;		/* the mapping to munmap() */
	size_t map_length;
	uint64_t contig_extent;
	uint64_t alignment;
	struct ibv_mr *inner;	/* hugetlb: the provider's MR */
	uint32_t driver_id;	/* kernel: for MR_DESTROY */
};

static inline struct cmr_mr *to_cmr(struct ibv_mr *mr)
{
	return (struct cmr_mr *)((char *)mr - offsetof(struct cmr_mr, ibv_mr));
}

/* attr.c: argument checks and policy; all return 0 or a positive errno. */
int cmr_check_request(struct ibv_pd *pd, size_t length, unsigned int access,
		      const struct ibv_alloc_contig_mr_attr *attr);
int cmr_policy_from_env(const char *value, enum ibv_contig_mr_policy *policy);
int cmr_resolve_policy(const struct ibv_alloc_contig_mr_attr *attr,
		       const char *env_value,
		       enum ibv_contig_mr_policy *policy);
int cmr_build_request(struct ibv_pd *pd, size_t length, unsigned int access,
		      const struct ibv_alloc_contig_mr_attr *attr,
		      const char *env_value, struct cmr_request *req);

/*
 * numa.c: the node used when the caller names none: the device's
 * (sysfs device/numa_node, when it exists and is >= 0), else the node of
 * the CPU the caller runs on; -1 when neither is known.
 */
int cmr_parse_numa_node(const char *text);
int cmr_default_numa_node(struct ibv_context *ctx);

/*
 * The back ends a policy tries, in order; returns how many were written to
 * list (at most max). 1 GiB pages are tried only for lengths of 1 GiB and
 * more.
 */
unsigned int cmr_policy_backends(enum ibv_contig_mr_policy policy,
				 size_t length,
				 const struct cmr_backend **list,
				 unsigned int max);

/* uverbs.c: the device's uverbs driver id, needed in every ioctl header. */
int cmr_driver_id(struct ibv_context *ctx, uint32_t *driver_id);
int cmr_driver_id_probe(int cmd_fd, uint32_t *driver_id);
int cmr_device_index(struct ibv_context *ctx, uint32_t *index);

#endif /* CMR_CONTIG_MR_H */
