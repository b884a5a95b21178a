// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Fragmentation: can contiguous ranges still be found after a workload that
 * scatters memory, and how does that compare with growing the hugetlb pool
 * at run time?
 *
 * cmr-bench fragment builds the fragmented state and holds it until its
 * standard input is closed:
 *
 *   pinned    long-term pinned pages, one 4 KiB page every --pin-stride
 *             over --pin-span of memory: pages of two mappings are faulted
 *             in interleaved (one page of A, then stride/4K - 1 pages of
 *             B), so that the page allocator hands them out next to each
 *             other; A is then registered as an MR (pinned, unmovable)
 *             and B unmapped. No contiguous range longer than the stride
 *             survives in that span, whatever migration does.
 *   anon      --anon bytes of anonymous memory, faulted in, then every
 *             other --anon-hole chunk released (MADV_DONTNEED): scattered
 *             movable pages with free holes between them.
 *   pagecache a --pagecache bytes file in --dir (tmpfs in the guest:
 *             shmem page cache, movable).
 *
 * cmr-bench probe then times, for each size, interleaved:
 *
 *   contig    ibv_alloc_contig_mr() (kernel back end only): alloc_contig_
 *             pages() + zeroing + charging + mapping + registration;
 *             released after
 *   huge1g    growing the 1 GiB hugetlb pool at run time by
 *             ceil(size / 1 GiB) pages (nr_hugepages), shrunk back after
 *   huge2m    growing the 2 MiB pool by size / 2 MiB pages, likewise
 *
 * The pool growth does not zero, map or register anything, the contiguous
 * MR does all of that: the latencies are not the same work (see
 * docs/benchmarks.md); the success rates are the comparison.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "bench.h"
#include "bench_util.h"
#include "cmr_test.h"

static int size_opt(const char *name, const char *text, uint64_t *out)
{
	if (!t_parse_size(text, out))
		return 0;
	fprintf(stderr, "cmr-bench: bad size for --%s: %s\n", name, text);
	return -1;
}

