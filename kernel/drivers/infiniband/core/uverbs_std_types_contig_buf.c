// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Copyright (c) 2026, contig-mr developers.
 *
 * UVERBS_OBJECT_CONTIG_BUF: physically contiguous, zeroed memory for user
 * space, accounted like locked memory for as long as it exists.
 *
 * The buffer is one physically contiguous range, aligned to its size
 * rounded up to a power of two (capped at the largest page the device
 * can use), or, where the caller allows it and one range cannot be found,
 * several extents of at least the size the caller accepts, each aligned to
 * its size. Ranges up to MAX_ORDER_NR_PAGES come from the buddy allocator,
 * larger ones from alloc_contig_pages_aligned(). The buffer is handed to
 * user space as a file descriptor to mmap(), at an address aligned like
 * the memory, so that it is virtually contiguous. Nothing here registers
 * memory: MRs are registered over the mapping through the ordinary MR
 * path, where ib_umem_find_best_pgsz() sees contiguous, aligned memory and
 * picks large device pages by itself, one per extent at best.
 *
 * Lifetime: struct contig_buf is referenced by the uobject (until
 * CONTIG_BUF_FREE, or until the context is destroyed) and by the file,
 * which the fd and every VMA of a mapping keep open. When the last
 * reference goes, the allocation's own reference on each page is dropped;
 * a page that an MR still pins is freed by its last unpin.
 *
 * Accounting, from allocation until struct contig_buf is released:
 *  - RLIMIT_MEMLOCK, against the locked memory of the allocating user
 *    (user_struct::locked_vm, as io_uring charges it), unless the caller
 *    has CAP_IPC_LOCK. Per user, not per mm, so that no fork(), exit() or
 *    passing of the fd multiplies what one user can hold.
 *  - mm->locked_vm of the allocating process, so that the charge shows as
 *    VmLck where an administrator looks.
 * Each page is also charged to the allocating task's memory cgroup
 * (__GFP_ACCOUNT) until that page is freed, whoever frees it.
 */

#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/cpuset.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/log2.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/nodemask.h>
#include <linux/overflow.h>
#include <linux/pfn.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/workqueue.h>
#include "rdma_core.h"
#include "uverbs.h"
#include <rdma/uverbs_std_types.h>

/* Pages handed to vm_insert_pages() at a time. */
#define CONTIG_BUF_INSERT_BATCH		64
/* Pages zeroed at a time by one CPU, between checks for a fatal signal. */
#define CONTIG_BUF_ZERO_CHUNK		512
/* Buffers from this many pages on are zeroed by several CPUs. */
#define CONTIG_BUF_ZERO_PARALLEL	(SZ_32M >> PAGE_SHIFT)
#define CONTIG_BUF_ZERO_MAX_HELPERS	15

/**
 * struct contig_buf - one contiguous buffer
 * @ref: held by the uobject and by the file that maps it
 * @npages: number of pages in the buffer
 * @ext_pages: pages in each extent but the last, a power of two unless the
 *	buffer is one extent (then @npages)
 * @nr_ext: number of extents
 * @align: bytes, a power of two: user addresses are placed congruent to the
 *	physical address modulo @align
 * @nid: node of the first page
 * @user: the user charged for RLIMIT_MEMLOCK, or NULL (CAP_IPC_LOCK)
 * @mm: the mm whose locked_vm shows the charge
 * @ext_pfn: first page frame of each extent
 */
struct contig_buf {
	struct kref ref;
	unsigned long npages;
	unsigned long ext_pages;
	unsigned long nr_ext;
	unsigned long align;
	int nid;
	struct user_struct *user;
	struct mm_struct *mm;
	unsigned long ext_pfn[];
};

static unsigned long contig_buf_pfn(const struct contig_buf *buf,
				    unsigned long pgoff)
{
	return buf->ext_pfn[pgoff / buf->ext_pages] + pgoff % buf->ext_pages;
}

static unsigned long contig_buf_ext_len(const struct contig_buf *buf,
					unsigned long i)
{
	return min(buf->ext_pages, buf->npages - i * buf->ext_pages);
}

/*
 * INFINIBAND depends on NET, so user_struct::locked_vm always exists here.
 * Return: 0, or -ENOMEM if the user would exceed RLIMIT_MEMLOCK.
 */
static int contig_buf_charge_user(struct user_struct *user,
				  unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&user->locked_vm);
	unsigned long new;

	do {
		if (check_add_overflow(cur, npages, &new) || new > limit)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	return 0;
}

