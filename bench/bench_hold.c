// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr-bench hold: how many buffers of a size can be held at once, against
 * what the memory map allows and what run-time hugetlb pool growth gets.
 *
 * For each size, per repeat, in this order:
 *
 *   windows     naturally aligned ranges of the size that lie inside one
 *               "System RAM" range of /proc/iomem: the most any allocator
 *               of single aligned ranges can hold; and how many of them
 *               hold no reserved page (/proc/kpageflags), which no
 *               allocator can have
 *   contig      ibv_alloc_contig_mr() (one range, policy CONTIG) until it
 *               fails, all held, then all freed
 *   contig-ext  the same with IBV_CONTIG_MR_ATTR_MIN_EXTENT of half the
 *               size: each buffer may be made of two aligned extents
 *   huge1g      nr_hugepages of the 1 GiB pool raised to the number of
 *               windows at 1 GiB plus one, and what it got, in buffers of
 *               the size (1 GiB pages per buffer: size / 1 GiB); shrunk
 *               back after. Sizes that are not a multiple of 1 GiB: n/a.
 *
 * One CSV row per (repeat, size, method): how many were held, why the
 * next one failed (errno name, "limit" when --max was reached, "n/a"),
 * and how long taking them all took. --max caps the contiguous buffers
 * held (the smoke run's guest shares its boot with other tests: as root,
 * without RLIMIT_MEMLOCK, the allocations would otherwise take nearly
 * all of its memory).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "bench.h"
#include "bench_util.h"

#define HEADER "repeat,size,method,held,status,windows,windows_unreserved,ns"
/* More buffers than any guest here can hold of the smallest size. */
#define HOLD_MAX 256

enum method { H_CONTIG, H_CONTIG_EXT, H_HUGE1G, H_COUNT };
static const char *const method_names[H_COUNT] = { "contig", "contig-ext",
						   "huge1g" };

struct hold_result {
	long held;
	const char *status;
	uint64_t ns;
};

/*
 * /proc/kpageflags bit 32, KPF_RESERVED: include/linux/kernel-page-flags.h
 * (the kernel's own bits, beyond the uapi's), set for PageReserved pages:
 * memblock allocations such as the memmap, firmware ranges. Neither
 * migration nor anything else frees them.
 */
#define KPF_RESERVED_BIT 32

/* Does [start, start + size) hold a reserved page? 1, 0, or -1: unknown. */
static int window_reserved(int fd, uint64_t start, uint64_t size)
{
	uint64_t flags[512], pfn = start / SZ_4K, end = (start + size) / SZ_4K;
	size_t i, n;

	for (; pfn < end; pfn += n) {
		n = end - pfn < 512 ? end - pfn : 512;
		if (pread(fd, flags, n * 8, (off_t)(pfn * 8)) != (ssize_t)(n * 8))
			return -1;
		for (i = 0; i < n; i++)
			if (flags[i] >> KPF_RESERVED_BIT & 1)
				return 1;
	}
	return 0;
}

/*
 * Naturally aligned windows of @size inside one System RAM range; in
 * *@clear those of them without a reserved page (-1: kpageflags is not
 * readable).
 */
