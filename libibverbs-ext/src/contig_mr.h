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
 * Longest buffer accepted: the length must survive rounding up to the
 * largest page size any back end uses (1 GiB) and fit in a mapping
 * (PTRDIFF_MAX). Longer requests fail with EINVAL before any system call.
 */
#define CMR_MAX_LENGTH ((size_t)PTRDIFF_MAX - (size_t)CMR_SZ_1G + 1)

/* Access flags an MR over a buffer may ask for; everything else is EINVAL. */
#define CMR_ACCESS_SUPPORTED                                                   \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |                    \
	 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC |                   \
	 IBV_ACCESS_MW_BIND | IBV_ACCESS_HUGETLB | IBV_ACCESS_OPTIONAL_RANGE)

#define CMR_ATTR_MASK_ALL                                                      \
	(IBV_CONTIG_MR_ATTR_NUMA_NODE | IBV_CONTIG_MR_ATTR_FLAGS |             \
	 IBV_CONTIG_MR_ATTR_POLICY | IBV_CONTIG_MR_ATTR_MIN_EXTENT)
#define CMR_FLAGS_ALL (IBV_CONTIG_MR_NODE_STRICT)
#define CMR_INFO_MASK_ALL                                                      \
	(IBV_CONTIG_MR_INFO_DEVICE_PAGES | IBV_CONTIG_MR_INFO_NUMA_NODE)

/* Highest NUMA node number accepted (the nodemask given to mbind()). */
#define CMR_MAX_NUMA_NODES 1024

#define CMR_ENV_POLICY "IBV_CONTIG_MR_ALLOC_TYPE"

/* struct cmr_request.numa_node when the caller gave none. */
#define CMR_NODE_DEFAULT (-2)

/* A buffer request after attribute checking and policy resolution. */
struct cmr_request {
	struct ibv_pd *pd;
	size_t length;
	int numa_node;		/* >= 0, -1: no preference, or
				 * CMR_NODE_DEFAULT: none given */
	bool node_strict;
	uint64_t min_extent;	/* 0: one range only */
	enum ibv_contig_mr_policy policy; /* never _DEFAULT */
};

struct cmr_backend;

/*
 * What ibv_alloc_contig_mr() keeps of the MR it returned, to recognise it
 * again in ibv_free_contig_mr() and ibv_contig_mr_buf(). The pointer alone
 * is not enough: after a (legal) ibv_dereg_mr() of that MR, malloc() may
 * hand the same address to the next MR.
 */
struct cmr_mr_ref {
	struct ibv_mr *mr;	/* NULL: none */
	uint32_t handle;
	uint32_t lkey;
	void *addr;
};

/*
 * A buffer: the caller sees pub, the library finds the rest with
 * to_cmr_buf(). Back ends fill everything but the registry fields.
 */
struct cmr_buf {
	struct ibv_contig_buf pub;	/* context, addr (the mapping), length */
	const struct cmr_backend *backend;
	uint64_t contig_extent;
	uint64_t alignment;
	int numa_node;		/* -1: unknown */
	uint32_t handle;	/* kernel: the CONTIG_BUF object */
	uint32_t driver_id;	/* kernel: for CONTIG_BUF_FREE */

	/* registry.c, under its lock */
	struct cmr_buf *prev, *next;
	struct cmr_mr_ref one_call;	/* the MR of ibv_alloc_contig_mr() */
};

static inline struct cmr_buf *to_cmr_buf(struct ibv_contig_buf *buf)
{
	return (struct cmr_buf *)((char *)buf - offsetof(struct cmr_buf, pub));
}

/* attr.c: argument checks and policy; all return 0 or a positive errno. */
int cmr_check_request(struct ibv_pd *pd, size_t length,
		      const struct ibv_alloc_contig_mr_attr *attr);
int cmr_check_access(unsigned int access);
int cmr_check_range(struct ibv_pd *pd, const struct ibv_contig_buf *buf,
		    const void *addr, size_t length, unsigned int access);
int cmr_policy_from_env(const char *value, enum ibv_contig_mr_policy *policy);
int cmr_resolve_policy(const struct ibv_alloc_contig_mr_attr *attr,
		       const char *env_value,
		       enum ibv_contig_mr_policy *policy);
int cmr_build_request(struct ibv_pd *pd, size_t length,
		      const struct ibv_alloc_contig_mr_attr *attr,
		      const char *env_value, struct cmr_request *req);
int cmr_check_info(const struct ibv_contig_mr_info *info, size_t info_size);

/*
 * numa.c: the node used when the caller names none: the device's
 * (sysfs device/numa_node, when it exists and is >= 0), else the node of
 * the CPU the caller runs on; -1 when neither is known. Only the hugetlb
 * back ends use it: the kernel chooses its own default (task policy,
 * cpuset, device, CPU).
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

/*
 * registry.c: the process's live buffers. Every function takes the lock
 * itself; none calls back into the library.
 */
void cmr_registry_add(struct cmr_buf *b);
/* Unlink b; false when b is not a live buffer (never allocated, freed). */
bool cmr_registry_remove(struct cmr_buf *b);
/* Copy the live buffer b (or the one holding [addr, addr + length)) into
 * *copy. 0, or EINVAL when there is none. */
int cmr_registry_copy(const struct cmr_buf *b, struct cmr_buf *copy);
int cmr_registry_copy_range(const void *addr, size_t length,
			    struct cmr_buf *copy);
/* Record mr as b's one-call MR. */
void cmr_registry_set_mr(struct cmr_buf *b, struct ibv_mr *mr);
/* A new MR at this address: no association may still name it. */
void cmr_registry_forget_mr(const struct ibv_mr *mr);
/* The buffer whose one-call MR is mr (pointer, handle, lkey and address
 * all match), or NULL. _take also drops the association. */
struct cmr_buf *cmr_registry_mr_buf(const struct ibv_mr *mr);
struct cmr_buf *cmr_registry_take_mr(const struct ibv_mr *mr);

/* uverbs.c: the device's uverbs driver id, needed in every ioctl header. */
int cmr_driver_id(struct ibv_context *ctx, uint32_t *driver_id);
int cmr_driver_id_probe(int cmd_fd, uint32_t *driver_id);
int cmr_device_index(struct ibv_context *ctx, uint32_t *index);

#endif /* CMR_CONTIG_MR_H */