struct frag_state {
	struct bench_dev dev;
	/* Where the pinned pages really are (from /proc/self/pagemap). */
	uint64_t pin_pfn_lo, pin_pfn_hi;
	uint64_t pin_free_window, pin_free_windows;
	struct ibv_mr *pin_mr;
	void *pin_buf;
	uint64_t pin_len, pinned_pages;
	void *anon;
	uint64_t anon_len, anon_resident;
	char *file;
	uint64_t file_len;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is any of the sorted pfn[0..n) inside [lo, hi)? */
static bool pin_inside(const uint64_t *pfn, uint64_t n, uint64_t lo, uint64_t hi)
{
	uint64_t l = 0, h = n;

	while (l < h) {
		uint64_t m = l + (h - l) / 2;

		if (pfn[m] < lo)
			l = m + 1;
		else
			h = m;
	}
	return l < n && pfn[l] < hi;
}

/*
 * Where the pinned pages really are: their physical range (root reads PFNs
 * from /proc/self/pagemap) and the largest naturally aligned power-of-two
 * window of RAM, 2 MiB to 1 GiB, that holds none of them, with how many
 * such windows there are. alloc_contig_pages() needs such a window free of
 * unmovable pages, so this is what the pins leave room for. A plain gap
 * between pins would count the PCI hole and zone boundaries as room.
 * Best effort: without PFNs or /proc/iomem the fields stay 0.
 */
static void frag_locate_pins(struct frag_state *st, uint64_t blocks)
{
	uint64_t *pfn = calloc(blocks, sizeof(*pfn)), i, n = blocks;
	uint64_t ram[BENCH_RAM_MAX][2], size;
	int nram, k;

	if (!pfn || !n)
		goto out;
	/* Pinned pages are present; only root sees their PFNs. */
	for (i = 0; i < n; i++)
		if (t_pagemap_pfn((char *)st->pin_buf + i * SZ_4K, &pfn[i]))
			goto out;
	qsort(pfn, n, sizeof(*pfn), cmp_u64);
	st->pin_pfn_lo = pfn[0];
	st->pin_pfn_hi = pfn[n - 1];
	nram = bench_ram_ranges(ram, BENCH_RAM_MAX);
	for (size = SZ_1G; size >= SZ_2M && !st->pin_free_windows; size >>= 1) {
		for (k = 0; k < nram; k++) {
			uint64_t w = (ram[k][0] + size - 1) & ~(size - 1);

			for (; w + size <= ram[k][1]; w += size)
				if (!pin_inside(pfn, n, w / SZ_4K, (w + size) / SZ_4K))
					st->pin_free_windows++;
		}
		if (st->pin_free_windows)
			st->pin_free_window = size;
	}
out:
	free(pfn);
}

static int frag_pin(struct frag_state *st, uint64_t span, uint64_t stride)
{
	uint64_t blocks = span / stride, per = stride / SZ_4K - 1, i, j;
	uint64_t b_len = blocks * per * SZ_4K;
	volatile char *a, *b;

	st->pin_len = blocks * SZ_4K;
	a = mmap(NULL, st->pin_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, b_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		perror("cmr-bench fragment: mmap");
		return -1;
	}
	/* 4 KiB pages only: a THP would place 512 pages at once. */
	madvise((void *)a, st->pin_len, MADV_NOHUGEPAGE);
	madvise((void *)b, b_len, MADV_NOHUGEPAGE);
	for (i = 0; i < blocks; i++) {
		a[i * SZ_4K] = 1;
		for (j = 0; j < per; j++)
			b[(i * per + j) * SZ_4K] = 1;
	}
	st->pin_buf = (void *)a;
	st->pin_mr = ibv_reg_mr(st->dev.pd, st->pin_buf, st->pin_len,
				IBV_ACCESS_LOCAL_WRITE);
	if (!st->pin_mr) {
		perror("cmr-bench fragment: ibv_reg_mr");
		return -1;
	}
	munmap((void *)b, b_len);
	st->pinned_pages = blocks;
	frag_locate_pins(st, blocks);
	return 0;
}

static int frag_anon(struct frag_state *st, uint64_t len, uint64_t hole)
{
	uint64_t off;

	st->anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st->anon == MAP_FAILED) {
		st->anon = NULL;
		perror("cmr-bench fragment: mmap");
		return -1;
	}
	st->anon_len = len;
	madvise(st->anon, len, MADV_NOHUGEPAGE);
	for (off = 0; off < len; off += SZ_4K)
		((volatile char *)st->anon)[off] = 1;
	st->anon_resident = len;
	for (off = hole; off + hole <= len; off += 2 * hole) {
		madvise((char *)st->anon + off, hole, MADV_DONTNEED);
		st->anon_resident -= hole;
	}
	return 0;
}

static int frag_pagecache(struct frag_state *st, const char *dir, uint64_t len)
{
	static char chunk[1 << 20];
	uint64_t done = 0;
	int fd;

	if (asprintf(&st->file, "%s/cmr-bench-pagecache.%d", dir,
		     (int)getpid()) < 0)
		return -1;
	fd = open(st->file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(st->file);
		return -1;
	}
	memset(chunk, 0x3c, sizeof(chunk));
	while (done < len) {
		size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
		ssize_t w = write(fd, chunk, n);

		if (w <= 0) {
			perror(st->file);
			close(fd);
			return -1;
		}
		done += (uint64_t)w;
	}
	close(fd);
	st->file_len = len;
	return 0;
}

static void frag_release(struct frag_state *st)
{
	if (st->pin_mr)
		ibv_dereg_mr(st->pin_mr);
	if (st->pin_buf)
		munmap(st->pin_buf, st->pin_len);
	if (st->anon)
		munmap(st->anon, st->anon_len);
	if (st->file) {
		unlink(st->file);
		free(st->file);
	}
	bench_dev_close(&st->dev);
}

