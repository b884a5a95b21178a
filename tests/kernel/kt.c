// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kt: helpers of the kernel tests. See kt.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "contig_mr.h"
#include "kt.h"
#include "uverbs_cmd.h"

const char *kt_size_str(uint64_t v, char *buf, size_t size)
{
	static const char *const unit[] = { "GiB", "MiB", "KiB" };
	uint64_t scale = KT_GIB, part;
	size_t len = 0;
	unsigned int u;

	if (!v || v % KT_KIB) {
		snprintf(buf, size, "%" PRIu64 " B", v);
		return buf;
	}
	buf[0] = '\0';
	/* "3 MiB + 4 KiB": one term per power of 1024 present. */
	for (u = 0; u < 3; u++, scale >>= 10) {
		part = v / scale;
		v %= scale;
		if (!part || len >= size)
			continue;
		len += snprintf(buf + len, size - len, "%s%" PRIu64 " %s",
				len ? " + " : "", part, unit[u]);
	}
	return buf;
}

uint64_t kt_pow2_ceil(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

uint64_t kt_pow2_floor(uint64_t v)
{
	uint64_t p = 1;

	if (!v)
		return 0;
	while (p <= v / 2)
		p <<= 1;
	return p;
}

uint64_t kt_lowbit(uint64_t v)
{
	return v & (~v + 1);
}

/* ---- raw CONTIG_BUF commands ------------------------------------------- */

static uint32_t kt_driver_id;

int kt_raw_init(struct ibv_context *ctx)
{
	return cmr_driver_id(ctx, &kt_driver_id);
}

uint32_t kt_raw_driver_id(void)
{
	return kt_driver_id;
}

int kt_raw_alloc_in(struct ibv_context *ctx, const struct cmr_buf_alloc_in *in,
		    struct kt_buf *b)
{
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	cmr_encode_buf_alloc(&cmd, kt_driver_id, in, &out);
	ret = cmr_ioctl(ctx->cmd_fd, &cmd);
	if (ret)
		return ret;
	cmr_decode_buf_alloc(&cmd, &out);
	b->ctx = ctx;
	b->handle = out.handle;
	b->object = true;
	b->fd = out.fd;
	b->length = out.length;
	b->alignment = out.alignment;
	b->numa_node = out.numa_node;
	b->extent_size = out.extent_size;
	return 0;
}

int kt_raw_alloc(struct ibv_context *ctx, uint64_t length, int32_t numa_node,
		 uint32_t flags, struct kt_buf *b)
{
	struct cmr_buf_alloc_in in = {
		.length = length,
		.numa_node = numa_node,
		.flags = flags,
	};

	return kt_raw_alloc_in(ctx, &in, b);
}

int kt_raw_free(struct ibv_context *ctx, uint32_t handle)
{
	struct cmr_ioctl_cmd cmd;

	cmr_encode_buf_free(&cmd, kt_driver_id, handle);
	return cmr_ioctl(ctx->cmd_fd, &cmd);
}

struct ib_uverbs_attr *kt_cmd_attr(struct cmr_ioctl_cmd *cmd, uint16_t attr_id)
{
	unsigned int i;

	for (i = 0; i < cmd->hdr.num_attrs; i++)
		if (cmd->attrs[i].attr_id == attr_id)
			return &cmd->attrs[i];
	return NULL;
}

void *kt_buf_mmap(const struct kt_buf *b, uint64_t off, uint64_t len,
		  int flags)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, flags, b->fd,
		    (off_t)off);
}

