// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * mmap, munmap and mremap. Only a plain request for private anonymous
 * read-write memory of CMR_ALLOC_MIN bytes or more, at an address of the
 * kernel's choosing, is served from contiguous memory. Everything else
 * goes to the kernel untouched: file and shared mappings, MAP_FIXED and
 * address hints, stacks, hugetlb, MAP_NORESERVE and PROT_NONE reservations
 * (which a program means to fill in later), executable memory.
 *
 * A region is a shared mapping of the buffer, so two things differ from
 * private anonymous memory, both documented in docs/applications.md:
 * MADV_DONTNEED keeps the contents, and the mapping cannot grow in place;
 * mremap() with MREMAP_MAYMOVE moves a growing region into a new one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"

#define CMR_MMAP_NOT_SERVED                                                    \
	(MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_GROWSDOWN | MAP_STACK |         \
	 MAP_HUGETLB | MAP_NORESERVE | MAP_32BIT)

static bool serve(void *addr, size_t len, int prot, int flags)
{
	return cmr_alloc_cfg.ready && !addr && len >= cmr_alloc_cfg.min &&
	       !cmr_alloc_busy &&
	       prot == (PROT_READ | PROT_WRITE) && (flags & MAP_ANONYMOUS) &&
	       (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & CMR_MMAP_NOT_SERVED);
}

/* A new region of len bytes: contiguous, else ordinary by the policy. */
static void *new_mapping(size_t len, int flags)
{
	size_t mapped;
	void *p;

	p = cmr_region_new(len, 1, CMR_REGION_MMAP, false, &mapped);
	if (p || cmr_alloc_cfg.on_fail == CMR_ALLOC_FAIL) {
		if (!p)
			errno = ENOMEM;
		return p ? p : MAP_FAILED;
	}
	return cmr_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
}

CMR_ALLOC_EXPORT void *mmap(void *addr, size_t len, int prot, int flags,
			    int fd, off_t off)
{
	if (serve(addr, len, prot, flags))
		return new_mapping(len, flags);
	return cmr_region_mmap_over(addr, len, prot, flags, fd, off);
}

/* LP64: the same call under its large-file name. */
CMR_ALLOC_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags,
			      int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

CMR_ALLOC_EXPORT int munmap(void *addr, size_t len)
{
	return cmr_region_munmap(addr, len);
}

/* Grow (part of) a region: a new mapping, the contents copied over. */
static void *grow(void *old, size_t old_len, size_t new_len, int flags)
{
	void *p;

	if (!(flags & MREMAP_MAYMOVE)) {
		/* As for any mapping that cannot grow where it is. */
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = new_mapping(new_len, MAP_PRIVATE | MAP_ANONYMOUS);
	if (p == MAP_FAILED)
		return p;
	memcpy(p, old, old_len);
	cmr_region_munmap(old, old_len);
	return p;
}

CMR_ALLOC_EXPORT void *mremap(void *old, size_t old_len, size_t new_len,
			      int flags, ...)
{
	enum cmr_region_kind kind;
	void *new_addr = NULL;
	uintptr_t start;
	size_t len;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (!cmr_region_find(old, &start, &len, &kind)) {
		/* A fixed target may lie over a region. */
		if (flags & MREMAP_FIXED)
			return cmr_region_mremap(old, old_len, new_len, flags,
						 new_addr, CMR_REGION_NONE);
		return cmr_sys_mremap(old, old_len, new_len, flags, new_addr);
	}
	if (old_len && new_len > old_len &&
	    !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) &&
	    (uintptr_t)old + old_len <= start + len)
		return grow(old, old_len, new_len, flags);
	/* Shrinking, moving to a fixed address, or a second mapping
	 * (old_len 0): the kernel does it; the table follows. */
	return cmr_region_mremap(old, old_len, new_len, flags, new_addr, kind);
}
