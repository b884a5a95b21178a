// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Back ends: hugetlb pages (1 GiB or 2 MiB) from the reserved pool. Each
 * page is physically contiguous; the pages are not contiguous with each
 * other.
 *
 * The mapping is shared (MAP_SHARED: never copied on write, like the
 * kernel back end's), populated before the call returns and zeroed by the
 * kernel. Like the kernel back end's it is not inherited by fork()
 * (MADV_DONTFORK), except on kernels built without madvise(), where the
 * child shares it.
 *
 * The NUMA node is applied as the calling thread's memory policy around
 * mmap() and the population of the pages: preferred, or bound when
 * NODE_STRICT. With a bound policy the kernel reserves the pages against
 * that node's pool, so a node without enough pages fails mmap() with
 * ENOMEM instead of a later SIGBUS. The caller's own policy is restored
 * before returning.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/mempolicy.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define NODEMASK_LONGS (CMR_MAX_NUMA_NODES / (8 * sizeof(unsigned long)))
/* maxnode counts one more than the bits the kernel reads. */
#define NODEMASK_MAXNODE (CMR_MAX_NUMA_NODES + 1)

struct saved_policy {
	bool saved;
	int mode;
	unsigned long mask[NODEMASK_LONGS];
};

/*
 * Make node the calling thread's policy, keeping the old one in old.
 * Without NUMA support in the kernel there is only node 0.
 */
static int policy_set(int node, bool strict, struct saved_policy *old)
{
	const unsigned int bits = 8 * sizeof(unsigned long);
	unsigned long mask[NODEMASK_LONGS];

	old->saved = false;
	if (node < 0)
		return 0;
	if (syscall(SYS_get_mempolicy, &old->mode, old->mask, NODEMASK_MAXNODE,
		    NULL, 0)) {
		if (errno == ENOSYS)
			return node == 0 ? 0 : EINVAL;
		return errno;
	}
	memset(mask, 0, sizeof(mask));
	mask[node / bits] = 1UL << (node % bits);
	if (syscall(SYS_set_mempolicy, strict ? MPOL_BIND : MPOL_PREFERRED,
		    mask, NODEMASK_MAXNODE))
		return errno;
	old->saved = true;
	return 0;
}

static void policy_restore(struct saved_policy *old)
{
	int saved_errno = errno;

	if (old->saved)
		syscall(SYS_set_mempolicy, old->mode, old->mask,
			NODEMASK_MAXNODE);
	errno = saved_errno;
}

/* Fault every page in now, under the policy; an error, never SIGBUS. */
static int populate(void *addr, size_t len)
{
	if (!madvise(addr, len, MADV_POPULATE_WRITE))
		return 0;
	/* EINVAL: before Linux 5.14. The pages of a shared hugetlb mapping
	 * were reserved by mmap(); they arrive at first touch. */
	if (errno == EINVAL)
		return 0;
	return ENOMEM;
}

/* The node of the page at addr, or -1. */
static int page_node(void *addr)
{
	int node;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0, addr,
		    MPOL_F_NODE | MPOL_F_ADDR))
		return -1;
	return node >= 0 && node < CMR_MAX_NUMA_NODES ? node : -1;
}

static int hugetlb_alloc(const struct cmr_backend *be,
			 const struct cmr_request *req, struct cmr_buf *buf)
{
	size_t page = be->page_size;
	size_t map_len = (req->length + page - 1) & ~(page - 1);
	int shift = __builtin_ctzll(page);
	int node = req->numa_node;
	struct saved_policy old;
	void *addr;
	int ret;

	if (node == CMR_NODE_DEFAULT)
		node = cmr_default_numa_node(req->pd->context);
	if (req->node_strict && node < 0)
		return EINVAL;
	ret = policy_set(node, req->node_strict, &old);
	if (ret)
		return ret;

	addr = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB |
			    (shift << MAP_HUGE_SHIFT),
		    -1, 0);
	if (addr == MAP_FAILED) {
		/* EINVAL: no hugetlbfs or no such page size here. */
		ret = errno == EINVAL ? EOPNOTSUPP : errno;
		goto out_policy;
	}
	ret = populate(addr, map_len);
	if (ret)
		goto err_unmap;
	if (madvise(addr, map_len, MADV_DONTFORK) && errno != ENOSYS) {
		ret = errno;
		goto err_unmap;
	}
	policy_restore(&old);

	buf->pub.context = req->pd->context;
	buf->pub.addr = addr;
	buf->pub.length = map_len;
	buf->backend = be;
	buf->contig_extent = page;
	buf->alignment = page;
	buf->numa_node = page_node(addr);
	return 0;

err_unmap:
	munmap(addr, map_len);
out_policy:
	policy_restore(&old);
	return ret;
}

const struct cmr_backend cmr_backend_hugetlb_1g = {
	.name = "hugetlb-1G",
	.kind = IBV_CONTIG_MR_BACKEND_HUGETLB_1G,
	.page_size = CMR_SZ_1G,
	.alloc = hugetlb_alloc,
};

const struct cmr_backend cmr_backend_hugetlb_2m = {
	.name = "hugetlb-2M",
	.kind = IBV_CONTIG_MR_BACKEND_HUGETLB_2M,
	.page_size = CMR_SZ_2M,
	.alloc = hugetlb_alloc,
};
