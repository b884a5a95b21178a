// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Argument checking and policy resolution. Everything here is pure (no
 * system calls), so that a bad request fails with EINVAL before the
 * library touches the kernel, and so that the unit tests can check it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

#include "backend.h"
#include "contig_mr.h"

/*
 * rdma-core's convention (ibv_query_device_ex(), ibv_alloc_td(), the
 * providers' create_cq/create_qp): comp_mask bits the library does not know
 * are EINVAL, so that a newer application fails cleanly on an older library.
 */
int cmr_check_request(struct ibv_pd *pd, size_t length,
		      const struct ibv_alloc_contig_mr_attr *attr)
{
	if (!pd || !pd->context)
		return EINVAL;
	if (length == 0 || length > CMR_MAX_LENGTH)
		return EINVAL;
	if (!attr)
		return 0;

	if (attr->comp_mask & ~(uint32_t)CMR_ATTR_MASK_ALL)
		return EINVAL;
	if (attr->comp_mask & IBV_CONTIG_MR_ATTR_NUMA_NODE) {
		if (attr->numa_node < -1 ||
		    attr->numa_node >= CMR_MAX_NUMA_NODES)
			return EINVAL;
	}
	if (attr->comp_mask & IBV_CONTIG_MR_ATTR_FLAGS) {
		if (attr->flags & ~(uint32_t)CMR_FLAGS_ALL)
			return EINVAL;
		/* Strict to "no preference" means nothing. */
		if ((attr->flags & IBV_CONTIG_MR_NODE_STRICT) &&
		    (attr->comp_mask & IBV_CONTIG_MR_ATTR_NUMA_NODE) &&
		    attr->numa_node < 0)
			return EINVAL;
	}
	if (attr->comp_mask & IBV_CONTIG_MR_ATTR_POLICY) {
		if (attr->policy > IBV_CONTIG_MR_POLICY_HUGE)
			return EINVAL;
	}
	/* The kernel also refuses one below its page size. */
	if (attr->comp_mask & IBV_CONTIG_MR_ATTR_MIN_EXTENT) {
		if (attr->min_extent < 4096 ||
		    (attr->min_extent & (attr->min_extent - 1)))
			return EINVAL;
	}
	return 0;
}

/*
 * The memory is pinned and its IOVA is its address: on-demand paging and
 * zero-based MRs are refused, as is any bit libibverbs 44 does not define.
 */
int cmr_check_access(unsigned int access)
{
	return access & ~(unsigned int)CMR_ACCESS_SUPPORTED ? EINVAL : 0;
}

int cmr_check_range(struct ibv_pd *pd, const struct ibv_contig_buf *buf,
		    const void *addr, size_t length, unsigned int access)
{
	uintptr_t start = (uintptr_t)addr, lo;

	if (!pd || !buf || !pd->context || pd->context != buf->context)
		return EINVAL;
	lo = (uintptr_t)buf->addr;
	/* Inside [lo, lo + buf->length), without computing an end that
	 * could overflow. */
	if (length == 0 || start < lo || start - lo > buf->length ||
	    length > buf->length - (start - lo))
		return EINVAL;
	return cmr_check_access(access);
}

int cmr_policy_from_env(const char *value, enum ibv_contig_mr_policy *policy)
{
	static const struct {
		const char *name;
		enum ibv_contig_mr_policy policy;
	} names[] = {
		{ "CONTIG", IBV_CONTIG_MR_POLICY_CONTIG },
		{ "ALL", IBV_CONTIG_MR_POLICY_ALL },
		{ "HUGE", IBV_CONTIG_MR_POLICY_HUGE },
	};
	unsigned int i;

	if (!value || !*value) {
		*policy = IBV_CONTIG_MR_POLICY_CONTIG;
		return 0;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(value, names[i].name)) {
			*policy = names[i].policy;
			return 0;
		}
	}
	return EINVAL;
}

int cmr_resolve_policy(const struct ibv_alloc_contig_mr_attr *attr,
		       const char *env_value, enum ibv_contig_mr_policy *policy)
{
	if (attr && (attr->comp_mask & IBV_CONTIG_MR_ATTR_POLICY) &&
	    attr->policy != IBV_CONTIG_MR_POLICY_DEFAULT) {
		*policy = attr->policy;
		return 0;
	}
	return cmr_policy_from_env(env_value, policy);
}

int cmr_build_request(struct ibv_pd *pd, size_t length,
		      const struct ibv_alloc_contig_mr_attr *attr,
		      const char *env_value, struct cmr_request *req)
{
	int ret;

	ret = cmr_check_request(pd, length, attr);
	if (ret)
		return ret;
	ret = cmr_resolve_policy(attr, env_value, &req->policy);
	if (ret)
		return ret;

	req->pd = pd;
	req->length = length;
	req->node_strict = attr && (attr->comp_mask & IBV_CONTIG_MR_ATTR_FLAGS) &&
			   (attr->flags & IBV_CONTIG_MR_NODE_STRICT);
	req->min_extent = 0;
	if (attr && (attr->comp_mask & IBV_CONTIG_MR_ATTR_MIN_EXTENT))
		req->min_extent = attr->min_extent;
	req->numa_node = CMR_NODE_DEFAULT;
	if (attr && (attr->comp_mask & IBV_CONTIG_MR_ATTR_NUMA_NODE))
		req->numa_node = attr->numa_node;
	return 0;
}

/*
 * The query calls: the caller's structure must hold at least the fields of
 * the first version, and may ask only for what this library knows.
 */
int cmr_check_info(const struct ibv_contig_mr_info *info, size_t info_size)
{
	if (!info || info_size < IBV_CONTIG_MR_INFO_SIZE_V1)
		return EINVAL;
	if (info->comp_mask & ~(uint32_t)CMR_INFO_MASK_ALL)
		return EINVAL;
	return 0;
}

unsigned int cmr_policy_backends(enum ibv_contig_mr_policy policy,
				 size_t length,
				 const struct cmr_backend **list,
				 unsigned int max)
{
	unsigned int n = 0;

	if (max < 3)
		return 0;
	if (policy == IBV_CONTIG_MR_POLICY_CONTIG ||
	    policy == IBV_CONTIG_MR_POLICY_ALL)
		list[n++] = &cmr_backend_kernel_contig;
	if (policy == IBV_CONTIG_MR_POLICY_ALL ||
	    policy == IBV_CONTIG_MR_POLICY_HUGE) {
		/* A 1 GiB page for less than 1 GiB wastes most of it. */
		if (length >= CMR_SZ_1G)
			list[n++] = &cmr_backend_hugetlb_1g;
		list[n++] = &cmr_backend_hugetlb_2m;
	}
	return n;
}
