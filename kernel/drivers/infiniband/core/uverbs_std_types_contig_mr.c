// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Copyright (c) 2026, contig-mr developers.
 *
 * UVERBS_METHOD_ALLOC_CONTIG_MR: allocate a physically contiguous, zeroed
 * buffer with alloc_contig_pages(), map it into the calling process and
 * register it as a memory region of the given PD, in one call.
 *
 * Lifetime: the buffer is owned by a small refcounted object. The anonymous
 * file that backs the mapping holds one reference and drops it when its last
 * VMA is gone. Every page further holds one reference per PTE that maps it
 * and one pin per umem that registered it. The object's release drops the
 * allocation's own reference on each page, so a page returns to the page
 * allocator exactly when the mapping and every MR using it are gone, in any
 * order: munmap, ibv_dereg_mr, process exit, uverbs file close or device
 * disassociation.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/overflow.h>
#include <linux/pfn.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include "rdma_core.h"
#include "uverbs.h"
#include <rdma/uverbs_std_types.h>
#include "restrack.h"

/* Pages zeroed or released between two checks for rescheduling. */
#define CONTIG_MR_RESCHED_PAGES	1024
/* Pages handed to vm_insert_pages() at a time. */
#define CONTIG_MR_INSERT_BATCH	64

/* Serialises alloc_contig_pages() calls: see contig_mr_alloc_pages(). */
static DEFINE_MUTEX(contig_mr_alloc_lock);

/**
 * struct contig_mr_buf - one physically contiguous allocation
 * @ref: held by the handler while it runs and by the file that maps it
 * @pfn: first page frame of the range
 * @npages: number of pages in the range
 * @align: alignment in bytes that the user address is given relative to the
 *	physical address: roundup_pow_of_two() of the size, capped at the
 *	alignment of the physical start
 */
struct contig_mr_buf {
	struct kref ref;
	unsigned long pfn;
	unsigned long npages;
	unsigned long align;
};

static void contig_mr_buf_release(struct kref *ref)
{
	struct contig_mr_buf *buf = container_of(ref, struct contig_mr_buf,
						 ref);
	unsigned long i;

	/*
	 * Drop the allocation's own reference on every page. Pages that are
	 * still pinned by the umem of a live MR are freed by the last
	 * unpin_user_page() instead. free_contig_range() is not used because
	 * it WARNs about such pages.
	 */
	for (i = 0; i < buf->npages; i++) {
		put_page(pfn_to_page(buf->pfn + i));
		if (!((i + 1) % CONTIG_MR_RESCHED_PAGES))
			cond_resched();
	}
	kfree(buf);
}

static void contig_mr_buf_put(struct contig_mr_buf *buf)
{
	kref_put(&buf->ref, contig_mr_buf_release);
}

/**
 * contig_mr_alloc_pages() - allocate a physically contiguous page range
 * @npages: number of pages
 * @nid: preferred NUMA node
 * @nodemask: allowed nodes, or NULL for all of them in distance order
 *
 * GFP_KERNEL limits the search to the zones up to ZONE_NORMAL, so
 * ZONE_MOVABLE is never used. alloc_contig_pages() isolates the range with
 * MIGRATE_MOVABLE, and has_unmovable_pages() in mm/page_isolation.c reports
 * a CMA pageblock as unmovable unless the isolation is for MIGRATE_CMA, so
 * CMA areas are refused as well. The pages can therefore be pinned with
 * FOLL_LONGTERM without being migrated. alloc_contig_range() prints nothing
 * on failure except the page dump of alloc_contig_dump_pages(), which needs
 * dynamic debug and is skipped with __GFP_NOWARN; no OOM killer is invoked.
 *
 * Return: the first page of the range, or NULL.
 */
static struct page *contig_mr_alloc_pages(unsigned long npages, int nid,
					  nodemask_t *nodemask)
{
#ifdef CONFIG_CONTIG_ALLOC
	struct page *page;

	/*
	 * Two alloc_contig_pages() calls racing on neighbouring ranges hit
	 * VM_BUG_ON(!is_migrate_isolate(mt)) in isolate_single_pageblock()
	 * on 6.1 (seen with four threads allocating at once), so callers of
	 * this method take turns. Killable: a large allocation can take
	 * seconds.
	 */
	if (mutex_lock_killable(&contig_mr_alloc_lock))
		return NULL;
	page = alloc_contig_pages(npages, GFP_KERNEL | __GFP_NOWARN, nid,
				  nodemask);
	mutex_unlock(&contig_mr_alloc_lock);
	return page;
#else
	return NULL;
#endif
}

