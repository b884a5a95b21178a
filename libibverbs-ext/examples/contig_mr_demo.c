// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * ibv_contig_mr_demo: allocate a physically contiguous MR with
 * ibv_alloc_contig_mr(), show what it is and what it is charged as, read
 * it back with RDMA READ over a loopback RC QP pair on the same device,
 * check every byte, free it.
 *
 *   ibv_contig_mr_demo [-d DEVICE] [-r READ_BYTES] [-x COMMAND] [SIZE]
 *
 * SIZE defaults to 1G (suffixes K, M, G); READ_BYTES (default: SIZE) is how
 * much of the region is read back and checked: all of it, or slices of up
 * to 16 MiB spread evenly from its first to its last byte. COMMAND is run
 * with the shell while the MR exists (for instance `rdma resource show mr
 * -dd` to see the device's view of it). The policy comes from the
 * environment (IBV_CONTIG_MR_ALLOC_TYPE=CONTIG|ALL|HUGE), as for any
 * program.
 *
 * The accounting is printed before the allocation, while the MR exists
 * and after ibv_free_contig_mr(): VmLck (the buffer, charged as locked
 * memory) and VmPin (the MR's pin) of /proc/self/status, and
 * memory.current of the process's cgroup when that is a non-root cgroup v2
 * group with the memory controller.
 *
 * Exit status: 0 success, 1 failure, 77 no device or no support for
 * contiguous MRs in the kernel.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <infiniband/verbs_contig.h>

#include "loopback.h"
#include "procfs.h"

#define BOUNCE_SIZE (16u << 20)
#define SEED 0xc0a7ull
#define TIMEOUT_MS 120000

static const char *backend_name(uint32_t backend)
{
	switch (backend) {
	case IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG:
		return "kernel contiguous allocation";
	case IBV_CONTIG_MR_BACKEND_HUGETLB_1G:
		return "hugetlb 1 GiB pages";
	case IBV_CONTIG_MR_BACKEND_HUGETLB_2M:
		return "hugetlb 2 MiB pages";
	default:
		return "unknown";
	}
}

static void print_size(const char *what, uint64_t bytes)
{
	if (bytes >= (1ull << 30) && !(bytes % (1ull << 30)))
		printf("  %-22s %" PRIu64 " GiB\n", what, bytes >> 30);
	else if (bytes >= (1ull << 20) && !(bytes % (1ull << 20)))
		printf("  %-22s %" PRIu64 " MiB\n", what, bytes >> 20);
	else if (bytes >= (1ull << 10) && !(bytes % (1ull << 10)))
		printf("  %-22s %" PRIu64 " KiB\n", what, bytes >> 10);
	else
		printf("  %-22s %" PRIu64 " bytes\n", what, bytes);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* SIZE with an optional K, M or G suffix (powers of 1024). 0, or -1. */
static int parse_size(const char *s, size_t *out)
{
	static const char suffixes[] = "KMG";
	unsigned long long v;
	unsigned int shift = 0;
	const char *unit;
	char *end;

	/*
	 * strtoull() skips leading white space and then negates a '-' into a
	 * huge value: a size starts with its first digit or is not one.
	 */
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end) {
		unit = strchr(suffixes, *end & ~0x20);
		if (!unit || end[1])
			return -1;
		shift = 10 * (unsigned int)(unit - suffixes + 1);
	}
	if (v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)v << shift;
	return 0;
}

/*
 * The data pattern: a 64-bit word per 8 bytes of the region, a function of
 * the word's index, so that a slice read from the wrong place, or twice,
 * does not match. Stored little-endian whatever the host.
 */
static uint64_t pattern_word(size_t off)
{
	return htole64(((uint64_t)(off >> 3) + 1) * 0x9e3779b97f4a7c15ull ^
		       SEED);
}

static void pattern_fill(uint8_t *buf, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += 8) {
		uint64_t w = pattern_word(off);

		memcpy(buf + off, &w, len - off < 8 ? len - off : 8);
	}
}

/* The offset in buf of the first byte that differs from the pattern at off, or -1. */
static long long pattern_check(const uint8_t *buf, size_t len, size_t off)
{
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!i || !((off + i) & 7))
			w = pattern_word(off + i);
		if (buf[i] != ((const uint8_t *)&w)[(off + i) & 7])
			return (long long)i;
	}
	return -1;
}