int kt_populate(void *addr, uint64_t len)
{
	volatile uint8_t *p = addr;
	uint64_t off;

	/* One call where the kernel has it (5.14); else touch each page. */
	if (!madvise(addr, len, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL)
		return errno;
	for (off = 0; off < len; off += 4096)
		p[off] = p[off];
	return 0;
}

int kt_buf_new(struct ibv_context *ctx, uint64_t length, struct kt_buf *b)
{
	void *p;
	int ret;

	ret = kt_raw_alloc(ctx, length, -1, 0, b);
	if (ret) {
		t_diag("CONTIG_BUF_ALLOC of %" PRIu64 " bytes: %s", length,
		       strerrorname_np(ret));
		return ret;
	}
	p = kt_buf_mmap(b, 0, b->length, MAP_SHARED);
	if (p == MAP_FAILED) {
		ret = errno;
		t_diag("mmap of the contig_buf fd (%" PRIu64 " bytes): %s",
		       b->length, strerrorname_np(ret));
		kt_buf_release(b);
		return ret;
	}
	b->addr = p;
	ret = kt_populate(p, b->length);
	if (ret) {
		t_diag("populating the mapping: %s", strerrorname_np(ret));
		kt_buf_release(b);
		return ret;
	}
	return 0;
}

int kt_buf_drop_object(struct kt_buf *b)
{
	int ret;

	if (!b->object)
		return 0;
	ret = kt_raw_free(b->ctx, b->handle);
	if (ret)
		t_diag("CONTIG_BUF_FREE of handle %u: %s", b->handle,
		       strerrorname_np(ret));
	b->object = false;
	return ret;
}

int kt_buf_drop_fd(struct kt_buf *b)
{
	int ret = 0;

	if (b->fd < 0)
		return 0;
	if (close(b->fd)) {
		ret = errno;
		t_diag("close of the contig_buf fd %d: %s", b->fd,
		       strerrorname_np(ret));
	}
	b->fd = -1;
	return ret;
}

int kt_buf_drop_map(struct kt_buf *b)
{
	int ret = 0;

	if (!b->addr)
		return 0;
	if (munmap(b->addr, b->length)) {
		ret = errno;
		t_diag("munmap of the contig_buf mapping: %s",
		       strerrorname_np(ret));
	}
	b->addr = NULL;
	return ret;
}

int kt_buf_release(struct kt_buf *b)
{
	int bad = 0;

	if (kt_buf_drop_object(b))
		bad = -1;
	if (kt_buf_drop_fd(b))
		bad = -1;
	if (kt_buf_drop_map(b))
		bad = -1;
	return bad;
}

int kt_fd_count(int *contig)
{
	char path[300], target[256];
	struct dirent *d;
	int n = 0, c = 0;
	ssize_t len;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.' || atoi(d->d_name) == dirfd(dir))
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strstr(target, "contig_buf"))
			c++;
	}
	closedir(dir);
	if (contig)
		*contig = c;
	return n;
}

/* ---- device pages ------------------------------------------------------- */

#define KT_PM_PRESENT (UINT64_C(1) << 63)
#define KT_PM_PFN_MASK ((UINT64_C(1) << 55) - 1)

int kt_pagemap(const void *addr, size_t npages, uint64_t *pfn)
{
	off_t off = (off_t)((uintptr_t)addr / 4096) * 8;
	size_t want = npages * 8, got = 0, i;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < want) {
		ssize_t n = pread(fd, (char *)pfn + got, want - got, off + got);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		got += n;
	}
	close(fd);
	for (i = 0; i < npages; i++)
		pfn[i] = pfn[i] & KT_PM_PRESENT ? pfn[i] & KT_PM_PFN_MASK : 0;
	return 0;
}

static unsigned int bits_per(uint64_t v)
{
	unsigned int n = 0;

	while (v) {
		n++;
		v >>= 1;
	}
	return n;
}

