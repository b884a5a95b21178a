// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * libcontig-mr-perftest.so: `--contig` for the stock perftest binaries.
 *
 * The perftest wrapper (perftest-contig.sh) preloads this library when it is
 * given --contig. perftest 4.5 allocates its data buffer in
 * create_single_mr():
 *
 *	ctx->pd  = ibv_alloc_pd(ctx->context);              (ctx_init)
 *	buf      = memalign(cycle_buffer, buff_size);        (create_single_mr)
 *	memset(buf, 0, buff_size);
 *	mr       = ibv_reg_mr_iova2(pd, buf, buff_size, buf, access);
 *	...
 *	ibv_dereg_mr(mr);                                    (destroy_ctx)
 *	ibv_dealloc_pd(pd); ibv_close_device(...);
 *	free(buf);
 *
 * This library serves exactly that memalign() -- called from the perftest
 * executable itself after a PD exists -- from ibv_alloc_contig_mr(), returns
 * the contiguous MR from the matching registration, releases it at
 * ibv_dereg_mr() (it must be gone before ibv_dealloc_pd()) and swallows the
 * final free(). Every other allocation and registration goes to glibc and
 * libibverbs untouched. There is no silent fallback: if the contiguous
 * allocation fails, or perftest registers a data buffer that did not come
 * from it, the process stops with a message and exit status 1.
 *
 * Environment (set by the wrapper):
 *   CMR_PERFTEST_CONTIG   read | write | send | atomic: the verb of the
 *                         tool, which fixes the access flags of the buffer.
 *                         Unset or empty: the library does nothing at all.
 *   CMR_PERFTEST_VERBOSE  1: trace every interposed call on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <infiniband/verbs.h>
#include <infiniband/verbs_contig.h>

/* verbs.h turns ibv_reg_mr into a macro; this file defines the symbol. */
#undef ibv_reg_mr

#define CMR_EXPORT __attribute__((visibility("default")))
#define CMR_MAX_BUFS 64
/* Access bits that change what the MR allows; the rest are hints. */
#define CMR_ACCESS_MANDATORY (~(unsigned int)IBV_ACCESS_OPTIONAL_RANGE)

/* glibc's own allocator entry points: never interposed, never recursive. */
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

struct cmr_buf {
	bool used;		/* slot taken (possibly still being allocated) */
	void *addr;		/* what memalign() returned: mr->addr */
	size_t length;		/* what perftest asked for */
	size_t map_length;	/* what is mapped at addr */
	struct ibv_pd *pd;
	struct ibv_mr *mr;	/* from ibv_alloc_contig_mr(); NULL once freed */
	bool registered;	/* handed out by a registration call */
	bool buf_freed;		/* perftest called free(addr) */
	bool placeholder;	/* addr..map_length is a PROT_NONE reservation */
};

typedef struct ibv_pd *(*alloc_pd_fn)(struct ibv_context *);
typedef struct ibv_mr *(*reg_mr_fn)(struct ibv_pd *, void *, size_t, int);
typedef struct ibv_mr *(*reg_mr_iova2_fn)(struct ibv_pd *, void *, size_t,
					  uint64_t, unsigned int);
typedef int (*dereg_mr_fn)(struct ibv_mr *);

/*
 * The interposer's only state. The fields above `lock` are written once by
 * the constructor, before main(), and only read afterwards; the rest is
 * under the lock.
 */
static struct cmr_state {
	bool enabled;
	bool verbose;
	const char *verb;
	unsigned int access;
	uintptr_t exe_lo, exe_hi;	/* the executable's code */
	alloc_pd_fn real_alloc_pd;
	reg_mr_fn real_reg_mr;
	reg_mr_iova2_fn real_reg_mr_iova2;
	dereg_mr_fn real_dereg_mr;