static void contig_buf_show_locked(struct mm_struct *mm, long npages)
{
	mmap_write_lock(mm);
	mm->locked_vm += npages;
	mmap_write_unlock(mm);
}

/*
 * Drop the allocation's own reference on every page: by aligned blocks of
 * up to MAX_ORDER_NR_PAGES where nothing else holds their pages, which
 * frees each block at once, else page by page. A page still pinned by the
 * umem of a live MR is freed by its last unpin, and stays charged to the
 * memcg until then; its pin is accounted to that MR (pinned_vm).
 * free_contig_range() is not used because it WARNs about such pages.
 */
static void contig_buf_put_pages(unsigned long pfn, unsigned long npages)
{
	unsigned long end = pfn + npages;

	while (pfn < end) {
		unsigned int order = min3(pfn ? __ffs(pfn) : MAX_ORDER - 1,
					  (unsigned long)ilog2(end - pfn),
					  (unsigned long)MAX_ORDER - 1);
		unsigned long i;

		if (!free_split_pages(pfn_to_page(pfn), order))
			for (i = 0; i < 1UL << order; i++)
				put_page(pfn_to_page(pfn + i));
		pfn += 1UL << order;
		cond_resched();
	}
}

static void contig_buf_put_extents(struct contig_buf *buf, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		contig_buf_put_pages(buf->ext_pfn[i], contig_buf_ext_len(buf, i));
}

static void contig_buf_release(struct kref *ref)
{
	struct contig_buf *buf = container_of(ref, struct contig_buf, ref);

	contig_buf_put_extents(buf, buf->nr_ext);
	contig_buf_show_locked(buf->mm, -(long)buf->npages);
	mmdrop(buf->mm);
	if (buf->user) {
		atomic_long_sub(buf->npages, &buf->user->locked_vm);
		free_uid(buf->user);
	}
	kvfree(buf);
}

static void contig_buf_put(struct contig_buf *buf)
{
	kref_put(&buf->ref, contig_buf_release);
}

/*
 * GFP_KERNEL keeps the pages out of ZONE_MOVABLE and CMA areas (the buddy
 * allocator serves unmovable requests from neither, and the
 * MIGRATE_MOVABLE isolation of alloc_contig_pages() refuses CMA
 * pageblocks): the pages can be pinned with FOLL_LONGTERM without being
 * migrated. __GFP_ACCOUNT charges them to the memory cgroup, and
 * __GFP_RETRY_MAYFAIL makes a memcg at its limit fail after reclaim instead
 * of OOM-killing; __GFP_NOWARN keeps a user's failed request out of the
 * kernel log.
 */
#define CONTIG_BUF_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

/*
 * Up to MAX_ORDER_NR_PAGES the buddy allocator has a naturally aligned
 * block at hand: no isolation, no migration, no system-wide drain, and no
 * pageblock that later contiguous allocations must give up for the one
 * unmovable page a small buffer would leave in it. The excess of the block
 * is given back, as alloc_pages_exact() does.
 */
static struct page *contig_buf_alloc_buddy(unsigned long npages,
					   unsigned long align, int nid,
					   nodemask_t *nodemask)
{
	unsigned int order = order_base_2(max(npages, align));
	struct page *page;

	page = __alloc_pages(CONTIG_BUF_GFP, order, nid, nodemask);
	if (!page)
		return NULL;
	split_page(page, order);
	contig_buf_put_pages(page_to_pfn(page) + npages,
			     (1UL << order) - npages);
	return page;
}

/* @npages pages starting at a multiple of @align pages (a power of two). */
static struct page *contig_buf_alloc_range(unsigned long npages,
					   unsigned long align, int nid,
					   nodemask_t *nodemask)
{
	if (max(npages, align) <= MAX_ORDER_NR_PAGES)
		return contig_buf_alloc_buddy(npages, align, nid, nodemask);
#ifdef CONFIG_CONTIG_ALLOC
	return alloc_contig_pages_aligned(npages, align, CONTIG_BUF_GFP, nid,
					  nodemask);
#else
	return NULL;
#endif
}

/*
 * One range for the whole buffer, aligned to @align pages, else to half
 * of that, and so on down to @min_align: a less aligned range needs more
 * device pages but has more candidates. Return 0 or -ENOMEM; -EINTR if a
 * fatal signal ended the search.
 */