int cmd_fragment(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pin-span", required_argument, NULL, 'S' },
		{ "pin-stride", required_argument, NULL, 's' },
		{ "anon", required_argument, NULL, 'a' },
		{ "anon-hole", required_argument, NULL, 'H' },
		{ "pagecache", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t span = 0, stride = 32 << 20, anon = 0, hole = 64 << 10;
	uint64_t pagecache = 0;
	const char *dev = NULL, *dir = "/tmp";
	struct frag_state st = { 0 };
	int c, ret = 1;
	char buf[64];

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'S':
			bad = size_opt("pin-span", optarg, &span);
			break;
		case 's':
			bad = size_opt("pin-stride", optarg, &stride);
			break;
		case 'a':
			bad = size_opt("anon", optarg, &anon);
			break;
		case 'H':
			bad = size_opt("anon-hole", optarg, &hole);
			break;
		case 'p':
			bad = size_opt("pagecache", optarg, &pagecache);
			break;
		case 'D':
			dir = optarg;
			break;
		case 'h':
			printf("usage: cmr-bench fragment [--dev NAME] "
			       "[--pin-span SIZE] [--pin-stride SIZE] "
			       "[--anon SIZE] [--anon-hole SIZE] "
			       "[--pagecache SIZE] [--dir DIR]\n"
			       "Builds the state, prints \"ready ...\" and "
			       "holds it until stdin is closed.\n");
			return 0;
		default:
			return 2;
		}
		if (bad)
			return 2;
	}
	if (stride < 2 * SZ_4K || stride % SZ_4K || hole < SZ_4K ||
	    hole % SZ_4K || optind != argc) {
		fprintf(stderr, "cmr-bench fragment: bad arguments\n");
		return 2;
	}
	ret = bench_dev_open(dev, &st.dev);
	if (ret) {
		fprintf(stderr, "cmr-bench fragment: device: %s\n",
			strerror(ret));
		return 1;
	}
	ret = 1;
	if (span && frag_pin(&st, span, stride))
		goto out;
	if (anon && frag_anon(&st, anon, hole))
		goto out;
	if (pagecache && frag_pagecache(&st, dir, pagecache))
		goto out;
	printf("ready pinned_pages=%" PRIu64 " pin_stride=%" PRIu64
	       " pin_span=%" PRIu64 " pin_phys_lo=%#" PRIx64
	       " pin_phys_hi=%#" PRIx64 " pin_free_window=%" PRIu64
	       " pin_free_windows=%" PRIu64
	       " anon_resident=%" PRIu64 " pagecache=%" PRIu64 "\n",
	       st.pinned_pages, stride, st.pinned_pages * stride,
	       st.pin_pfn_lo * SZ_4K, st.pin_pfn_hi * SZ_4K,
	       st.pin_free_window, st.pin_free_windows,
	       st.anon_resident, st.file_len);
	fflush(stdout);
	/* Hold everything until the driver closes our stdin. */
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	ret = 0;
out:
	frag_release(&st);
	return ret;
}

/* ---- probe ---- */

enum method { M_CONTIG, M_HUGE1G, M_HUGE2M, M_COUNT };
static const char *const method_names[M_COUNT] = { "contig", "huge1g",
						   "huge2m" };

struct probe_result {
	const char *status;
	uint64_t ns, granted;
};

static void probe_contig(struct bench_dev *dev, uint64_t size,
			 struct probe_result *r)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
	};
	struct ibv_mr *mr;
	uint64_t t0 = now_ns();

	mr = ibv_alloc_contig_mr_ex(dev->pd, size, BENCH_ACCESS, &attr);
	r->ns = now_ns() - t0;
	if (!mr) {
		r->status = bench_err_name(errno);
		return;
	}
	r->granted = mr->length;
	r->status = "ok";
	ibv_free_contig_mr(mr);
}

