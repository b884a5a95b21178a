// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The live regions, by address. Regions are large (CMR_ALLOC_MIN and up),
 * so there are few and a linear table does; its storage comes from raw
 * mmap(), never from malloc, which may be the caller. free() of ordinary
 * memory must stay cheap: it reads only the number of live regions and
 * the bounds around them, without the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"

struct region {
	uintptr_t start;
	size_t len;
	enum cmr_region_kind kind;
};

static struct {
	pthread_mutex_t lock;
	struct region *r;
	size_t n, cap;
	/* Read without the lock: 0 regions, or every one inside [lo, hi). */
	atomic_size_t live;
	atomic_uintptr_t lo, hi;
} tab = { .lock = PTHREAD_MUTEX_INITIALIZER };

void *cmr_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		   long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int cmr_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

void *cmr_sys_mremap(void *old, size_t old_len, size_t new_len, int flags,
		     void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags,
			       new_addr);
}

void cmr_regions_lock(void)
{
	pthread_mutex_lock(&tab.lock);
}

void cmr_regions_unlock(void)
{
	pthread_mutex_unlock(&tab.lock);
}

/* After any change, with the lock held. */
static void publish(void)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	size_t i;

	for (i = 0; i < tab.n; i++) {
		if (tab.r[i].start < lo)
			lo = tab.r[i].start;
		if (tab.r[i].start + tab.r[i].len > hi)
			hi = tab.r[i].start + tab.r[i].len;
	}
	atomic_store(&tab.lo, lo);
	atomic_store(&tab.hi, hi);
	atomic_store(&tab.live, tab.n);
}

static int grow(void)
{
	size_t cap = tab.cap ? tab.cap * 2 : 256;
	void *p;

	p = tab.r ? cmr_sys_mremap(tab.r, tab.cap * sizeof(*tab.r),
				   cap * sizeof(*tab.r), MREMAP_MAYMOVE, NULL) :
		    cmr_sys_mmap(NULL, cap * sizeof(*tab.r),
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return ENOMEM;
	tab.r = p;
	tab.cap = cap;
	return 0;
}

static int add_locked(uintptr_t start, size_t len, enum cmr_region_kind kind)
{
	if (tab.n == tab.cap && grow())
		return ENOMEM;
	tab.r[tab.n++] = (struct region){ start, len, kind };
	return 0;
}

int cmr_region_add(void *addr, size_t len, enum cmr_region_kind kind)
{
	int ret;

	cmr_regions_lock();
	ret = add_locked((uintptr_t)addr, len, kind);
	publish();
	cmr_regions_unlock();
	return ret;
}

/* Whether [addr, addr + len) may touch a region (false: surely not). */
static bool may_overlap(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	return atomic_load(&tab.live) && a < atomic_load(&tab.hi) &&
	       (a + len < a || a + len > atomic_load(&tab.lo));
}

static bool maybe_ours(const void *addr)
{
	return may_overlap(addr, 1);
}

/* The index of the region holding a, or tab.n. Lock held. */
static size_t lookup(uintptr_t a)
{
	size_t i;

	for (i = 0; i < tab.n; i++)
		if (a - tab.r[i].start < tab.r[i].len)
			return i;
	return tab.n;
}

static void drop(size_t i)
{
	tab.r[i] = tab.r[--tab.n];
}

/* The malloc region that starts at addr: its index, or tab.n. Lock held. */
static size_t malloc_region(const void *addr)
{
	size_t i = lookup((uintptr_t)addr);

	if (i < tab.n && (tab.r[i].start != (uintptr_t)addr ||
			  tab.r[i].kind != CMR_REGION_MALLOC))
		i = tab.n;
	return i;
}

size_t cmr_region_malloc_len(const void *addr)
{
	size_t i, len = 0;

	if (!maybe_ours(addr))
		return 0;
	cmr_regions_lock();
	i = malloc_region(addr);
	if (i < tab.n)
		len = tab.r[i].len;
	cmr_regions_unlock();
	return len;
}

bool cmr_region_free_malloc(void *addr)
{
	bool found = false;
	size_t i;

	if (!maybe_ours(addr))
		return false;
	cmr_regions_lock();
	i = malloc_region(addr);
	if (i < tab.n) {
		cmr_sys_munmap(addr, tab.r[i].len);
		drop(i);
		publish();
		found = true;
	}
	cmr_regions_unlock();
	return found;
}

bool cmr_region_find(const void *addr, uintptr_t *start, size_t *len,
		     enum cmr_region_kind *kind)
{
	bool found = false;
	size_t i;

	if (!maybe_ours(addr))
		return false;
	cmr_regions_lock();
	i = lookup((uintptr_t)addr);
	if (i < tab.n) {
		*start = tab.r[i].start;
		*len = tab.r[i].len;
		*kind = tab.r[i].kind;
		found = true;
	}
	cmr_regions_unlock();
	return found;
}

/* What the kernel counts: len rounded up to pages (saturating). */
static size_t page_up(size_t len)
{
	size_t page = cmr_alloc_cfg.page;

	if (len > SIZE_MAX - (page - 1))
		return SIZE_MAX & ~(page - 1);
	return (len + page - 1) & ~(page - 1);
}

/* [a, a + len) is no longer mapped as a region: drop or trim. Lock held. */
static void unmapped_locked(uintptr_t a, size_t len)
{
	uintptr_t b = a + page_up(len);
	size_t i;

	if (b < a)
		b = UINTPTR_MAX;
	for (i = 0; i < tab.n;) {
		struct region *r = &tab.r[i];
		uintptr_t rs = r->start, re = r->start + r->len;

		if (b <= rs || a >= re) {
			i++;
		} else if (a <= rs && b >= re) {
			drop(i);
		} else if (a > rs && b < re) {
			/* A hole in the middle: two regions. If the table
			 * cannot grow, the tail is lost to a later fork. */
			r->len = a - rs;
			add_locked(b, re - b, r->kind);
			i++;
		} else if (a <= rs) {
			r->start = b;
			r->len = re - b;
			i++;
		} else {
			r->len = a - rs;
			i++;
		}
	}
}

/*
 * The kernel's call and the table's update are one step under the lock,
 * so that a fork() in another thread sees both or neither.
 */
int cmr_region_munmap(void *addr, size_t len)
{
	int ret;

	if (!may_overlap(addr, len))
		return cmr_sys_munmap(addr, len);
	cmr_regions_lock();
	ret = cmr_sys_munmap(addr, len);
	if (!ret) {
		unmapped_locked((uintptr_t)addr, len);
		publish();
	}
	cmr_regions_unlock();
	return ret;
}

void *cmr_region_mmap_over(void *addr, size_t len, int prot, int flags,
			   int fd, long off)
{
	void *p;

	if (!(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) ||
	    !may_overlap(addr, len))
		return cmr_sys_mmap(addr, len, prot, flags, fd, off);
	cmr_regions_lock();
	p = cmr_sys_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED) {
		unmapped_locked((uintptr_t)p, len);
		publish();
	}
	cmr_regions_unlock();
	return p;
}

