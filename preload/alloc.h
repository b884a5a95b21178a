/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * libcontig-mr-alloc.so: internal interfaces (docs/applications.md).
 *
 * The preload serves a program's large anonymous allocations with
 * physically contiguous memory (ibv_alloc_contig_buf(), detached: the
 * mapping alone holds it). Nothing here registers memory: the program's
 * own ibv_reg_mr() gets large device pages because the memory is
 * contiguous and aligned.
 *
 *   config.c  the settings, from the environment, read once at load
 *   source.c  contiguous memory: the device, the allocation, the policy
 *   regions.c the live regions it handed out, by address
 *   malloc.c  the malloc family
 *   mmap.c    mmap, munmap, mremap
 *   fork.c    fork: the child's copy of every region
 */
#ifndef CMR_ALLOC_H
#define CMR_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMR_ALLOC_EXPORT __attribute__((visibility("default")))

/* What to do when contiguous memory cannot be had. */
enum cmr_alloc_on_fail {
	CMR_ALLOC_FALLBACK,	/* ordinary memory, as without the preload */
	CMR_ALLOC_FAIL,		/* the call fails with ENOMEM */
};

struct cmr_alloc_config {
	bool ready;		/* the constructor has run */
	size_t min;		/* smallest request served, at least a page */
	size_t page;
	enum cmr_alloc_on_fail on_fail;
	const char *device;	/* NULL: the first device */
	uint64_t min_extent;	/* 0: one range per region */
	bool verbose;
};

/* Read once by the constructor (config.c); constant afterwards. */
extern struct cmr_alloc_config cmr_alloc_cfg;

/*
 * Set while the preload itself runs (in libibverbs, libibverbs-ext, the
 * loader): every call it makes is passed to glibc untouched. Initial-exec
 * TLS, so that reading it never allocates.
 */
extern __thread bool cmr_alloc_busy __attribute__((tls_model("initial-exec")));

/*
 * source.c: at least len bytes of contiguous memory, mapped read-write,
 * zeroed. Returns the address and sets *mapped, or NULL with errno set.
 * The memory is released by munmap() of all of it.
 */
void *cmr_contig_get(size_t len, size_t *mapped);
/*
 * In a child after fork(): the parent's device context is not ours. A
 * child of a single-threaded parent opens its own when it needs one; one
 * of a multi-threaded parent gets no contiguous memory (a lock of
 * libibverbs may have been held by a thread that does not exist here).
 */
void cmr_source_forget(bool parent_threaded);
/* One line on stderr: _log when verbose, _warn always. */
void cmr_alloc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmr_alloc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How a region was asked for: free() or munmap() ends it. */
enum cmr_region_kind {
	CMR_REGION_NONE,	/* not a region (cmr_region_mremap()) */
	CMR_REGION_MALLOC,
	CMR_REGION_MMAP,
};

/*
 * regions.c: the table of live regions. Every function takes the table's
 * lock itself, except the _locked ones (fork.c holds it across fork()).
 * Changes of the address space that touch a region (munmap, mremap, a
 * MAP_FIXED mapping over it) go through here, so that the system call and
 * the table's update are one step for a concurrent fork().
 */
int cmr_region_add(void *addr, size_t len, enum cmr_region_kind kind);
/* The length of the malloc region that starts at addr, or 0. Cheap when
 * no region is live or addr is outside every region. */
size_t cmr_region_malloc_len(const void *addr);
/* Unmap and forget the malloc region at addr; false when it is none. */
bool cmr_region_free_malloc(void *addr);
/* The region holding addr: its start and length; false when none. */
bool cmr_region_find(const void *addr, uintptr_t *start, size_t *len,
		     enum cmr_region_kind *kind);
/* munmap(), mmap() (MAP_FIXED over a region) and mremap() of a region,
 * by the kernel, with the table kept in step. */
int cmr_region_munmap(void *addr, size_t len);
void *cmr_region_mmap_over(void *addr, size_t len, int prot, int flags,
			   int fd, long off);
void *cmr_region_mremap(void *old, size_t old_len, size_t new_len, int flags,
			void *new_addr, enum cmr_region_kind kind);

void cmr_regions_lock(void);
void cmr_regions_unlock(void);
/* Call fn (if not NULL) for every region, with the lock held; returns
 * the number of regions. */
size_t cmr_regions_each_locked(void (*fn)(uintptr_t start, size_t len,
					  void *arg),
			       void *arg);

/* Raw system calls: never interposed, never allocating. */
void *cmr_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		   long off);
int cmr_sys_munmap(void *addr, size_t len);
void *cmr_sys_mremap(void *old, size_t old_len, size_t new_len, int flags,
		     void *new_addr);

/*
 * A new contiguous region of at least len bytes whose address is a
 * multiple of align, recorded as kind; *mapped is its length. NULL when
 * none can be had (errno set): the caller falls back or fails by the
 * policy, and the failure is logged as the policy's outcome ("the call
 * fails" on stderr under --on-fail fail), unless keeps_old says that the
 * caller then keeps what it has (a shrinking realloc() under that policy).
 * cmr_region_can_align() tells beforehand whether a buffer of len bytes can
 * have that alignment at all (if not, the request is glibc's).
 */
bool cmr_region_can_align(size_t len, size_t align);
void *cmr_region_new(size_t len, size_t align, enum cmr_region_kind kind,
		     bool keeps_old, size_t *mapped);

#endif /* CMR_ALLOC_H */