/* The offset of the first byte that is not zero, or -1. */
static long long first_nonzero(const uint8_t *buf, size_t len)
{
	static const uint8_t zero[4096];
	size_t off, n, i;

	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(zero) ? len - off : sizeof(zero);
		if (!memcmp(buf + off, zero, n))
			continue;
		for (i = 0; buf[off + i] == 0; i++)
			;
		return (long long)(off + i);
	}
	return -1;
}

struct accounting {
	long long vmlck_kb;	/* the buffer: locked memory */
	long long vmpin_kb;	/* the MR: pinned memory */
	long long memcg_bytes;	/* the cgroup's memory.current, or -1 */
};

static void accounting_read(struct accounting *a, const char *memcg_file)
{
	a->vmlck_kb = proc_kb("/proc/self/status", "VmLck");
	a->vmpin_kb = proc_kb("/proc/self/status", "VmPin");
	a->memcg_bytes = memcg_file[0] ? read_number(memcg_file) : -1;
}

/* One line; with base, the change since base in parentheses. */
static void accounting_print(const char *when, const struct accounting *a,
			     const struct accounting *base)
{
	printf("accounting %-26s VmLck %lld kB, VmPin %lld kB", when,
	       a->vmlck_kb, a->vmpin_kb);
	if (a->memcg_bytes >= 0)
		printf(", memory.current %lld kB", a->memcg_bytes >> 10);
	if (base) {
		printf(" (%+lld kB, %+lld kB", a->vmlck_kb - base->vmlck_kb,
		       a->vmpin_kb - base->vmpin_kb);
		if (a->memcg_bytes >= 0 && base->memcg_bytes >= 0)
			printf(", %+lld kB",
			       (a->memcg_bytes - base->memcg_bytes) >> 10);
		printf(")");
	}
	printf("\n");
}

/*
 * The device called name, or the first one, into *ctx. 0; 77 when there is
 * no such device; 1 when it cannot be opened. A message on stderr but for 0.
 */
static int open_device(const char *name, struct ibv_context **ctx)
{
	struct ibv_device **list, *dev = NULL;
	int i, n, ret = 0;

	*ctx = NULL;
	list = ibv_get_device_list(&n);
	if (!list) {
		fprintf(stderr, "no RDMA device (ibv_get_device_list: %s)\n",
			strerror(errno));
		return 77;
	}
	for (i = 0; i < n && !dev; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			dev = list[i];
	if (!dev) {
		fprintf(stderr, "no RDMA device%s%s\n", name ? " " : "",
			name ? name : "");
		ret = 77;
	} else {
		*ctx = ibv_open_device(dev);
		if (*ctx) {
			printf("device: %s\n", ibv_get_device_name(dev));
		} else {
			fprintf(stderr, "ibv_open_device(%s): %s\n",
				ibv_get_device_name(dev), strerror(errno));
			ret = 1;
		}
	}
	ibv_free_device_list(list);
	return ret;
}

static int usage(const char *argv0, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-d DEVICE] [-r READ_BYTES] [-x COMMAND] [SIZE]\n"
		"  SIZE        bytes to allocate (default 1G; K, M, G)\n"
		"  DEVICE      RDMA device (default: the first one)\n"
		"  READ_BYTES  bytes to read back by RDMA and check, in\n"
		"              slices spread over the region (default SIZE)\n"
		"  COMMAND     shell command to run while the MR exists\n",
		argv0);
	return status;
}

/*
 * RDMA READ bytes of the region into a registered bounce buffer, slice by
 * slice, and check them. When bytes is less than the region the slices are
 * spread evenly over it, first and last byte included.
 */