static int contig_buf_alloc_one(struct contig_buf *buf, unsigned long align,
				unsigned long min_align, int nid,
				nodemask_t *nodemask)
{
	struct page *page;

	for (; align >= min_align; align >>= 1) {
		page = contig_buf_alloc_range(buf->npages, align, nid, nodemask);
		if (page) {
			buf->ext_pfn[0] = page_to_pfn(page);
			buf->ext_pages = buf->npages;
			buf->nr_ext = 1;
			buf->align = align;
			return 0;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		/* The buddy allocator has no other candidates to offer. */
		if (max(buf->npages, align) <= MAX_ORDER_NR_PAGES)
			break;
	}
	return -ENOMEM;
}

/*
 * Extents of @ext pages (a power of two), each aligned to @ext: any free,
 * movable, aligned range of that size is a candidate for any extent.
 */
static int contig_buf_alloc_extents(struct contig_buf *buf, unsigned long ext,
				    int nid, nodemask_t *nodemask)
{
	unsigned long i, nr_ext = DIV_ROUND_UP(buf->npages, ext);
	struct page *page;

	buf->ext_pages = ext;
	for (i = 0; i < nr_ext; i++) {
		page = contig_buf_alloc_range(contig_buf_ext_len(buf, i), ext,
					      nid, nodemask);
		if (!page) {
			contig_buf_put_extents(buf, i);
			return fatal_signal_pending(current) ? -EINTR : -ENOMEM;
		}
		buf->ext_pfn[i] = page_to_pfn(page);
	}
	buf->nr_ext = nr_ext;
	buf->align = ext;
	return 0;
}

/*
 * Where the allocator zeroes the pages itself (init_on_alloc, or
 * init_on_free for pages that were free), zeroing them here again would
 * only double the time.
 */
static bool contig_buf_pages_zeroed(void)
{
	return want_init_on_free() || want_init_on_alloc(CONTIG_BUF_GFP);
}

/**
 * struct contig_buf_zeroing - the zeroing of one buffer, shared by the
 *	allocating task and its helpers
 * @buf: the buffer
 * @next: the next chunk of CONTIG_BUF_ZERO_CHUNK pages to zero
 * @nr_chunks: number of chunks
 * @stop: set when the allocating task got a fatal signal
 * @helpers: helpers that have not finished
 * @done: completed by the last helper
 */
struct contig_buf_zeroing {
	struct contig_buf *buf;
	atomic_long_t next;
	unsigned long nr_chunks;
	bool stop;
	atomic_t helpers;
	struct completion done;
};

struct contig_buf_zero_work {
	struct work_struct work;
	struct contig_buf_zeroing *z;
};

static void contig_buf_zero_chunks(struct contig_buf_zeroing *z, bool caller)
{
	struct contig_buf *buf = z->buf;
	unsigned long c, i, n, pfn;

	while (!READ_ONCE(z->stop)) {
		c = atomic_long_fetch_inc(&z->next);
		if (c >= z->nr_chunks)
			break;
		/* A chunk never spans two extents: see contig_buf_create(). */
		pfn = contig_buf_pfn(buf, c * CONTIG_BUF_ZERO_CHUNK);
		n = min(CONTIG_BUF_ZERO_CHUNK,
			buf->npages - c * CONTIG_BUF_ZERO_CHUNK);
		for (i = 0; i < n; i++)
			clear_highpage(pfn_to_page(pfn + i));
		if (caller && fatal_signal_pending(current))
			WRITE_ONCE(z->stop, true);
		cond_resched();
	}
}

static void contig_buf_zero_helper(struct work_struct *work)
{
	struct contig_buf_zero_work *w =
		container_of(work, struct contig_buf_zero_work, work);
	struct contig_buf_zeroing *z = w->z;

	contig_buf_zero_chunks(z, false);
	if (atomic_dec_and_test(&z->helpers))
		complete(&z->done);
}

/*
 * Zero the buffer. A large one is zeroed by the allocating task together
 * with helpers on the other CPUs of the buffer's node, which take chunks
 * from a shared counter; a fatal signal of the task stops all of them
 * after the chunk they are zeroing.
 *
 * Return: 0, or -EINTR if a fatal signal stopped the zeroing.
 */
static int contig_buf_zero(struct contig_buf *buf)
{
	struct contig_buf_zeroing z = {
		.buf = buf,
		.nr_chunks = DIV_ROUND_UP(buf->npages, CONTIG_BUF_ZERO_CHUNK),
	};
	struct contig_buf_zero_work *works = NULL;
	unsigned int i, nr_helpers = 0;

	if (contig_buf_pages_zeroed())
		return 0;

	atomic_long_set(&z.next, 0);
	init_completion(&z.done);
	if (buf->npages >= CONTIG_BUF_ZERO_PARALLEL) {
		nr_helpers = cpumask_weight_and(cpumask_of_node(buf->nid),
						current->cpus_ptr);
		nr_helpers = min3(nr_helpers ? nr_helpers - 1 : 0,
				  (unsigned int)CONTIG_BUF_ZERO_MAX_HELPERS,
				  (unsigned int)z.nr_chunks - 1);
	}
	if (nr_helpers)
		works = kcalloc(nr_helpers, sizeof(*works), GFP_KERNEL);
	if (!works)
		nr_helpers = 0;

	atomic_set(&z.helpers, nr_helpers);
	for (i = 0; i < nr_helpers; i++) {
		INIT_WORK(&works[i].work, contig_buf_zero_helper);
		works[i].z = &z;
		queue_work_node(buf->nid, system_unbound_wq, &works[i].work);
	}

	contig_buf_zero_chunks(&z, true);

	if (nr_helpers)
		wait_for_completion(&z.done);
	kfree(works);
	return READ_ONCE(z.stop) ? -EINTR : 0;
}

/* The largest page size the device can map, in pages. */
static unsigned long contig_buf_max_align(struct ib_device *ib_dev)
{
	u64 cap = ib_dev->attrs.page_size_cap;

	if (cap < PAGE_SIZE)
		return 1;
	return 1UL << min_t(unsigned int, __fls(cap) - PAGE_SHIFT,
			    BITS_PER_LONG - 1 - PAGE_SHIFT);
}

/*
 * The least alignment a range is searched at: its size rounded up to a
 * power of two up to MAX_ORDER_NR_PAGES, and at least a quarter of the
 * size beyond, so that the search tries at most about four times as many
 * candidates as alloc_contig_pages() would for the size: each failed
 * candidate costs an isolation, migration and system-wide drain. Also for
 * a device whose largest page is small (siw: PAGE_SIZE), for which
 * alignment buys nothing but an unaligned search would try every page.
 */
static unsigned long contig_buf_min_align(unsigned long npages)
{
	return min(roundup_pow_of_two(npages),
		   max_t(unsigned long, MAX_ORDER_NR_PAGES,
			 rounddown_pow_of_two(npages) / 4));
}

/**
 * contig_buf_create() - charge, allocate and zero a contiguous buffer
 * @npages: number of pages
 * @min_ext: the smallest extent the caller accepts, in pages, a power of
 *	two; 0 if the buffer must be one range
 * @max_align: the largest alignment worth having, in pages, a power of two
 * @nid: preferred NUMA node
 * @nodemask: the nodes the pages may come from
 *
 * The buffer is one range if one can be found, else extents of
 * max(@min_ext, MAX_ORDER_NR_PAGES) pages: extents of up to that size come
 * from the buddy allocator, and a larger extent costs nothing more to
 * describe. A multiple of CONTIG_BUF_ZERO_CHUNK either way, so that no
 * chunk of the zeroing spans two extents.
 *
 * Return: the buffer with one reference for the caller, or an ERR_PTR():
 * -ENOMEM if RLIMIT_MEMLOCK or the memory cgroup would be exceeded or no
 * contiguous memory was found, -EINTR if a fatal signal arrived.
 */
static struct contig_buf *contig_buf_create(unsigned long npages,
					    unsigned long min_ext,
					    unsigned long max_align, int nid,
					    nodemask_t *nodemask)
{
	unsigned long min_align = contig_buf_min_align(npages);
	unsigned long align = max(min(roundup_pow_of_two(npages), max_align),
				  min_align);
	unsigned long ext = 0, nr_ext = 1;
	struct contig_buf *buf;
	int ret;

	if (min_ext) {
		ext = max3(min_ext, (unsigned long)MAX_ORDER_NR_PAGES,
			   (unsigned long)CONTIG_BUF_ZERO_CHUNK);
		if (ext < npages)
			nr_ext = DIV_ROUND_UP(npages, ext);
		else
			ext = 0;
	}

	buf = kvzalloc(struct_size(buf, ext_pfn, nr_ext), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	buf->npages = npages;

	if (!capable(CAP_IPC_LOCK)) {
		buf->user = get_uid(current_user());
		ret = contig_buf_charge_user(buf->user, npages);
		if (ret)
			goto err_put_user;
	}

	/*
	 * Where extents are allowed, a single range is tried at its full
	 * alignment only: a less aligned one gets no larger device pages
	 * than extents of the caller's minimum, and needs all of its memory
	 * movable at once, which fails late (after gigabytes were migrated)
	 * where extents fail early and are retried elsewhere.
	 */
	ret = contig_buf_alloc_one(buf, align,
				   ext ? align : min_align,
				   nid, nodemask);
	if (ret == -ENOMEM && ext)
		ret = contig_buf_alloc_extents(buf, ext, nid, nodemask);
	if (ret)
		goto err_uncharge_user;
	buf->align <<= PAGE_SHIFT;
	buf->nid = pfn_to_nid(buf->ext_pfn[0]);

	ret = contig_buf_zero(buf);
	if (ret)
		goto err_put_pages;

	kref_init(&buf->ref);
	buf->mm = current->mm;
	mmgrab(buf->mm);
	contig_buf_show_locked(buf->mm, npages);
	return buf;

err_put_pages:
	contig_buf_put_extents(buf, buf->nr_ext);
err_uncharge_user:
	if (buf->user)
		atomic_long_sub(npages, &buf->user->locked_vm);
err_put_user:
	if (buf->user)
		free_uid(buf->user);
	kvfree(buf);
	return ERR_PTR(ret);
}

static vm_fault_t contig_buf_fault(struct vm_fault *vmf)
{
	struct contig_buf *buf = vmf->vma->vm_file->private_data;

	/*
	 * The PTEs are populated at mmap time; this only runs after they
	 * were zapped, e.g. by MADV_DONTNEED. Map the same page again: the
	 * contents are kept, as for any shared file mapping.
	 */
	if (vmf->pgoff >= buf->npages)
		return VM_FAULT_SIGBUS;
	return vmf_insert_page(vmf->vma, vmf->address,
			       pfn_to_page(contig_buf_pfn(buf, vmf->pgoff)));
}

static const struct vm_operations_struct contig_buf_vm_ops = {
	.fault = contig_buf_fault,
};

static int contig_buf_insert_pages(struct contig_buf *buf,
				   struct vm_area_struct *vma)
{
	struct page *pages[CONTIG_BUF_INSERT_BATCH];
	unsigned long pgoff = vma->vm_pgoff;
	unsigned long addr = vma->vm_start;
	unsigned long left = vma_pages(vma);
	unsigned long i, n, num;
	int ret;

	while (left) {
		n = min_t(unsigned long, left, ARRAY_SIZE(pages));
		for (i = 0; i < n; i++)
			pages[i] = pfn_to_page(contig_buf_pfn(buf, pgoff + i));
		num = n;
		ret = vm_insert_pages(vma, addr, pages, &num);
		if (ret)
			return ret;
		addr += n << PAGE_SHIFT;
		pgoff += n;
		left -= n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int contig_buf_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct contig_buf *buf = file->private_data;
	unsigned long npages = vma_pages(vma);

	/* A private mapping would replace the pages by copies on write. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= buf->npages ||
	    npages > buf->npages - vma->vm_pgoff)
		return -EINVAL;

	/*
	 * VM_MIXEDMAP: normal struct pages mapped by vm_insert_pages(), so
	 * vm_normal_page() returns them and GUP (pin_user_pages(), also with
	 * FOLL_LONGTERM) works on the mapping; VM_IO and VM_PFNMAP would
	 * make check_vma_flags() refuse it.
	 * VM_DONTEXPAND: mremap() cannot grow the mapping beyond the buffer.
	 * VM_DONTCOPY: a child of fork() does not get the mapping unless the
	 * caller asks with MADV_DOFORK; either way the buffer stays charged
	 * while any mapping of it exists.
	 * VM_DONTDUMP: keep possibly huge buffers out of core dumps.
	 */
	vma->vm_flags |= VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTCOPY |
			 VM_DONTDUMP;
	vma->vm_ops = &contig_buf_vm_ops;
	return contig_buf_insert_pages(buf, vma);
}

/*
 * Place the mapping so that its address and the physical address of the
 * page at @pgoff agree modulo buf->align, the same way
 * __thp_get_unmapped_area() aligns to PMD_SIZE: ask for len + align bytes
 * and move the start up.
 */
static unsigned long contig_buf_get_unmapped_area(struct file *file,
						  unsigned long addr,
						  unsigned long len,
						  unsigned long pgoff,
						  unsigned long flags)
{
	struct contig_buf *buf = file->private_data;
	unsigned long align = buf->align;
	unsigned long len_pad, ret;
	u64 phys;

	if (!(flags & MAP_FIXED) && align > PAGE_SIZE &&
	    pgoff < buf->npages &&
	    !check_add_overflow(len, align, &len_pad)) {
		ret = current->mm->get_unmapped_area(NULL, 0, len_pad, 0,
						     flags);
		if (!IS_ERR_VALUE(ret)) {
			phys = PFN_PHYS(contig_buf_pfn(buf, pgoff));
			return ret + (unsigned long)((phys - ret) &
						     (align - 1));
		}
	}
	return current->mm->get_unmapped_area(NULL, addr, len, pgoff, flags);
}

static int contig_buf_file_release(struct inode *inode, struct file *file)
{
	contig_buf_put(file->private_data);
	return 0;
}

static const struct file_operations contig_buf_fops = {
	.owner = THIS_MODULE,
	.mmap = contig_buf_mmap,
	.get_unmapped_area = contig_buf_get_unmapped_area,
	.release = contig_buf_file_release,
};

/**
 * contig_buf_get_npages() - read and check the requested length
 * @attrs: the method's attributes
 * @npages: the length rounded up to whole pages, in pages
 *
 * Return: 0; -EINVAL if the length is 0 or overflows when rounded up to a
 * page; -ENOMEM if it exceeds the RAM of the machine or the address space.
 */
static int contig_buf_get_npages(struct uverbs_attr_bundle *attrs,
				 unsigned long *npages)
{
	u64 length, aligned;
	int ret;

	ret = uverbs_copy_from(&length, attrs,
			       UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH);
	if (ret)
		return ret;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(length, (u64)PAGE_SIZE - 1, &aligned))
		return -EINVAL;
	aligned = round_down(aligned, PAGE_SIZE);

	if (aligned > TASK_SIZE || aligned >> PAGE_SHIFT > totalram_pages())
		return -ENOMEM;

	*npages = aligned >> PAGE_SHIFT;
	return 0;
}

/*
 * The first node of the task's own memory policy that @allowed permits, or
 * NUMA_NO_NODE. MPOL_BIND is already part of @allowed and names no
 * preference of its own.
 */
static int contig_buf_policy_node(const nodemask_t *allowed)
{
#ifdef CONFIG_NUMA
	struct mempolicy *pol = current->mempolicy;
	nodemask_t both;

	if (!pol || pol->mode == MPOL_BIND || pol->mode == MPOL_LOCAL)
		return NUMA_NO_NODE;
	nodes_and(both, pol->nodes, *allowed);
	if (!nodes_empty(both))
		return first_node(both);
#endif
	return NUMA_NO_NODE;
}

/**
 * contig_buf_get_nodes() - choose where the pages may come from
 * @attrs: the method's attributes
 * @ib_dev: the device
 * @strict: take the pages from the chosen node only
 * @nid: the preferred node
 * @nodemask: the allowed nodes
 *
 * The allowed nodes are those of the caller's cpuset that have memory,
 * narrowed by an MPOL_BIND task policy. The preferred node is the one the
 * caller names, else the first node of its task policy, else the device's
 * node, else the calling CPU's, as long as it is allowed; else the first
 * allowed node.
 *
 * Return: 0; -EINVAL if the requested node does not exist, is offline or
 * is not allowed; -ENOMEM if no allowed node has memory.
 */
static int contig_buf_get_nodes(struct uverbs_attr_bundle *attrs,
				struct ib_device *ib_dev, bool strict,
				int *nid, nodemask_t *nodemask)
{
	int node = NUMA_NO_NODE;
	nodemask_t allowed;
	u32 req;
	int ret;

	nodes_and(allowed, cpuset_current_mems_allowed,
		  node_states[N_MEMORY]);
#ifdef CONFIG_NUMA
	if (current->mempolicy && current->mempolicy->mode == MPOL_BIND)
		nodes_and(allowed, allowed, current->mempolicy->nodes);
#endif
	if (nodes_empty(allowed))
		return -ENOMEM;

	if (uverbs_attr_is_valid(attrs,
				 UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE)) {
		ret = uverbs_copy_from(&req, attrs,
				       UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE);
		if (ret)
			return ret;
		if (req >= nr_node_ids || !node_online(req) ||
		    !node_isset(req, allowed))
			return -EINVAL;
		node = req;
	} else {
		node = contig_buf_policy_node(&allowed);
	}

	if (node == NUMA_NO_NODE && ib_dev->dev.parent)
		node = dev_to_node(ib_dev->dev.parent);
	if (node < 0 || !node_isset(node, allowed))
		node = numa_node_id();
	if (!node_isset(node, allowed))
		node = first_node(allowed);

	*nid = node;
	if (strict) {
		nodes_clear(*nodemask);
		node_set(node, *nodemask);
	} else {
		*nodemask = allowed;
	}
	return 0;
}

/**
 * contig_buf_get_min_ext() - read the smallest extent the caller accepts
 * @attrs: the method's attributes
 * @min_ext: in pages; 0 if the attribute is absent (one range only)
 *
 * Return: 0, or -EINVAL if the size is not a power of two of at least
 * PAGE_SIZE.
 */
static int contig_buf_get_min_ext(struct uverbs_attr_bundle *attrs,
				  unsigned long *min_ext)
{
	u64 size;
	int ret;

	*min_ext = 0;
	if (!uverbs_attr_is_valid(attrs,
				  UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT))
		return 0;
	ret = uverbs_copy_from(&size, attrs,
			       UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT);
	if (ret)
		return ret;
	if (size < PAGE_SIZE || !is_power_of_2(size) ||
	    size >> PAGE_SHIFT > ULONG_MAX / 2)
		return -EINVAL;
	*min_ext = size >> PAGE_SHIFT;
	return 0;
}

static int uverbs_free_contig_buf(struct ib_uobject *uobject,
				  enum rdma_remove_reason why,
				  struct uverbs_attr_bundle *attrs)
{
	/*
	 * Mappings and the fd keep the memory; it is plain RAM, not the
	 * device's, so disassociation has nothing to zap.
	 */
	contig_buf_put(uobject->object);
	return 0;
}

/*
 * UVERBS_METHOD_CONTIG_BUF_ALLOC handler.
 *
 * Allocates a physically contiguous buffer of the requested length rounded
 * up to whole pages, zeroes it and returns a new file descriptor that maps
 * it (MAP_SHARED only). With MIN_EXTENT the buffer may be made of extents
 * of at least that size (RESP_EXTENT_SIZE: the size of each but the last).
 *
 * Return: 0; -EOPNOTSUPP if the kernel has no CONFIG_CONTIG_ALLOC; -EINVAL
 * for a bad length, flag or NUMA node; -ENOMEM if RLIMIT_MEMLOCK or the
 * memory cgroup would be exceeded or no contiguous range is free; -EINTR if
 * a fatal signal arrived; -EMFILE if the caller has no free fd; -EFAULT if
 * the results cannot be written, in which case nothing is left behind.
 */
static int
UVERBS_HANDLER(UVERBS_METHOD_CONTIG_BUF_ALLOC)(struct uverbs_attr_bundle *attrs)
{
	struct ib_uobject *uobj =
		uverbs_attr_get_uobject(attrs, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);
	struct ib_device *ib_dev = attrs->context->device;
	nodemask_t *nodemask;
	struct contig_buf *buf;
	unsigned long npages;
	unsigned long min_ext;
	struct file *file;
	u64 length, align, ext;
	u32 flags, node;
	int nid, fd;
	int ret;

	if (!IS_ENABLED(CONFIG_CONTIG_ALLOC))
		return -EOPNOTSUPP;

	ret = contig_buf_get_npages(attrs, &npages);
	if (ret)
		return ret;

	ret = contig_buf_get_min_ext(attrs, &min_ext);
	if (ret)
		return ret;

	ret = uverbs_get_flags32(&flags, attrs,
				 UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS,
				 IB_UVERBS_CONTIG_BUF_NODE_STRICT);
	if (ret)
		return ret;

	nodemask = kmalloc(sizeof(*nodemask), GFP_KERNEL);
	if (!nodemask)
		return -ENOMEM;
	ret = contig_buf_get_nodes(attrs, ib_dev,
				   flags & IB_UVERBS_CONTIG_BUF_NODE_STRICT,
				   &nid, nodemask);
	if (ret)
		goto out_free_mask;

	buf = contig_buf_create(npages, min_ext, contig_buf_max_align(ib_dev),
				nid, nodemask);
	if (IS_ERR(buf)) {
		ret = PTR_ERR(buf);
		goto out_free_mask;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_put_buf;
	}
	file = anon_inode_getfile("[contig_buf]", &contig_buf_fops, buf,
				  O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}
	/* The file's reference; the caller's goes to the uobject. */
	kref_get(&buf->ref);
	uobj->object = buf;

	/* From here on an error destroys the buffer with the uobject. */
	uverbs_finalize_uobj_create(attrs, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);

	length = (u64)npages << PAGE_SHIFT;
	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH,
			     &length, sizeof(length));
	if (ret)
		goto err_fput;

	align = buf->align;
	ret = uverbs_copy_to(attrs,
			     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT,
			     &align, sizeof(align));
	if (ret)
		goto err_fput;

	if (uverbs_attr_is_valid(attrs,
				 UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE)) {
		node = buf->nid;
		ret = uverbs_copy_to(attrs,
				     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE,
				     &node, sizeof(node));
		if (ret)
			goto err_fput;
	}

	if (uverbs_attr_is_valid(attrs,
				 UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE)) {
		ext = (u64)buf->ext_pages << PAGE_SHIFT;
		ret = uverbs_copy_to(attrs,
				     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE,
				     &ext, sizeof(ext));
		if (ret)
			goto err_fput;
	}

	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD,
			     &fd, sizeof(fd));
	if (ret)
		goto err_fput;

	/* Last: once installed, the fd belongs to user space. */
	fd_install(fd, file);
	ret = 0;
	goto out_free_mask;

err_fput:
	/* The uobject's destruction drops the remaining reference. */
	fput(file);
	put_unused_fd(fd);
	goto out_free_mask;
err_put_fd:
	put_unused_fd(fd);
err_put_buf:
	contig_buf_put(buf);
out_free_mask:
	kfree(nodemask);
	return ret;
}

