// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr-bench setup: what it costs to get a usable registered buffer of a
 * given size, and to give it back, for each backing:
 *
 *   contig    ibv_alloc_contig_mr(): allocate + zero + map (the
 *             CONTIG_BUF object) + register, in one library call (kernel
 *             contiguous back end only); one range up to 2 GiB, extents
 *             of 1 GiB above
 *   contig-buf  the same memory by the buffer calls:
 *             ibv_alloc_contig_buf() + ibv_reg_contig_buf_mr(), released
 *             by ibv_dereg_mr() (dereg_ns) and ibv_free_contig_buf()
 *             (free_ns: the unmap, which frees the pages): where the
 *             release goes
 *   memalign  memalign() + first touch of every 4 KiB page + ibv_reg_mr()
 *   huge2m    mmap(MAP_HUGETLB | MAP_HUGE_2MB) + first touch + ibv_reg_mr()
 *   huge1g    mmap(MAP_HUGETLB | MAP_HUGE_1GB) + first touch + ibv_reg_mr()
 *
 * "First touch" writes one byte in every 4 KiB page of the buffer, for
 * every backing (for contig it finds the pages present: the registration
 * pinned them). The hugetlb pool is reserved before each hugetlb
 * measurement and released after it, outside the timed part (its duration
 * is reported as pool_ns): hugetlb memory is reserved in advance, by
 * definition. Release is deregistration plus freeing (ibv_free_contig_mr()
 * for contig: MR, then buffer).
 *
 * In the same run, for each size: memset() over the already touched and
 * registered memalign buffer -- writing every byte once, the physical lower
 * bound for any back end that hands out zeroed memory (backing "memset").
 *
 * Order: for each repeat, for each size, every backing in turn (A B C D A B
 * C D ...). On the first repeat the MR's device page size and translation
 * entries are read from `rdma -dd resource show mr` (outside the timing).
 *
 * setup_cpu_ns is the busy time of all CPUs together during the set-up
 * (/proc/stat), which counts the kernel's zeroing helpers too: the CPU a
 * buffer costs, against the wall time setup_ns.
 *
 * One CSV row per measurement on stdout (or --csv FILE); see HEADER.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <infiniband/verbs_contig.h>

#include "bench.h"
#include "bench_util.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif

#define HEADER                                                                 \
	"repeat,size,backing,status,map_length,pool_ns,alloc_ns,touch_ns,"     \
	"reg_ns,setup_ns,dereg_ns,free_ns,release_ns,page_size,map_entries,"   \
	"pages_from,setup_cpu_ns"

enum backing { B_CONTIG, B_CONTIG_BUF, B_MEMALIGN, B_HUGE2M, B_HUGE1G, B_COUNT };
static const char *const backing_names[B_COUNT] = {
	"contig", "contig-buf", "memalign", "huge2m", "huge1g",
};

struct sample {
	const char *status;	/* "ok" or an errno name / reason */
	uint64_t map_length;
	uint64_t pool_ns, alloc_ns, touch_ns, reg_ns, dereg_ns, free_ns;
	uint64_t setup_cpu_ns;	/* all CPUs' busy time during set-up */
	uint64_t page_size, map_entries;
	const char *pages_from;	/* rdma, lib or none */
};

struct setup_opts {
	const char *dev;
	uint64_t sizes[BENCH_MAX_SIZES];
	int nsizes;
	bool use[B_COUNT];
	int repeats;
	bool size_major;	/* every round of a size before the next size */
	FILE *out;
};

static void touch(void *buf, uint64_t len)
{
	volatile char *p = buf;
	uint64_t off;

	for (off = 0; off < len; off += SZ_4K)
		p[off] = 1;
}

static void emit(FILE *out, int repeat, uint64_t size, const char *backing,
		 const struct sample *s)
{
	fprintf(out,
		"%d,%" PRIu64 ",%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s,%" PRIu64 "\n",
		repeat, size, backing, s->status, s->map_length, s->pool_ns,
		s->alloc_ns, s->touch_ns, s->reg_ns,
		s->alloc_ns + s->touch_ns + s->reg_ns, s->dereg_ns, s->free_ns,
		s->dereg_ns + s->free_ns, s->page_size, s->map_entries,
		s->pages_from, s->setup_cpu_ns);
	fflush(out);
}