static int read_back(struct loopback *loop, struct ibv_mr *cmr, size_t bytes)
{
	size_t nslices = (bytes + BOUNCE_SIZE - 1) / BOUNCE_SIZE;
	/*
	 * Rounded up: rounded down, the last slice takes the remainder on
	 * top of a full slice and may not fit the bounce buffer.
	 */
	size_t slice = (bytes + nslices - 1) / nslices, k, off;
	struct ibv_mr *bounce_mr;
	double t0, last, secs;
	long long bad;
	void *bounce;
	int ret = -1, err;

	bounce = aligned_alloc(4096, BOUNCE_SIZE);
	if (!bounce) {
		perror("aligned_alloc(bounce buffer)");
		return -1;
	}
	bounce_mr = ibv_reg_mr(cmr->pd, bounce, BOUNCE_SIZE,
			       IBV_ACCESS_LOCAL_WRITE);
	if (!bounce_mr) {
		perror("ibv_reg_mr(bounce buffer)");
		goto out_free;
	}

	t0 = last = now();
	for (k = 0; k < nslices; k++) {
		size_t n = k == nslices - 1 ? bytes - slice * k : slice;

		if (bytes >= cmr->length || nslices == 1)
			off = slice * k;	/* one after the other */
		else if (k == nslices - 1)
			off = cmr->length - n;	/* ends at the last byte */
		else
			off = (cmr->length - n) / (nslices - 1) * k;
		if (now() - last >= 10) {
			last = now();
			printf("  ... %zu of %zu MiB read back (%.1f MB/s)\n",
			       (slice * k) >> 20, bytes >> 20,
			       slice * k / (last - t0) / 1e6);
			fflush(stdout);
		}
		memset(bounce, 0, n);
		err = loopback_read(loop, bounce, bounce_mr->lkey,
				    (uintptr_t)cmr->addr + off, cmr->rkey,
				    (uint32_t)n, TIMEOUT_MS);
		if (err == LOOPBACK_IN_FLIGHT) {
			fprintf(stderr, "RDMA READ at offset %zu failed; the "
				"device may still write to the bounce buffer, "
				"leaking it and its MR\n", off);
			return -1;
		}
		if (err) {
			fprintf(stderr, "RDMA READ at offset %zu failed\n", off);
			goto out_dereg;
		}
		bad = pattern_check(bounce, n, off);
		if (bad >= 0) {
			fprintf(stderr, "data mismatch at offset %zu\n",
				off + (size_t)bad);
			goto out_dereg;
		}
	}
	secs = now() - t0;
	printf("RDMA READ of %zu bytes through rkey 0x%x%s: every byte matches "
	       "(%.1f s, %.1f MB/s)\n", bytes, cmr->rkey,
	       bytes >= cmr->length ? " (all of it)" :
	       nslices > 1 ? " (slices spread over the region)" :
			     " (the start of the region)",
	       secs, secs > 0 ? bytes / secs / 1e6 : 0.0);
	ret = 0;

out_dereg:
	err = ibv_dereg_mr(bounce_mr);
	if (err) {
		/* Still registered, the memory is still the device's. */
		fprintf(stderr, "ibv_dereg_mr(bounce buffer): %s; leaking the "
			"buffer\n", strerror(err));
		return -1;
	}
out_free:
	free(bounce);
	return ret;
}