uint64_t kt_umem_pgsz(const void *addr, uint64_t len, uint64_t iova,
		      uint64_t cap, uint64_t *entries)
{
	/* Linear map base of x86-64 without KASLR: 512 GiB aligned. */
	const uint64_t page_offset = UINT64_C(0xffff888000000000);
	uint64_t start = (uintptr_t)addr & ~UINT64_C(4095);
	uint64_t pgoff = (uintptr_t)addr & 4095;
	size_t npages = (pgoff + len + 4095) / 4096, i, j;
	uint64_t mask = 0, bitmap = cap, va = iova, pgsz, *pfn;
	unsigned int top = bits_per((len - 1 + iova) ^ iova);

	pfn = malloc(npages * sizeof(*pfn));
	if (!pfn)
		return 0;
	if (kt_pagemap((void *)(uintptr_t)start, npages, pfn)) {
		free(pfn);
		return 0;
	}
	for (i = 0; i < npages; i++) {
		if (!pfn[i]) {
			free(pfn);
			return 0;
		}
	}

	/*
	 * ib_umem_find_best_pgsz() over the DMA segments of the umem: runs
	 * of physically consecutive pages (ib_umem_get() merges them; rxe's
	 * segments have no size limit below 4 GiB). A page can be no larger
	 * than the lowest bit in which an IOVA and its DMA address differ,
	 * an inner segment must end on a page boundary, and no page is
	 * larger than needed to cover the region from an aligned start.
	 */
	if (top < 64)
		mask = cap & ~((UINT64_C(1) << top) - 1);
	for (i = 0; i < npages; i = j) {
		for (j = i + 1; j < npages && pfn[j] == pfn[j - 1] + 1; j++)
			;
		mask |= (page_offset + pfn[i] * 4096 + pgoff) ^ va;
		va += (j - i) * 4096 - pgoff;
		if (j < npages)
			mask |= va;
		pgoff = 0;
	}
	free(pfn);
	if (mask) {
		unsigned int tz = __builtin_ctzll(mask);

		if (tz < 63)
			bitmap &= (UINT64_C(2) << tz) - 1;
	}
	if (!bitmap)
		return 0;
	pgsz = UINT64_C(1) << (63 - __builtin_clzll(bitmap));
	if (entries)
		*entries = (((iova + len + pgsz - 1) & ~(pgsz - 1)) -
			    (iova & ~(pgsz - 1))) / pgsz;
	return pgsz;
}

/* ---- memory ------------------------------------------------------------- */

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h) */
#define KPF_UPTODATE 3
#define KPF_LRU 5
#define KPF_SLAB 7
#define KPF_BUDDY 10
#define KPF_MMAP 11
#define KPF_ANON 12
#define KPF_SWAPBACKED 14
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_ZERO_PAGE 24
#define KPF_PGTABLE 26

int kt_kpage_scan(uint64_t pfn, uint64_t n, uint64_t *in_use,
		  uint64_t *unexplained)
{
	/*
	 * Freed pages go to the head of the per-CPU lists and are the first
	 * to be handed out again, typically to page faults: anonymous or
	 * page cache pages that are mapped but still in the LRU add batch,
	 * not on the LRU yet (ANON|SWAPBACKED|MMAP|UPTODATE, or MMAP|UPTODATE).
	 */
	const uint64_t named = 1ULL << KPF_LRU | 1ULL << KPF_SLAB |
			       1ULL << KPF_BUDDY | 1ULL << KPF_COMPOUND_HEAD |
			       1ULL << KPF_COMPOUND_TAIL |
			       1ULL << KPF_ZERO_PAGE | 1ULL << KPF_PGTABLE |
			       1ULL << KPF_MMAP | 1ULL << KPF_ANON |
			       1ULL << KPF_UPTODATE | 1ULL << KPF_SWAPBACKED;
	const size_t batch = 4096;
	uint64_t cnt[4096], flg[4096], i, j, m;
	int fc, ff, ret = -1;

	*in_use = *unexplained = 0;
	fc = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	ff = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fc < 0 || ff < 0)
		goto out;
	for (i = 0; i < n; i += m) {
		m = n - i < batch ? n - i : batch;
		if (pread(fc, cnt, m * 8, (off_t)(pfn + i) * 8) != (ssize_t)(m * 8) ||
		    pread(ff, flg, m * 8, (off_t)(pfn + i) * 8) != (ssize_t)(m * 8))
			goto out;
		for (j = 0; j < m; j++) {
			if (!cnt[j])
				continue;
			(*in_use)++;
			if (flg[j] & named)
				continue;
			if ((*unexplained)++ < 4)
				t_diag("pfn 0x%" PRIx64 ": count %" PRIu64
				       ", flags 0x%" PRIx64, pfn + i + j,
				       cnt[j], flg[j]);
		}
	}
	ret = 0;
out:
	if (fc >= 0)
		close(fc);
	if (ff >= 0)
		close(ff);
	return ret;
}

/* ---- misc --------------------------------------------------------------- */

int kt_diag_cmd(const char *cmd)
{
	char line[1024];
	FILE *p;

	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		t_diag("  %s", line);
	}
	return pclose(p);
}

static sigjmp_buf kt_fault_jmp;

static void kt_fault_handler(int sig)
{
	siglongjmp(kt_fault_jmp, sig);
}