static void query_pages(struct ibv_mr *mr, struct sample *s)
{
	if (!bench_mr_pages(mr->rkey, &s->page_size, &s->map_entries))
		s->pages_from = "rdma";
}

/*
 * One physical range up to 2 GiB, the largest device page rxe takes;
 * beyond it, aligned extents of 1 GiB (one device page each), as a
 * hugetlb buffer of 1 GiB pages is built: no 4 GiB or 16 GiB range is
 * free in any guest here.
 */
static struct ibv_alloc_contig_mr_attr contig_attr(uint64_t size)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
	};

	if (size > 2 * SZ_1G) {
		attr.comp_mask |= IBV_CONTIG_MR_ATTR_MIN_EXTENT;
		attr.min_extent = SZ_1G;
	}
	return attr;
}

static void measure_contig(struct bench_dev *dev, uint64_t size, bool pages,
			   struct sample *s)
{
	struct ibv_alloc_contig_mr_attr attr = contig_attr(size);
	struct ibv_contig_mr_info info = {
		.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
	};
	struct ibv_mr *mr;
	uint64_t t0, t1, cpu0;
	int ret;

	cpu0 = cpu_busy_ns();
	t0 = now_ns();
	mr = ibv_alloc_contig_mr_ex(dev->pd, size, BENCH_ACCESS, &attr);
	t1 = now_ns();
	if (!mr) {
		s->status = bench_err_name(errno);
		return;
	}
	s->alloc_ns = t1 - t0;
	if (!ibv_query_contig_mr(mr, &info)) {
		s->map_length = info.length;
		if (info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES) {
			s->page_size = info.device_page_size;
			s->map_entries = info.map_entries;
			s->pages_from = "lib";
		}
	}
	t0 = now_ns();
	touch(mr->addr, size);
	s->touch_ns = now_ns() - t0;
	s->setup_cpu_ns = cpu_busy_ns() - cpu0;
	if (pages)
		query_pages(mr, s);
	t0 = now_ns();
	ret = ibv_free_contig_mr(mr);
	s->dereg_ns = now_ns() - t0;
	s->status = ret ? bench_err_name(ret) : "ok";
}

/*
 * The same memory through the buffer calls: the release in two parts, as
 * for memalign: deregistration (the MR's unpin) and the buffer's free
 * (its unmap, where its pages go back).
 */
static void measure_contig_buf(struct bench_dev *dev, uint64_t size,
			       bool pages, struct sample *s)
{
	struct ibv_alloc_contig_mr_attr attr = contig_attr(size);
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr;
	uint64_t t0, cpu0;
	int ret;

	cpu0 = cpu_busy_ns();
	t0 = now_ns();
	ret = ibv_alloc_contig_buf(dev->pd, size, &attr, &buf);
	s->alloc_ns = now_ns() - t0;
	if (ret) {
		s->status = bench_err_name(ret);
		return;
	}
	s->map_length = buf->length;
	t0 = now_ns();
	touch(buf->addr, size);
	s->touch_ns = now_ns() - t0;
	t0 = now_ns();
	mr = ibv_reg_contig_buf_mr(dev->pd, buf, buf->addr, size,
				   BENCH_ACCESS);
	s->reg_ns = now_ns() - t0;
	s->setup_cpu_ns = cpu_busy_ns() - cpu0;
	if (!mr) {
		s->status = bench_err_name(errno);
		ibv_free_contig_buf(buf);
		return;
	}
	if (pages)
		query_pages(mr, s);
	t0 = now_ns();
	ret = ibv_dereg_mr(mr);
	s->dereg_ns = now_ns() - t0;
	t0 = now_ns();
	ret = ret ? ret : ibv_free_contig_buf(buf);
	s->free_ns = now_ns() - t0;
	s->status = ret ? bench_err_name(ret) : "ok";
}