	pthread_mutex_t lock;
	struct ibv_pd *pd;		/* the last PD the executable allocated */
	unsigned int served;		/* contiguous buffers handed out */
	struct cmr_buf bufs[CMR_MAX_BUFS];
} cmr = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void cmr_trace(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void cmr_trace(const char *fmt, ...)
{
	va_list ap;

	if (!cmr.verbose)
		return;
	va_start(ap, fmt);
	fputs("contig-mr: trace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void cmr_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void cmr_fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fputs("contig-mr: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fputs("contig-mr: --contig refuses to fall back to ordinary memory; "
	      "stopping\n", stderr);
	exit(EXIT_FAILURE);
}

static const char *cmr_size_str(uint64_t bytes, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, len, "%" PRIu64 " %s", bytes, units[u]);
	return out;
}

static int cmr_find_exe(struct dl_phdr_info *info, size_t size, void *data)
{
	struct cmr_state *s = data;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int i;

	(void)size;
	/* The first object is the executable itself. */
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	s->exe_lo = lo;
	s->exe_hi = hi;
	return 1;
}

static void *cmr_real(const char *name, const char *version)
{
	void *fn = dlvsym(RTLD_NEXT, name, version);

	if (!fn)
		fn = dlsym(RTLD_NEXT, name);
	if (!fn)
		cmr_fatal("cannot find %s in libibverbs: %s", name, dlerror());
	return fn;
}

static unsigned int cmr_verb_access(const char *verb)
{
	if (!strcmp(verb, "read"))
		return IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ;
	if (!strcmp(verb, "write"))
		return IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
	if (!strcmp(verb, "send"))
		return IBV_ACCESS_LOCAL_WRITE;
	if (!strcmp(verb, "atomic"))
		return IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_ATOMIC;
	cmr_fatal("CMR_PERFTEST_CONTIG='%s': expected read, write, send or "
		  "atomic", verb);
}

__attribute__((constructor)) static void cmr_init(void)
{
	const char *verb = getenv("CMR_PERFTEST_CONTIG");
	const char *verbose = getenv("CMR_PERFTEST_VERBOSE");

	/* Resolved even when disabled: the interposers always forward. */
	cmr.real_alloc_pd = (alloc_pd_fn)cmr_real("ibv_alloc_pd", "IBVERBS_1.1");
	cmr.real_reg_mr = (reg_mr_fn)cmr_real("ibv_reg_mr", "IBVERBS_1.1");
	cmr.real_reg_mr_iova2 =
		(reg_mr_iova2_fn)cmr_real("ibv_reg_mr_iova2", "IBVERBS_1.8");
	cmr.real_dereg_mr = (dereg_mr_fn)cmr_real("ibv_dereg_mr", "IBVERBS_1.1");
	if (!verb || !*verb)
		return;
	cmr.verb = verb;
	cmr.access = cmr_verb_access(verb);
	cmr.verbose = verbose && !strcmp(verbose, "1");
	dl_iterate_phdr(cmr_find_exe, &cmr);
	if (cmr.exe_lo >= cmr.exe_hi)
		cmr_fatal("cannot find the executable's code segment");
	cmr.enabled = true;
	cmr_trace("enabled for verb %s, access %#x, executable code %#" PRIxPTR
		  "-%#" PRIxPTR, verb, cmr.access, cmr.exe_lo, cmr.exe_hi);
}

static bool cmr_from_exe(const void *caller)
{
	return (uintptr_t)caller >= cmr.exe_lo && (uintptr_t)caller < cmr.exe_hi;
}

/* Under the lock: the slot whose buffer starts at addr, or NULL. */
static struct cmr_buf *cmr_find_addr(const void *addr)
{
	unsigned int i;

	for (i = 0; i < CMR_MAX_BUFS; i++)
		if (cmr.bufs[i].used && cmr.bufs[i].addr == addr)
			return &cmr.bufs[i];
	return NULL;
}

/* Under the lock: the slot whose live buffer contains addr, or NULL. */
static struct cmr_buf *cmr_find_inside(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	unsigned int i;

	for (i = 0; i < CMR_MAX_BUFS; i++) {
		struct cmr_buf *b = &cmr.bufs[i];

		if (b->used && b->mr && a >= (uintptr_t)b->addr &&
		    a < (uintptr_t)b->addr + b->map_length)
			return b;
	}
	return NULL;
}

static void *cmr_alloc_buffer(size_t alignment, size_t size)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
	};
	struct ibv_contig_mr_info info = {
		.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
	};
	char s1[32], s2[32], s3[32];
	struct cmr_buf *slot = NULL;
	struct ibv_mr *mr;
	struct ibv_pd *pd;
	unsigned int i;
	int ret;

	pthread_mutex_lock(&cmr.lock);
	pd = cmr.pd;
	for (i = 0; i < CMR_MAX_BUFS && pd; i++) {
		if (!cmr.bufs[i].used) {
			slot = &cmr.bufs[i];
			slot->used = true;
			break;
		}
	}
	pthread_mutex_unlock(&cmr.lock);
	if (!pd)
		cmr_fatal("perftest allocated a buffer (memalign(%zu, %zu)) "
			  "before creating a protection domain; this perftest "
			  "build is not supported", alignment, size);
	if (!slot)
		cmr_fatal("more than %d contiguous buffers", CMR_MAX_BUFS);

	mr = ibv_alloc_contig_mr_ex(pd, size, cmr.access, &attr);
	if (!mr) {
		int err = errno;
		char hint[160] = "";
		struct rlimit rl;

		if (err == EOPNOTSUPP || err == EPROTONOSUPPORT)
			snprintf(hint, sizeof(hint), " (the running kernel "
				 "lacks the contig-mr series)");
		else if (err == ENOMEM && !getrlimit(RLIMIT_MEMLOCK, &rl) &&
			 rl.rlim_cur != RLIM_INFINITY && size > rl.rlim_cur)
			snprintf(hint, sizeof(hint), " (no free physically "
				 "contiguous range of that size, or the "
				 "locked-memory limit of %s: ulimit -l)",
				 cmr_size_str(rl.rlim_cur, s1, sizeof(s1)));
		else if (err == ENOMEM)
			snprintf(hint, sizeof(hint), " (no free physically "
				 "contiguous range of that size)");
		cmr_fatal("ibv_alloc_contig_mr(%zu bytes, access %#x) failed: "
			  "%s%s", size, cmr.access, strerror(err), hint);
	}
	ret = ibv_query_contig_mr(mr, &info);
	if (ret)
		cmr_fatal("ibv_query_contig_mr: %s", strerror(ret));
	if (info.backend != IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG)
		cmr_fatal("the buffer came from back end %u, not the kernel's "
			  "contiguous allocator", info.backend);
	if (alignment && ((uintptr_t)mr->addr % alignment))
		cmr_fatal("contiguous buffer %p is not aligned to %zu",
			  mr->addr, alignment);

	pthread_mutex_lock(&cmr.lock);
	slot->addr = mr->addr;
	slot->length = size;
	slot->map_length = info.length;
	slot->pd = pd;
	slot->mr = mr;
	cmr.served++;
	pthread_mutex_unlock(&cmr.lock);

	fprintf(stderr,
		"contig-mr: data buffer %zu bytes at %p: physically contiguous "
		"(extent %s, aligned to %s), device page size %s, %" PRIu64
		" map entries, lkey 0x%x rkey 0x%x\n", size, mr->addr,
		cmr_size_str(info.contig_extent, s1, sizeof(s1)),
		cmr_size_str(info.alignment, s2, sizeof(s2)),
		info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES ?
		cmr_size_str(info.device_page_size, s3, sizeof(s3)) : "unknown",
		info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES ?
		info.map_entries : 0, mr->lkey, mr->rkey);
	return mr->addr;
}