static uint64_t windows_of(uint64_t size, long *clear)
{
	uint64_t ram[BENCH_RAM_MAX][2], n = 0, a;
	int i, nram = bench_ram_ranges(ram, BENCH_RAM_MAX);
	int fd = clear ? open("/proc/kpageflags", O_RDONLY) : -1;

	if (clear)
		*clear = fd < 0 ? -1 : 0;
	for (i = 0; i < nram; i++) {
		for (a = (ram[i][0] + size - 1) / size * size;
		     a + size <= ram[i][1]; a += size) {
			n++;
			if (fd < 0 || *clear < 0)
				continue;
			switch (window_reserved(fd, a, size)) {
			case 0:
				++*clear;
				break;
			case -1:
				*clear = -1;
				break;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	return n;
}

static void hold_contig(struct bench_dev *dev, uint64_t size, bool extents,
			long max, struct hold_result *r)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
	};
	struct ibv_mr *mr[HOLD_MAX];
	uint64_t t0 = now_ns();
	long i;

	if (extents) {
		attr.comp_mask |= IBV_CONTIG_MR_ATTR_MIN_EXTENT;
		attr.min_extent = size / 2;
	}
	r->status = "limit";
	for (r->held = 0; r->held < max; r->held++) {
		mr[r->held] = ibv_alloc_contig_mr_ex(dev->pd, size, BENCH_ACCESS,
						     &attr);
		if (!mr[r->held]) {
			r->status = bench_err_name(errno);
			break;
		}
	}
	r->ns = now_ns() - t0;
	for (i = 0; i < r->held; i++)
		ibv_free_contig_mr(mr[i]);
}

/* windows_1g: the memory map's 1 GiB windows; the pool is asked for one more. */
static void hold_pool(uint64_t size, uint64_t windows_1g,
		      struct hold_result *r)
{
	long base = hugetlb_get_pool(SZ_1G), got;
	uint64_t t0;

	r->held = 0;
	if (size % SZ_1G) {
		r->status = "n/a";
		return;
	}
	if (base < 0) {
		r->status = "no-hugetlb";
		return;
	}
	t0 = now_ns();
	got = hugetlb_set_pool(SZ_1G, (unsigned long)(base + windows_1g + 1));
	r->ns = now_ns() - t0;
	if (got < 0) {
		r->status = bench_err_name(errno);
		return;
	}
	/* Pages the pool got; a buffer of the size takes size / 1 GiB. The
	 * request exceeds the windows: "short" is the expected outcome. */
	r->held = (got - base) / (long)(size / SZ_1G);
	r->status = got > base + (long)windows_1g ? "ok" : "short";
	hugetlb_set_pool(SZ_1G, (unsigned long)base);
}

int cmd_hold(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "repeats", required_argument, NULL, 'n' },
		{ "max", required_argument, NULL, 'm' },
		{ "csv", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sizes_arg = "1G,2G", *dev_name = NULL, *csv = NULL;
	int c, nsizes, repeats = 3, rep, i, m, ret;
	long max = HOLD_MAX, clear[BENCH_MAX_SIZES];
	uint64_t sizes[BENCH_MAX_SIZES], wins[BENCH_MAX_SIZES], ram[1][2];
	uint64_t windows_1g;
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
			repeats = atoi(optarg);
			break;
		case 'm':
			max = atol(optarg);
			break;
		case 'o':
			csv = optarg;
			break;
		case 'h':
			printf("usage: cmr-bench hold [--dev NAME] [--sizes LIST] "
			       "[--repeats N] [--max N] [--csv FILE]\n");
			return 0;
		default:
			return 2;
		}
	}
	nsizes = parse_sizes(sizes_arg, sizes, BENCH_MAX_SIZES);
	if (nsizes < 1 || repeats < 1 || max < 1 || max > HOLD_MAX ||
	    optind != argc) {
		fprintf(stderr, "cmr-bench hold: bad arguments\n");
		return 2;
	}
	if (!bench_ram_ranges(ram, 1)) {
		fprintf(stderr, "cmr-bench hold: no System RAM in /proc/iomem "
			"(addresses need root)\n");
		return 1;
	}
	ret = bench_dev_open(dev_name, &dev);
	if (ret) {
		fprintf(stderr, "cmr-bench hold: device: %s\n", strerror(ret));
		return 1;
	}
	if (csv && !(out = fopen(csv, "w"))) {
		perror(csv);
		bench_dev_close(&dev);
		return 1;
	}
	/* The memory map and its reserved pages do not change: count once. */
	windows_1g = windows_of(SZ_1G, NULL);
	for (i = 0; i < nsizes; i++)
		wins[i] = windows_of(sizes[i], &clear[i]);
	fprintf(out, "%s\n", HEADER);
	for (rep = 0; rep < repeats; rep++) {
		for (i = 0; i < nsizes; i++) {
			for (m = 0; m < H_COUNT; m++) {
				struct hold_result r = { .status = "?" };

				if (m == H_HUGE1G)
					hold_pool(sizes[i], windows_1g, &r);
				else
					hold_contig(&dev, sizes[i],
						    m == H_CONTIG_EXT, max, &r);
				fprintf(out, "%d,%" PRIu64 ",%s,%ld,%s,%" PRIu64
					",%ld,%" PRIu64 "\n", rep, sizes[i],
					method_names[m], r.held, r.status,
					wins[i], clear[i], r.ns);
				fflush(out);
			}
		}
	}
	if (csv)
		fclose(out);
	bench_dev_close(&dev);
	return 0;
}