static void measure_memalign(struct bench_dev *dev, uint64_t size, bool pages,
			     struct sample *s, uint64_t *memset_ns)
{
	struct ibv_mr *mr;
	uint64_t t0, cpu0;
	void *buf;

	s->map_length = size;
	cpu0 = cpu_busy_ns();
	t0 = now_ns();
	buf = memalign(SZ_4K, size);
	s->alloc_ns = now_ns() - t0;
	if (!buf) {
		s->status = bench_err_name(errno);
		return;
	}
	t0 = now_ns();
	touch(buf, size);
	s->touch_ns = now_ns() - t0;
	t0 = now_ns();
	mr = ibv_reg_mr(dev->pd, buf, size, BENCH_ACCESS);
	s->reg_ns = now_ns() - t0;
	s->setup_cpu_ns = cpu_busy_ns() - cpu0;
	if (!mr) {
		s->status = bench_err_name(errno);
		free(buf);
		return;
	}
	if (pages)
		query_pages(mr, s);
	/* The physical bound, over the same, already present pages. */
	t0 = now_ns();
	memset(buf, 0x5a, size);
	*memset_ns = now_ns() - t0;
	t0 = now_ns();
	ibv_dereg_mr(mr);
	s->dereg_ns = now_ns() - t0;
	t0 = now_ns();
	free(buf);
	s->free_ns = now_ns() - t0;
	s->status = "ok";
}

static void measure_hugetlb(struct bench_dev *dev, uint64_t size,
			    uint64_t page, bool pages, struct sample *s)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		    (page == SZ_1G ? MAP_HUGE_1GB : MAP_HUGE_2MB);
	uint64_t len = (size + page - 1) / page * page, t0, cpu0;
	unsigned long need = len / page;
	long base = hugetlb_get_pool(page), got;
	struct ibv_mr *mr;
	void *buf;

	s->map_length = len;
	if (base < 0) {
		s->status = "no-hugetlb";
		return;
	}
	t0 = now_ns();
	got = hugetlb_set_pool(page, (unsigned long)base + need);
	s->pool_ns = now_ns() - t0;
	if (got < 0 || hugetlb_free_pages(page) < (long)need) {
		s->status = "pool-short";
		goto out_pool;
	}
	cpu0 = cpu_busy_ns();
	t0 = now_ns();
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	s->alloc_ns = now_ns() - t0;
	if (buf == MAP_FAILED) {
		s->status = bench_err_name(errno);
		goto out_pool;
	}
	t0 = now_ns();
	touch(buf, size);
	s->touch_ns = now_ns() - t0;
	t0 = now_ns();
	mr = ibv_reg_mr(dev->pd, buf, size, BENCH_ACCESS);
	s->reg_ns = now_ns() - t0;
	s->setup_cpu_ns = cpu_busy_ns() - cpu0;
	if (!mr) {
		s->status = bench_err_name(errno);
		munmap(buf, len);
		goto out_pool;
	}
	if (pages)
		query_pages(mr, s);
	t0 = now_ns();
	ibv_dereg_mr(mr);
	s->dereg_ns = now_ns() - t0;
	t0 = now_ns();
	munmap(buf, len);
	s->free_ns = now_ns() - t0;
	s->status = "ok";
out_pool:
	hugetlb_set_pool(page, (unsigned long)base);
}