CMR_EXPORT void *memalign(size_t alignment, size_t size)
{
	const void *caller = __builtin_return_address(0);

	if (!cmr.enabled || !cmr_from_exe(caller))
		return __libc_memalign(alignment, size);
	cmr_trace("memalign(%zu, %zu) from the executable", alignment, size);
	return cmr_alloc_buffer(alignment, size);
}

CMR_EXPORT void free(void *ptr)
{
	struct ibv_mr *release = NULL;
	size_t unmap_length = 0;
	struct cmr_buf *b;

	if (!ptr || !cmr.enabled) {
		__libc_free(ptr);
		return;
	}
	pthread_mutex_lock(&cmr.lock);
	b = cmr_find_addr(ptr);
	if (!b) {
		pthread_mutex_unlock(&cmr.lock);
		__libc_free(ptr);
		return;
	}
	if (!b->mr) {
		/* The MR went at ibv_dereg_mr(); drop its placeholder. */
		if (b->placeholder)
			unmap_length = b->map_length;
		memset(b, 0, sizeof(*b));
	} else if (b->registered) {
		/* Still registered: released at ibv_dereg_mr(). */
		b->buf_freed = true;
	} else {
		/* Never registered: nothing else will release it. */
		release = b->mr;
		memset(b, 0, sizeof(*b));
	}
	pthread_mutex_unlock(&cmr.lock);

	cmr_trace("free(%p): contiguous buffer%s", ptr,
		  release ? ", released" : "");
	if (unmap_length)
		munmap(ptr, unmap_length);
	if (release) {
		int ret = ibv_free_contig_mr(release);

		if (ret)
			fprintf(stderr, "contig-mr: ibv_free_contig_mr: %s\n",
				strerror(ret));
	}
}

CMR_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	const void *caller = __builtin_return_address(0);
	struct ibv_pd *pd;

	pd = cmr.real_alloc_pd(context);
	/* perftest's own PD, not one a library (librdmacm) makes for itself. */
	if (pd && cmr.enabled && cmr_from_exe(caller)) {
		pthread_mutex_lock(&cmr.lock);
		cmr.pd = pd;
		pthread_mutex_unlock(&cmr.lock);
	}
	cmr_trace("ibv_alloc_pd() = %p", (void *)pd);
	return pd;
}

/*
 * true: the registration is of a contiguous buffer, *out is its MR.
 * false: not ours, the caller registers it normally.
 */
static bool cmr_claim(struct ibv_pd *pd, void *addr, size_t length,
		      uint64_t iova, unsigned int access, const void *caller,
		      struct ibv_mr **out)
{
	const char *why = NULL;
	struct cmr_buf *b;
	bool none_yet;