static void probe_pool(uint64_t page, uint64_t size, struct probe_result *r)
{
	unsigned long need = (size + page - 1) / page;
	long base = hugetlb_get_pool(page), got;
	uint64_t t0;

	if (base < 0) {
		r->status = "no-hugetlb";
		return;
	}
	t0 = now_ns();
	got = hugetlb_set_pool(page, (unsigned long)base + need);
	r->ns = now_ns() - t0;
	if (got < 0) {
		r->status = bench_err_name(errno);
		return;
	}
	r->granted = (uint64_t)(got - base) * page;
	r->status = got >= base + (long)need ? "ok" : "short";
	hugetlb_set_pool(page, (unsigned long)base);
}

int cmd_probe(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "attempts", required_argument, NULL, 'n' },
		{ "methods", required_argument, NULL, 'm' },
		{ "condition", required_argument, NULL, 'c' },
		{ "csv", required_argument, NULL, 'o' },
		{ "no-header", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sizes_arg = "2M,8M,32M,128M,512M,1G";
	const char *methods = "contig,huge1g,huge2m", *cond = "clean";
	const char *dev_name = NULL, *csv = NULL;
	uint64_t sizes[BENCH_MAX_SIZES];
	bool use[M_COUNT] = { false }, header = true;
	char *copy, *tok, *save = NULL;
	int c, nsizes, attempts = 3, a, i, m, ret;
	struct bench_dev dev;
	FILE *out = stdout;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev_name = optarg;
			break;
		case 's':
			sizes_arg = optarg;
			break;
		case 'n':
			attempts = atoi(optarg);
			break;
		case 'm':
			methods = optarg;
			break;
		case 'c':
			cond = optarg;
			break;
		case 'o':
			csv = optarg;
			break;
		case 'N':
			header = false;
			break;
		case 'h':
			printf("usage: cmr-bench probe [--dev NAME] "
			       "[--sizes LIST] [--attempts N] "
			       "[--methods contig,huge1g,huge2m] "
			       "[--condition NAME] [--csv FILE] "
			       "[--no-header]\n");
			return 0;
		default:
			return 2;
		}
	}
	nsizes = parse_sizes(sizes_arg, sizes, BENCH_MAX_SIZES);
	if (nsizes < 0 || attempts < 1 || optind != argc) {
		fprintf(stderr, "cmr-bench probe: bad arguments\n");
		return 2;
	}
	copy = strdup(methods);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (m = 0; m < M_COUNT && strcmp(tok, method_names[m]); m++)
			;
		if (m == M_COUNT) {
			fprintf(stderr, "cmr-bench probe: unknown method %s\n",
				tok);
			free(copy);
			return 2;
		}
		use[m] = true;
	}
	free(copy);
	ret = bench_dev_open(dev_name, &dev);
	if (ret) {
		fprintf(stderr, "cmr-bench probe: device: %s\n", strerror(ret));
		return 1;
	}
	if (csv && !(out = fopen(csv, "a"))) {
		perror(csv);
		bench_dev_close(&dev);
		return 1;
	}
	if (header)
		fprintf(out, "condition,attempt,size,method,status,ns,granted\n");
	for (a = 0; a < attempts; a++) {
		for (i = 0; i < nsizes; i++) {
			for (m = 0; m < M_COUNT; m++) {
				struct probe_result r = { .status = "?" };

				if (!use[m])
					continue;
				if (m == M_CONTIG)
					probe_contig(&dev, sizes[i], &r);
				else
					probe_pool(m == M_HUGE1G ? SZ_1G : SZ_2M,
						   sizes[i], &r);
				fprintf(out, "%s,%d,%" PRIu64 ",%s,%s,%" PRIu64
					",%" PRIu64 "\n", cond, a, sizes[i],
					method_names[m], r.status, r.ns,
					r.granted);
				fflush(out);
			}
		}
	}
	if (csv)
		fclose(out);
	bench_dev_close(&dev);
	return 0;
}