static int run(const struct setup_opts *o)
{
	/*
	 * rdma's view of the MR is read once per size and backing, from the
	 * first round in which that allocation succeeded (a 2 GiB contiguous
	 * MR can fail in round 0 and succeed later).
	 */
	bool have_pages[BENCH_MAX_SIZES][B_COUNT] = { { false } };
	struct bench_dev dev;
	int ret, r, i, b, outer, inner;

	ret = bench_dev_open(o->dev, &dev);
	if (ret) {
		fprintf(stderr, "cmr-bench setup: cannot open device %s: %s\n",
			o->dev ? o->dev : "(first)", strerror(ret));
		return 1;
	}
	fprintf(o->out, "%s\n", HEADER);
	for (outer = 0; outer < (o->size_major ? o->nsizes : o->repeats);
	     outer++) {
		for (inner = 0;
		     inner < (o->size_major ? o->repeats : o->nsizes);
		     inner++) {
			uint64_t size, memset_ns = 0;

			r = o->size_major ? inner : outer;
			i = o->size_major ? outer : inner;
			size = o->sizes[i];

			for (b = 0; b < B_COUNT; b++) {
				struct sample s = { .status = "?",
						    .pages_from = "none" };
				bool pages = !have_pages[i][b];

				if (!o->use[b])
					continue;
				switch (b) {
				case B_CONTIG:
					measure_contig(&dev, size, pages, &s);
					break;
				case B_CONTIG_BUF:
					measure_contig_buf(&dev, size, pages,
							   &s);
					break;
				case B_MEMALIGN:
					measure_memalign(&dev, size, pages, &s,
							 &memset_ns);
					break;
				case B_HUGE2M:
					measure_hugetlb(&dev, size, SZ_2M,
							pages, &s);
					break;
				case B_HUGE1G:
					measure_hugetlb(&dev, size, SZ_1G,
							pages, &s);
					break;
				}
				have_pages[i][b] |= !strcmp(s.pages_from, "rdma");
				emit(o->out, r, size, backing_names[b], &s);
			}
			if (memset_ns) {
				struct sample s = { .status = "ok",
						    .map_length = size,
						    .alloc_ns = memset_ns,
						    .pages_from = "none" };

				emit(o->out, r, size, "memset", &s);
			}
		}
	}
	bench_dev_close(&dev);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cmr-bench setup [--dev NAME] [--sizes LIST] "
		"[--backings LIST] [--repeats N] [--size-major] [--csv FILE]\n"
		"  --sizes     comma-separated sizes (default "
		"2M,8M,32M,128M,512M,1G,2G)\n"
		"  --backings  contig,contig-buf,memalign,huge2m,huge1g "
		"(default: all)\n"
		"  --repeats   rounds over every size and backing (default 3)\n"
		"  --size-major  every round of a size before the next size\n"
		"              (default: every size in each round)\n"
		"  --csv       write the rows here instead of stdout\n");
}

int cmd_setup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "backings", required_argument, NULL, 'b' },
		{ "repeats", required_argument, NULL, 'r' },
		{ "size-major", no_argument, NULL, 'm' },
		{ "csv", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct setup_opts o = { .repeats = 3, .out = stdout };
	const char *sizes = "2M,8M,32M,128M,512M,1G,2G";
	const char *backings = "contig,contig-buf,memalign,huge2m,huge1g";
	const char *csv = NULL;
	char *copy, *tok, *save = NULL;
	int c, b, ret;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.dev = optarg;
			break;
		case 's':
			sizes = optarg;
			break;
		case 'b':
			backings = optarg;
			break;
		case 'r':
			o.repeats = atoi(optarg);
			break;
		case 'm':
			o.size_major = true;
			break;
		case 'o':
			csv = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/*
	 * A fixed threshold: every buffer is a fresh mmap() that free()
	 * unmaps. glibc's dynamic threshold would otherwise move buffers of
	 * up to 32 MiB to the heap after the first free(), and the next
	 * "first touch" would find its pages already there.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	o.nsizes = parse_sizes(sizes, o.sizes, BENCH_MAX_SIZES);
	if (o.nsizes < 0 || o.repeats < 1 || optind != argc) {
		usage(stderr);
		return 2;
	}
	copy = strdup(backings);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (b = 0; b < B_COUNT && strcmp(tok, backing_names[b]); b++)
			;
		if (b == B_COUNT) {
			fprintf(stderr, "cmr-bench setup: unknown backing %s\n",
				tok);
			free(copy);
			return 2;
		}
		o.use[b] = true;
	}
	free(copy);
	if (csv) {
		o.out = fopen(csv, "w");
		if (!o.out) {
			perror(csv);
			return 1;
		}
	}
	ret = run(&o);
	if (csv && fclose(o.out))
		ret = 1;
	return ret;
}