void *cmr_region_mremap(void *old, size_t old_len, size_t new_len, int flags,
			void *new_addr, enum cmr_region_kind kind)
{
	void *p;

	cmr_regions_lock();
	p = cmr_sys_mremap(old, old_len, new_len, flags, new_addr);
	if (p != MAP_FAILED) {
		/* old_len 0 maps the same pages a second time. */
		if (old_len && !(flags & MREMAP_DONTUNMAP))
			unmapped_locked((uintptr_t)old, old_len);
		unmapped_locked((uintptr_t)p, new_len);
		if (kind != CMR_REGION_NONE)
			add_locked((uintptr_t)p, page_up(new_len), kind);
		publish();
	}
	cmr_regions_unlock();
	return p;
}

size_t cmr_regions_each_locked(void (*fn)(uintptr_t start, size_t len,
					  void *arg),
			       void *arg)
{
	size_t i;

	for (i = 0; fn && i < tab.n; i++)
		fn(tab.r[i].start, tab.r[i].len, arg);
	return tab.n;
}

bool cmr_region_can_align(size_t len, size_t align)
{
	size_t a = cmr_alloc_cfg.min_extent;

	/* A buffer is aligned to its size rounded up to a power of two, or
	 * with extents allowed to at least the extent size. */
	if (!a)
		for (a = cmr_alloc_cfg.page; a < len && a <= SIZE_MAX / 2; a *= 2)
			;
	return align <= a;
}

/* Why there is no region, as the policy makes it end. */
static void region_failed(size_t len, bool keeps_old, const char *why)
{
	/* With --on-fail fail the program sees only ENOMEM: say why. */
	if (cmr_alloc_cfg.on_fail == CMR_ALLOC_FAIL && keeps_old)
		cmr_alloc_log("%zu bytes: no contiguous memory (%s): the "
			      "region stays as it is", len, why);
	else if (cmr_alloc_cfg.on_fail == CMR_ALLOC_FAIL)
		cmr_alloc_warn("error: %zu bytes: no contiguous memory (%s): "
			       "the call fails", len, why);
	else
		cmr_alloc_log("%zu bytes: no contiguous memory (%s): ordinary "
			      "memory instead", len, why);
}

void *cmr_region_new(size_t len, size_t align, enum cmr_region_kind kind,
		     bool keeps_old, size_t *mapped)
{
	char why[64];
	void *p;

	p = cmr_contig_get(len, mapped);
	if (!p) {
		int err = errno;

		region_failed(len, keeps_old, strerror(err));
		errno = err;
		return NULL;
	}
	/* The kernel may align less than the size where no window is free. */
	if ((uintptr_t)p % align) {
		snprintf(why, sizeof(why), "none aligned to %zu bytes", align);
		region_failed(len, keeps_old, why);
		cmr_sys_munmap(p, *mapped);
		errno = ENOMEM;
		return NULL;
	}
	if (cmr_region_add(p, *mapped, kind)) {
		region_failed(len, keeps_old, "the region table is full");
		cmr_sys_munmap(p, *mapped);
		errno = ENOMEM;
		return NULL;
	}
	cmr_alloc_log("%s %zu bytes: contiguous at %p, %zu mapped",
		      kind == CMR_REGION_MALLOC ? "malloc" : "mmap", len, p,
		      *mapped);
	return p;
}