DECLARE_UVERBS_NAMED_METHOD(UVERBS_METHOD_CONTIG_BUF_ALLOC,
			    UVERBS_ATTR_IDR(UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE,
					    UVERBS_OBJECT_CONTIG_BUF,
					    UVERBS_ACCESS_NEW,
					    UA_MANDATORY),
			    UVERBS_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH,
					       UVERBS_ATTR_TYPE(u64),
					       UA_MANDATORY),
			    UVERBS_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE,
					       UVERBS_ATTR_TYPE(u32),
					       UA_OPTIONAL),
			    UVERBS_ATTR_FLAGS_IN(UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS,
						 enum ib_uverbs_contig_buf_flags,
						 UA_OPTIONAL),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD,
						UVERBS_ATTR_TYPE(s32),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH,
						UVERBS_ATTR_TYPE(u64),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT,
						UVERBS_ATTR_TYPE(u64),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE,
						UVERBS_ATTR_TYPE(u32),
						UA_OPTIONAL),
			    UVERBS_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT,
					       UVERBS_ATTR_TYPE(u64),
					       UA_OPTIONAL),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE,
						UVERBS_ATTR_TYPE(u64),
						UA_OPTIONAL));

DECLARE_UVERBS_NAMED_METHOD_DESTROY(UVERBS_METHOD_CONTIG_BUF_FREE,
				    UVERBS_ATTR_IDR(UVERBS_ATTR_FREE_CONTIG_BUF_HANDLE,
						    UVERBS_OBJECT_CONTIG_BUF,
						    UVERBS_ACCESS_DESTROY,
						    UA_MANDATORY));

DECLARE_UVERBS_NAMED_OBJECT(UVERBS_OBJECT_CONTIG_BUF,
			    UVERBS_TYPE_ALLOC_IDR(uverbs_free_contig_buf),
			    &UVERBS_METHOD(UVERBS_METHOD_CONTIG_BUF_ALLOC),
			    &UVERBS_METHOD(UVERBS_METHOD_CONTIG_BUF_FREE));

/*
 * Only for devices that register user memory: MRs over the buffer are its
 * purpose. Elsewhere the object does not exist (-EPROTONOSUPPORT).
 */
const struct uapi_definition uverbs_def_obj_contig_buf[] = {
	UAPI_DEF_CHAIN_OBJ_TREE_NAMED(UVERBS_OBJECT_CONTIG_BUF,
				      UAPI_DEF_OBJ_NEEDS_FN(reg_user_mr)),
	{}
};