bool kt_read_faults(const volatile uint8_t *p, uint8_t *val)
{
	struct sigaction sa, old_segv, old_bus;
	volatile bool faulted = false;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kt_fault_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(kt_fault_jmp, 1) == 0)
		*val = *p;
	else
		faulted = true;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted;
}

long kt_isolated_pageblocks(void)
{
	FILE *f = fopen("/proc/pagetypeinfo", "r");
	char line[512], zone[32];
	long total = -1, v[8];
	int col = -1, n, i;
	char *tok;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "Number of blocks type")) {
			/* Find which column is Isolate. */
			n = 0;
			for (tok = strtok(line + 21, " \n"); tok;
			     tok = strtok(NULL, " \n"), n++)
				if (!strcmp(tok, "Isolate"))
					col = n;
			total = col < 0 ? -1 : 0;
			continue;
		}
		if (col < 0 || sscanf(line, "Node %*d, zone %31s", zone) != 1 ||
		    strstr(line, "type"))
			continue;
		tok = strstr(line, zone) + strlen(zone);
		n = 0;
		while (n < 8 && sscanf(tok, "%ld%n", &v[n], &i) == 1) {
			tok += i;
			n++;
		}
		if (n > col)
			total += v[col];
	}
	fclose(f);
	return total;
}

/* The scatter child: map, populate, give back all but the first page of
 * each stride, report the bytes it holds, wait to be killed. */
static noreturn void scatter_child(uint64_t len, uint64_t stride, int wfd)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t off, held = 0;
	char *p;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)	/* the parent died before prctl() */
		_exit(1);
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1000", 4) != 4)
			_exit(2);
		close(fd);
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	/* Base pages: a THP would keep whole pageblocks free of holes. */
	if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE) ||
	    madvise(p, len, MADV_POPULATE_WRITE))
		_exit(3);
	for (off = 0; off + stride <= len; off += stride) {
		if (madvise(p + off + page, stride - page, MADV_DONTNEED))
			_exit(4);
		held += page;
	}
	if (write(wfd, &held, sizeof(held)) != sizeof(held))
		_exit(5);
	for (;;)
		pause();
}

#define PROACTIVENESS "/proc/sys/vm/compaction_proactiveness"

int kt_scatter_start(struct kt_scatter *s, uint64_t leave, uint64_t stride)
{
	long long free_kb = t_meminfo_kb("MemFree");
	uint64_t free_b = free_kb > 0 ? (uint64_t)free_kb * 1024 : 0, len;
	long page = sysconf(_SC_PAGESIZE);
	int fds[2], status = 0;
	ssize_t n;

	s->pid = -1;
	s->held = 0;
	s->proactiveness = -1;
	if (free_b <= leave + stride || stride <= (uint64_t)page ||
	    stride % page) {
		t_diag("scatter: %" PRIu64 " MiB free, cannot leave %" PRIu64
		       " MiB", free_b >> 20, leave >> 20);
		errno = ENOMEM;
		return -1;
	}
	len = (free_b - leave) / stride * stride;
	/* Best effort: the knob exists only with CONFIG_COMPACTION. */
	s->proactiveness = t_read_number(PROACTIVENESS);
	if (s->proactiveness >= 0)
		t_write_file(PROACTIVENESS, "0");
	if (pipe(fds)) {
		kt_scatter_stop(s);
		return -1;
	}
	s->pid = fork();
	if (s->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		kt_scatter_stop(s);
		return -1;
	}
	if (!s->pid) {
		close(fds[0]);
		scatter_child(len, stride, fds[1]);
	}
	close(fds[1]);
	n = read(fds[0], &s->held, sizeof(s->held));
	close(fds[0]);
	if (n == sizeof(s->held))
		return 0;
	waitpid(s->pid, &status, 0);
	t_diag("scatter: the child failed to set up (status 0x%x)", status);
	s->pid = -1;
	kt_scatter_stop(s);
	errno = EIO;
	return -1;
}

void kt_scatter_stop(struct kt_scatter *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
	if (s->proactiveness >= 0) {
		t_write_file(PROACTIVENESS, "%lld", s->proactiveness);
		s->proactiveness = -1;
	}
}