int main(int argc, char **argv)
{
	const char *devname = NULL, *command = NULL;
	size_t size = 1ul << 30, read_bytes = 0;
	struct ibv_contig_mr_info info;
	long long memfree0, memfree1, memfree2, contig;
	struct accounting acct0, acct1, acct2;
	char memcg_file[PATH_MAX];
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct loopback loop;
	double t0;
	int opt, err, ret = 1;

	while ((opt = getopt(argc, argv, "d:r:x:h")) != -1) {
		switch (opt) {
		case 'd':
			devname = optarg;
			break;
		case 'x':
			command = optarg;
			break;
		case 'r':
			if (parse_size(optarg, &read_bytes))
				return usage(argv[0], 1);
			break;
		case 'h':
			return usage(argv[0], 0);
		default:
			return usage(argv[0], 1);
		}
	}
	if (optind < argc && parse_size(argv[optind++], &size))
		return usage(argv[0], 1);
	if (optind != argc || !size)
		return usage(argv[0], 1);
	if (!read_bytes || read_bytes > size)
		read_bytes = size;

	ret = open_device(devname, &ctx);
	if (ret)
		return ret;
	ret = 1;
	pd = ibv_alloc_pd(ctx);
	if (!pd) {
		perror("ibv_alloc_pd");
		goto out_close;
	}

	cgroup_memory_file(memcg_file, sizeof(memcg_file));
	if (memcg_file[0])
		printf("memory cgroup: %s\n", memcg_file);
	else
		printf("memory cgroup: not shown (no cgroup v2 group with the "
		       "memory controller, or the root group)\n");
	accounting_read(&acct0, memcg_file);
	accounting_print("before allocation:", &acct0, NULL);

	memfree0 = proc_kb("/proc/meminfo", "MemFree");
	t0 = now();
	mr = ibv_alloc_contig_mr(pd, size, IBV_ACCESS_LOCAL_WRITE |
						   IBV_ACCESS_REMOTE_READ |
						   IBV_ACCESS_REMOTE_WRITE);
	if (!mr) {
		err = errno;
		fprintf(stderr, "ibv_alloc_contig_mr(%zu bytes): %s\n", size,
			strerror(err));
		if (err == EOPNOTSUPP) {
			fprintf(stderr, "the kernel has no contiguous MRs; "
					"IBV_CONTIG_MR_ALLOC_TYPE=ALL falls "
					"back to hugetlb pages\n");
			ret = 77;
		}
		goto out_pd;
	}
	memfree1 = proc_kb("/proc/meminfo", "MemFree");
	accounting_read(&acct1, memcg_file);

	printf("allocated in %.3f s:\n", now() - t0);
	printf("  %-22s %p\n", "address", mr->addr);
	printf("  %-22s 0x%x\n", "lkey", mr->lkey);
	printf("  %-22s 0x%x\n", "rkey", mr->rkey);
	print_size("length", mr->length);

	info.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES |
			 IBV_CONTIG_MR_INFO_NUMA_NODE;
	err = ibv_query_contig_mr(mr, &info);
	if (err) {
		fprintf(stderr, "ibv_query_contig_mr: %s\n", strerror(err));
		goto out_mr;
	}
	printf("  %-22s %s\n", "backend", backend_name(info.backend));
	print_size("mapped", info.length);
	print_size("contiguous extents of", info.contig_extent);
	print_size("alignment (va = pa)", info.alignment);
	if (info.comp_mask & IBV_CONTIG_MR_INFO_NUMA_NODE)
		printf("  %-22s %d\n", "NUMA node", info.numa_node);
	else
		printf("  %-22s unknown\n", "NUMA node");
	if (info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES) {
		print_size("device page size", info.device_page_size);
		printf("  %-22s %" PRIu64 "\n", "device map entries",
		       info.map_entries);
	} else {
		printf("  %-22s unknown (needs CAP_NET_ADMIN and a driver "
		       "that reports it)\n", "device page size");
	}
	contig = phys_contig_bytes(mr->addr, info.length);
	if (contig >= 0)
		print_size("physically contiguous", (uint64_t)contig);
	else
		printf("  %-22s not visible in /proc/self/pagemap\n",
		       "physically contiguous");
	accounting_print("with the MR:", &acct1, &acct0);

	if (command) {
		int st;

		printf("$ %s\n", command);
		fflush(stdout);
		st = system(command);
		if (st == -1)
			fprintf(stderr, "(system() could not run the command: "
				"%s)\n", strerror(errno));
		else if (WIFSIGNALED(st))
			fprintf(stderr, "(the command was killed by signal "
				"%d)\n", WTERMSIG(st));
		else if (st)
			fprintf(stderr, "(the command exited with status %d)\n",
				WEXITSTATUS(st));
		fflush(stderr);
	}

	if (first_nonzero(mr->addr, mr->length) >= 0) {
		fprintf(stderr, "the new region is not zeroed\n");
		goto out_mr;
	}
	printf("the region reads as zeroes; filling it with a pattern\n");
	pattern_fill(mr->addr, mr->length);

	if (loopback_create(&loop, pd)) {
		fprintf(stderr, "loopback QP set-up failed\n");
		goto out_mr;
	}
	ret = read_back(&loop, mr, read_bytes) ? 1 : 0;
	loopback_destroy(&loop);

out_mr:
	err = ibv_free_contig_mr(mr);
	if (err) {
		fprintf(stderr, "ibv_free_contig_mr: %s\n", strerror(err));
		ret = 1;
	}
	memfree2 = proc_kb("/proc/meminfo", "MemFree");
	accounting_read(&acct2, memcg_file);
	printf("MemFree: %lld MiB before, %lld MiB allocated, %lld MiB after "
	       "ibv_free_contig_mr\n", memfree0 / 1024, memfree1 / 1024,
	       memfree2 / 1024);
	accounting_print("after ibv_free_contig_mr:", &acct2, &acct0);
out_pd:
	/* EBUSY after read_back() leaked its MR on purpose. */
	err = ibv_dealloc_pd(pd);
	if (err) {
		fprintf(stderr, "ibv_dealloc_pd: %s\n", strerror(err));
		ret = 1;
	}
out_close:
	ibv_close_device(ctx);
	if (!ret)
		printf("demo: OK\n");
	return ret;
}