/**
 * contig_mr_buf_zero() - clear every page of a new allocation
 * @buf: the allocation, not mapped anywhere yet
 *
 * Return: 0, or -EINTR if a fatal signal is pending.
 */
static int contig_mr_buf_zero(struct contig_mr_buf *buf)
{
	unsigned long i;

	for (i = 0; i < buf->npages; i++) {
		clear_highpage(pfn_to_page(buf->pfn + i));
		if ((i + 1) % CONTIG_MR_RESCHED_PAGES)
			continue;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/**
 * contig_mr_buf_alloc() - allocate and zero a contiguous buffer
 * @npages: number of pages
 * @nid: preferred NUMA node
 * @strict: take the pages from @nid only
 *
 * Return: the buffer with one reference for the caller, or an ERR_PTR():
 * -ENOMEM if no contiguous range was found, -EINTR if a fatal signal
 * arrived while the pages were being zeroed.
 */
static struct contig_mr_buf *contig_mr_buf_alloc(unsigned long npages,
						 int nid, bool strict)
{
	unsigned long align_pages = roundup_pow_of_two(npages);
	struct contig_mr_buf *buf;
	nodemask_t nodemask;
	struct page *page;
	int ret;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);

	nodes_clear(nodemask);
	node_set(nid, nodemask);
	page = contig_mr_alloc_pages(npages, nid, strict ? &nodemask : NULL);
	if (!page) {
		ret = -ENOMEM;
		goto err_free_buf;
	}

	kref_init(&buf->ref);
	buf->pfn = page_to_pfn(page);
	buf->npages = npages;
	if (buf->pfn)
		align_pages = min(align_pages, 1UL << __ffs(buf->pfn));
	buf->align = align_pages << PAGE_SHIFT;

	/* From here on the release function frees the pages. */
	ret = contig_mr_buf_zero(buf);
	if (ret) {
		contig_mr_buf_put(buf);
		return ERR_PTR(ret);
	}
	return buf;

err_free_buf:
	kfree(buf);
	return ERR_PTR(ret);
}

static vm_fault_t contig_mr_fault(struct vm_fault *vmf)
{
	struct contig_mr_buf *buf = vmf->vma->vm_file->private_data;

	/*
	 * The PTEs are populated at mmap time; this only runs after they
	 * were zapped, e.g. by MADV_DONTNEED. Map the same page again: the
	 * contents are kept, as for any shared file mapping.
	 */
	if (vmf->pgoff >= buf->npages)
		return VM_FAULT_SIGBUS;
	return vmf_insert_page(vmf->vma, vmf->address,
			       pfn_to_page(buf->pfn + vmf->pgoff));
}

static const struct vm_operations_struct contig_mr_vm_ops = {
	.fault = contig_mr_fault,
};

static int contig_mr_insert_pages(struct contig_mr_buf *buf,
				  struct vm_area_struct *vma)
{
	struct page *pages[CONTIG_MR_INSERT_BATCH];
	unsigned long pfn = buf->pfn + vma->vm_pgoff;
	unsigned long addr = vma->vm_start;
	unsigned long left = vma_pages(vma);
	unsigned long i, n, num;
	int ret;

	while (left) {
		n = min_t(unsigned long, left, ARRAY_SIZE(pages));
		for (i = 0; i < n; i++)
			pages[i] = pfn_to_page(pfn + i);
		num = n;
		ret = vm_insert_pages(vma, addr, pages, &num);
		if (ret)
			return ret;
		addr += n << PAGE_SHIFT;
		pfn += n;
		left -= n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int contig_mr_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct contig_mr_buf *buf = file->private_data;
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
	 * VM_DONTCOPY: a child of fork() does not get the mapping, so the
	 * parent's MR and pages are neither shared with the child nor broken
	 * by it (no COW, no unmap in the parent on the child's behalf).
	 * VM_DONTDUMP: keep possibly huge buffers out of core dumps.
	 */
	vma->vm_flags |= VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTCOPY |
			 VM_DONTDUMP;
	vma->vm_ops = &contig_mr_vm_ops;
	return contig_mr_insert_pages(buf, vma);
}

/*
 * Place the mapping so that its address and the physical address of the
 * buffer agree modulo buf->align, the same way __thp_get_unmapped_area()
 * aligns to PMD_SIZE: ask for len + align bytes and move the start up.
 */
static unsigned long contig_mr_get_unmapped_area(struct file *file,
						 unsigned long addr,
						 unsigned long len,
						 unsigned long pgoff,
						 unsigned long flags)
{
	struct contig_mr_buf *buf = file->private_data;
	unsigned long align = buf->align;
	unsigned long len_pad, ret;
	u64 phys;

	if (!(flags & MAP_FIXED) && align > PAGE_SIZE &&
	    !check_add_overflow(len, align, &len_pad)) {
		ret = current->mm->get_unmapped_area(NULL, 0, len_pad, 0,
						     flags);
		if (!IS_ERR_VALUE(ret)) {
			phys = PFN_PHYS(buf->pfn + pgoff);
			return ret + (unsigned long)((phys - ret) &
						     (align - 1));
		}
	}
	return current->mm->get_unmapped_area(NULL, addr, len, pgoff, flags);
}

static int contig_mr_release(struct inode *inode, struct file *file)
{
	contig_mr_buf_put(file->private_data);
	return 0;
}

static const struct file_operations contig_mr_fops = {
	.owner = THIS_MODULE,
	.mmap = contig_mr_mmap,
	.get_unmapped_area = contig_mr_get_unmapped_area,
	.release = contig_mr_release,
};

/**
 * contig_mr_map() - map a buffer into the calling process
 * @buf: the buffer
 *
 * The file holds its own reference on @buf; the mapping holds the file.
 *
 * Return: the user address, or a negative errno cast to unsigned long.
 */
static unsigned long contig_mr_map(struct contig_mr_buf *buf)
{
	struct file *file;
	unsigned long addr;

	file = anon_inode_getfile("[contig_mr]", &contig_mr_fops, buf, O_RDWR);
	if (IS_ERR(file))
		return PTR_ERR(file);
	kref_get(&buf->ref);

	addr = vm_mmap(file, 0, buf->npages << PAGE_SHIFT,
		       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	/* On success the VMA holds the file, on failure nothing does. */
	fput(file);
	return addr;
}

/**
 * contig_mr_va_align() - alignment shared by a user and a physical address
 * @buf: the buffer
 * @addr: user address of its first page
 *
 * contig_mr_get_unmapped_area() guarantees at least @buf->align, but the
 * two addresses may agree on more bits than the physical start is aligned
 * to; a device can use that too.
 *
 * Return: the largest power of two, at most the size of the buffer rounded
 * up to a power of two, that both the user address and the physical address
 * of the buffer are congruent modulo.
 */
static u64 contig_mr_va_align(const struct contig_mr_buf *buf,
			      unsigned long addr)
{
	u64 max = (u64)roundup_pow_of_two(buf->npages) << PAGE_SHIFT;
	u64 diff = (PFN_PHYS(buf->pfn) ^ addr) & (max - 1);

	return diff ? 1ULL << __ffs64(diff) : max;
}

/**
 * contig_mr_get_npages() - read and check the requested length
 * @attrs: the method's attributes
 * @npages: the length rounded up to whole pages, in pages
 *
 * Return: 0; -EINVAL if the length is 0 or overflows when rounded up to a
 * page; -ENOMEM if it exceeds the RAM of the machine or the address space.
 */
static int contig_mr_get_npages(struct uverbs_attr_bundle *attrs,
				unsigned long *npages)
{
	u64 length, aligned;
	int ret;

	ret = uverbs_copy_from(&length, attrs,
			       UVERBS_ATTR_ALLOC_CONTIG_MR_LENGTH);
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

/**
 * contig_mr_get_node() - choose the NUMA node to allocate from
 * @attrs: the method's attributes
 * @ib_dev: the device
 * @nid: the node
 *
 * Without the optional attribute the node of the device's parent is used,
 * or the caller's node if the device has none.
 *
 * Return: 0, or -EINVAL if the requested node does not exist or is offline.
 */
static int contig_mr_get_node(struct uverbs_attr_bundle *attrs,
			      struct ib_device *ib_dev, int *nid)
{
	int node = NUMA_NO_NODE;
	u32 req;
	int ret;

	if (uverbs_attr_is_valid(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE)) {
		ret = uverbs_copy_from(&req, attrs,
				       UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE);
		if (ret)
			return ret;
		if (req >= nr_node_ids || !node_online(req))
			return -EINVAL;
		*nid = req;
		return 0;
	}

	if (ib_dev->dev.parent)
		node = dev_to_node(ib_dev->dev.parent);
	if (node < 0 || node >= nr_node_ids || !node_online(node))
		node = numa_node_id();
	*nid = node;
	return 0;
}

/**
 * contig_mr_memlock_ok() - check RLIMIT_MEMLOCK before allocating
 * @npages: pages about to be pinned
 *
 * Only a fast failure: the pages are charged to mm->pinned_vm by
 * ib_umem_get() in the driver's reg_user_mr, as for any other user MR.
 *
 * Return: true if pinning @npages more pages stays within the limit.
 */
static bool contig_mr_memlock_ok(unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	u64 pinned = atomic64_read(&current->mm->pinned_vm);

	return pinned + npages <= limit || capable(CAP_IPC_LOCK);
}

/*
 * UVERBS_METHOD_ALLOC_CONTIG_MR handler.
 *
 * Allocates a physically contiguous buffer of the requested length rounded
 * up to whole pages, zeroes it, maps it shared and read/write into the
 * calling process at an address congruent to its physical address modulo
 * the reported alignment, and registers the mapping as a user MR of the PD
 * with IOVA equal to the address.
 *
 * Return: 0; -EOPNOTSUPP if the device cannot register user memory or the
 * kernel has no CONFIG_CONTIG_ALLOC; -EINVAL for a bad length, access flag,
 * flag or NUMA node; -ENOMEM if RLIMIT_MEMLOCK would be exceeded or no
 * contiguous range is free; -EINTR if a fatal signal arrived; the error of
 * vm_mmap() or of the driver's reg_user_mr; -EFAULT if the results cannot be
 * written.
 */
static int
UVERBS_HANDLER(UVERBS_METHOD_ALLOC_CONTIG_MR)(struct uverbs_attr_bundle *attrs)
{
	struct ib_uobject *uobj =
		uverbs_attr_get_uobject(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_HANDLE);
	struct ib_pd *pd =
		uverbs_attr_get_obj(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_PD_HANDLE);
	struct ib_device *ib_dev = pd->device;
	struct contig_mr_buf *buf;
	unsigned long npages, addr;
	u32 access_flags, flags;
	u64 length, align;
	struct ib_mr *mr;
	int nid;
	int ret;

	/*
	 * Checked here: UAPI_DEF_METHOD_NEEDS_FN() only hides write methods,
	 * and UAPI_DEF_OBJ_NEEDS_FN() would hide the whole MR object.
	 */
	if (!ib_dev->ops.reg_user_mr || !IS_ENABLED(CONFIG_CONTIG_ALLOC))
		return -EOPNOTSUPP;

	ret = contig_mr_get_npages(attrs, &npages);
	if (ret)
		return ret;

	/*
	 * The IOVA is the user address, so a zero based MR cannot be had, and
	 * the pages are pinned for the life of the MR, so ODP makes no sense.
	 */
	ret = uverbs_get_flags32(&access_flags, attrs,
				 UVERBS_ATTR_ALLOC_CONTIG_MR_ACCESS_FLAGS,
				 IB_ACCESS_SUPPORTED &
				 ~(IB_ACCESS_ON_DEMAND | IB_ZERO_BASED));
	if (ret)
		return ret;

	ret = ib_check_mr_access(ib_dev, access_flags);
	if (ret)
		return ret;

	ret = uverbs_get_flags32(&flags, attrs,
				 UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS,
				 IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT);
	if (ret)
		return ret;

	ret = contig_mr_get_node(attrs, ib_dev, &nid);
	if (ret)
		return ret;

	if (!contig_mr_memlock_ok(npages))
		return -ENOMEM;

	buf = contig_mr_buf_alloc(npages, nid,
				  flags & IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	addr = contig_mr_map(buf);
	if (IS_ERR_VALUE(addr)) {
		ret = (long)addr;
		goto err_put_buf;
	}
	length = (u64)npages << PAGE_SHIFT;

	mr = ib_dev->ops.reg_user_mr(pd, addr, length, addr, access_flags,
				     &attrs->driver_udata);
	if (IS_ERR(mr)) {
		ret = PTR_ERR(mr);
		goto err_munmap;
	}

	mr->device = ib_dev;
	mr->pd = pd;
	mr->type = IB_MR_TYPE_USER;
	mr->dm = NULL;
	mr->sig_attrs = NULL;
	mr->uobject = uobj;
	mr->iova = addr;
	mr->length = length;
	atomic_inc(&pd->usecnt);

	rdma_restrack_new(&mr->res, RDMA_RESTRACK_MR);
	rdma_restrack_set_name(&mr->res, NULL);
	rdma_restrack_add(&mr->res);
	uobj->object = mr;

	/* From here on an error destroys the MR with the uobject. */
	uverbs_finalize_uobj_create(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_HANDLE);

	align = contig_mr_va_align(buf, addr);

	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LKEY,
			     &mr->lkey, sizeof(mr->lkey));
	if (ret)
		goto err_munmap;

	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_RKEY,
			     &mr->rkey, sizeof(mr->rkey));
	if (ret)
		goto err_munmap;

	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ADDR,
			     &mr->iova, sizeof(mr->iova));
	if (ret)
		goto err_munmap;

	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LENGTH,
			     &length, sizeof(length));
	if (ret)
		goto err_munmap;

	/* The whole mapping is one physically contiguous range. */
	ret = uverbs_copy_to(attrs,
			     UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_CONTIG_LENGTH,
			     &length, sizeof(length));
	if (ret)
		goto err_munmap;

	ret = uverbs_copy_to(attrs, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT,
			     &align, sizeof(align));
	if (ret)
		goto err_munmap;

	contig_mr_buf_put(buf);
	return 0;

err_munmap:
	/* Safe before the MR is destroyed: its umem holds pins on the pages. */
	vm_munmap(addr, length);
err_put_buf:
	contig_mr_buf_put(buf);
	return ret;
}

DECLARE_UVERBS_NAMED_METHOD(UVERBS_METHOD_ALLOC_CONTIG_MR,
			    UVERBS_ATTR_IDR(UVERBS_ATTR_ALLOC_CONTIG_MR_HANDLE,
					    UVERBS_OBJECT_MR,
					    UVERBS_ACCESS_NEW,
					    UA_MANDATORY),
			    UVERBS_ATTR_IDR(UVERBS_ATTR_ALLOC_CONTIG_MR_PD_HANDLE,
					    UVERBS_OBJECT_PD,
					    UVERBS_ACCESS_READ,
					    UA_MANDATORY),
			    UVERBS_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_CONTIG_MR_LENGTH,
					       UVERBS_ATTR_TYPE(u64),
					       UA_MANDATORY),
			    UVERBS_ATTR_FLAGS_IN(UVERBS_ATTR_ALLOC_CONTIG_MR_ACCESS_FLAGS,
						 enum ib_access_flags,
						 UA_MANDATORY),
			    UVERBS_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE,
					       UVERBS_ATTR_TYPE(u32),
					       UA_OPTIONAL),
			    UVERBS_ATTR_FLAGS_IN(UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS,
						 enum ib_uverbs_alloc_contig_mr_flags,
						 UA_OPTIONAL),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LKEY,
						UVERBS_ATTR_TYPE(u32),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_RKEY,
						UVERBS_ATTR_TYPE(u32),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ADDR,
						UVERBS_ATTR_TYPE(u64),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LENGTH,
						UVERBS_ATTR_TYPE(u64),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_CONTIG_LENGTH,
						UVERBS_ATTR_TYPE(u64),
						UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT,
						UVERBS_ATTR_TYPE(u64),
						UA_MANDATORY),
			    UVERBS_ATTR_UHW());

ADD_UVERBS_METHODS(uverbs_contig_mr_methods, UVERBS_OBJECT_MR,
		   &UVERBS_METHOD(UVERBS_METHOD_ALLOC_CONTIG_MR));

/* Chained from uverbs_def_obj_mr: adds the method to the MR object. */
const struct uapi_definition uverbs_def_obj_contig_mr[] = {
	UAPI_DEF_CHAIN_OBJ_TREE(UVERBS_OBJECT_MR, &uverbs_contig_mr_methods),
	{}
};