	pthread_mutex_lock(&cmr.lock);
	b = cmr_find_inside(addr);
	none_yet = cmr.served == 0;
	if (!b) {
		pthread_mutex_unlock(&cmr.lock);
		/*
		 * perftest registers its data buffer before anything else;
		 * a first registration that is not a contiguous buffer means
		 * the data buffer came from somewhere else (--mmap,
		 * --use_hugepages, another perftest version).
		 */
		if (cmr_from_exe(caller) && none_yet)
			cmr_fatal("perftest registered %zu bytes at %p, which "
				  "are not a contiguous buffer: its data buffer "
				  "did not come from memalign()", length, addr);
		return false;
	}
	if (b->addr != addr)
		why = "a part of the contiguous buffer";
	else if (length > b->map_length)
		why = "more than the contiguous buffer";
	else if (b->registered)
		why = "the contiguous buffer a second time";
	else if (pd != b->pd)
		why = "the contiguous buffer on another PD";
	else if (iova != (uintptr_t)addr)
		why = "the contiguous buffer at an iova other than its address";
	else if ((access & CMR_ACCESS_MANDATORY) != cmr.access)
		why = "the contiguous buffer with other access flags";
	else
		b->registered = true;
	*out = b->mr;
	pthread_mutex_unlock(&cmr.lock);
	if (why)
		cmr_fatal("perftest registered %s (addr %p, length %zu, iova "
			  "%#" PRIx64 ", access %#x; buffer allocated with access "
			  "%#x): not supported", why, addr, length, iova, access,
			  cmr.access);
	if (access != cmr.access)
		cmr_trace("optional access flags %#x not applied (hints only)",
			  access & ~CMR_ACCESS_MANDATORY);
	cmr_trace("registration of %p (%zu bytes, access %#x): contiguous MR "
		  "lkey %#x", addr, length, access, (*out)->lkey);
	return true;
}

CMR_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr,
				     size_t length, int access)
{
	struct ibv_mr *mr;

	if (cmr.enabled && cmr_claim(pd, addr, length, (uintptr_t)addr,
				     (unsigned int)access,
				     __builtin_return_address(0), &mr))
		return mr;
	return cmr.real_reg_mr(pd, addr, length, access);
}

CMR_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
					   size_t length, uint64_t iova,
					   unsigned int access)
{
	struct ibv_mr *mr;

	if (cmr.enabled && cmr_claim(pd, addr, length, iova, access,
				     __builtin_return_address(0), &mr))
		return mr;
	return cmr.real_reg_mr_iova2(pd, addr, length, iova, access);
}

CMR_EXPORT int ibv_dereg_mr(struct ibv_mr *mr)
{
	bool buf_freed = false, found = false;
	size_t map_length = 0;
	void *addr = NULL;
	unsigned int i;
	void *hold;
	int ret;

	if (cmr.enabled && mr) {
		pthread_mutex_lock(&cmr.lock);
		for (i = 0; i < CMR_MAX_BUFS; i++) {
			struct cmr_buf *b = &cmr.bufs[i];

			if (!b->used || b->mr != mr || !b->registered)
				continue;
			found = true;
			addr = b->addr;
			map_length = b->map_length;
			buf_freed = b->buf_freed;
			if (buf_freed)
				memset(b, 0, sizeof(*b));
			else
				b->mr = NULL;
			break;
		}
		pthread_mutex_unlock(&cmr.lock);
	}
	if (!found)
		return cmr.real_dereg_mr(mr);

	/*
	 * perftest deregisters, then deallocates the PD and closes the
	 * device, and only then frees the buffer: the MR (which unmaps the
	 * buffer) must go now. Until free() the range stays reserved with an
	 * inaccessible mapping, so that nothing else lands at an address
	 * perftest still holds.
	 */
	ret = ibv_free_contig_mr(mr);
	if (ret) {
		fprintf(stderr, "contig-mr: ibv_free_contig_mr: %s\n",
			strerror(ret));
		return ret;
	}
	cmr_trace("ibv_dereg_mr(contiguous MR at %p): released", addr);
	if (buf_freed)
		return 0;
	hold = mmap(addr, map_length, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		    MAP_FIXED_NOREPLACE, -1, 0);
	if (hold == addr) {
		pthread_mutex_lock(&cmr.lock);
		for (i = 0; i < CMR_MAX_BUFS; i++)
			if (cmr.bufs[i].used && cmr.bufs[i].addr == addr)
				cmr.bufs[i].placeholder = true;
		pthread_mutex_unlock(&cmr.lock);
	} else if (hold != MAP_FAILED) {
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(hold, map_length);
	}
	return 0;
}
