// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The malloc family. A request of CMR_ALLOC_MIN bytes or more becomes a
 * contiguous region of its own (zeroed, aligned to its size rounded up to
 * a power of two, as the kernel gives it); anything smaller, anything the
 * preload itself asks for, and anything contiguous memory cannot serve
 * under the fallback policy goes to glibc's allocator through its
 * __libc_* entry points, which are never interposed. This is glibc's
 * documented way to replace malloc: every function of the family is
 * defined here, so glibc's own internal calls come here too.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

static bool serve(size_t size)
{
	return cmr_alloc_cfg.ready && size >= cmr_alloc_cfg.min &&
	       !cmr_alloc_busy;
}

/*
 * A contiguous region for size bytes: the address, or NULL. *decided is
 * false when the caller is to use glibc instead (the fallback policy).
 * keeps_old: the caller keeps its block when there is none (see
 * cmr_region_new()).
 */
static void *big_for(size_t size, size_t align, bool keeps_old,
		     bool *decided)
{
	size_t mapped;
	void *p;

	p = cmr_region_new(size, align, CMR_REGION_MALLOC, keeps_old, &mapped);
	*decided = p || cmr_alloc_cfg.on_fail == CMR_ALLOC_FAIL;
	if (!p && *decided)
		errno = ENOMEM;
	return p;
}

static void *big(size_t size, size_t align, bool *decided)
{
	return big_for(size, align, false, decided);
}

/* glibc's malloc_usable_size(), for its own chunks. */
static size_t libc_usable_size(void *p)
{
	static _Atomic(size_t (*)(void *)) fn;
	size_t (*f)(void *) = atomic_load(&fn);

	if (!f) {
		f = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
		if (!f)
			return 0;
		atomic_store(&fn, f);
	}
	return f(p);
}

CMR_ALLOC_EXPORT void *malloc(size_t size)
{
	bool decided;
	void *p;

	if (serve(size)) {
		p = big(size, 1, &decided);
		if (decided)
			return p;
	}
	return __libc_malloc(size);
}

CMR_ALLOC_EXPORT void free(void *p)
{
	if (!cmr_region_free_malloc(p))
		__libc_free(p);
}

/* The old name, and C23's sized forms: the size is known here anyway. */
CMR_ALLOC_EXPORT void cfree(void *p)
{
	free(p);
}

CMR_ALLOC_EXPORT void free_sized(void *p, size_t size)
{
	(void)size;
	free(p);
}

CMR_ALLOC_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	(void)size;
	free(p);
}

CMR_ALLOC_EXPORT void *calloc(size_t n, size_t size)
{
	bool decided;
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (serve(total)) {
		/* The kernel zeroed it. */
		p = big(total, 1, &decided);
		if (decided)
			return p;
	}
	return __libc_calloc(n, size);
}

/*
 * Move len bytes of p (which the caller then frees) into a new block; when
 * shrinking, the caller keeps p if there is no new one.
 */
static void *moved(const void *p, size_t len, size_t size)
{
	bool decided = false;
	void *q = NULL;

	if (serve(size))
		q = big_for(size, 1, size <= len, &decided);
	if (!decided)
		q = __libc_malloc(size);
	if (q)
		memcpy(q, p, len < size ? len : size);
	return q;
}

CMR_ALLOC_EXPORT void *realloc(void *p, size_t size)
{
	bool decided;
	size_t len;
	void *q;

	if (!p)
		return malloc(size);
	len = cmr_region_malloc_len(p);
	if (!len) {
		/*
		 * A glibc block that shrinks stays glibc's, as shrinking
		 * must not fail whatever the policy says of regions.
		 */
		if (!serve(size) || size <= libc_usable_size(p))
			return __libc_realloc(p, size);
		/* Across the threshold, upwards; glibc's own growth (by
		 * mremap) when no region can be had and the policy allows. */
		q = big(size, 1, &decided);
		if (!decided)
			return __libc_realloc(p, size);
		if (q) {
			len = libc_usable_size(p);
			memcpy(q, p, len < size ? len : size);
			__libc_free(p);
		}
		return q;
	}
	if (!size) {
		free(p);
		return NULL;
	}
	/* Keep the region while it stays at least half used. */
	if (size <= len && size > len / 2 && serve(size))
		return p;
	q = moved(p, len, size);
	if (!q)
		/* Shrinking never fails: the region still holds it. */
		return size <= len ? p : NULL;
	cmr_region_free_malloc(p);
	return q;
}

CMR_ALLOC_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

static void *aligned(size_t align, size_t size)
{
	bool decided;
	void *p;

	/*
	 * glibc rounds a non-power-of-two alignment up, and serves what no
	 * buffer of this size is aligned to; leave both to it.
	 */
	if (serve(size) && align && !(align & (align - 1)) &&
	    cmr_region_can_align(size, align)) {
		p = big(size, align, &decided);
		if (decided)
			return p;
	}
	return __libc_memalign(align, size);
}

CMR_ALLOC_EXPORT void *memalign(size_t align, size_t size)
{
	return aligned(align, size);
}

CMR_ALLOC_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return aligned(align, size);
}

CMR_ALLOC_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	p = aligned(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	errno = saved;
	return 0;
}

CMR_ALLOC_EXPORT void *valloc(size_t size)
{
	return aligned((size_t)sysconf(_SC_PAGESIZE), size);
}

CMR_ALLOC_EXPORT void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(page, size ? (size + page - 1) & ~(page - 1) : page);
}

CMR_ALLOC_EXPORT size_t malloc_usable_size(void *p)
{
	size_t len = cmr_region_malloc_len(p);

	return len ? len : libc_usable_size(p);
}
