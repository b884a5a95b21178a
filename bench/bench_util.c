// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "cmr_test.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cpu_busy_ns(void)
{
	unsigned long long v[8] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return 0;
	/* cpu user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8 || hz <= 0)
		return 0;
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) *
	       (1000000000ull / (unsigned long long)hz);
}

int parse_sizes(const char *text, uint64_t *sizes, int max)
{
	char *copy = strdup(text), *tok, *save = NULL;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max || t_parse_size(tok, &sizes[n]) || !sizes[n]) {
			free(copy);
			return -1;
		}
		n++;
	}
	free(copy);
	return n ? n : -1;
}

const char *size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", bytes, units[u]);
	return buf;
}

int bench_dev_open(const char *name, struct bench_dev *dev)
{
	struct ibv_device **list;
	int i, n;

	memset(dev, 0, sizeof(*dev));
	if (!name)
		name = getenv("CMR_RXE");
	list = ibv_get_device_list(&n);
	if (!list)
		return errno ? errno : ENODEV;
	for (i = 0; i < n; i++) {
		if (name && *name && strcmp(ibv_get_device_name(list[i]), name))
			continue;
		dev->ctx = ibv_open_device(list[i]);
		snprintf(dev->name, sizeof(dev->name), "%s",
			 ibv_get_device_name(list[i]));
		break;
	}
	ibv_free_device_list(list);
	if (!dev->ctx)
		return ENODEV;
	dev->pd = ibv_alloc_pd(dev->ctx);
	if (!dev->pd) {
		int err = errno;

		ibv_close_device(dev->ctx);
		dev->ctx = NULL;
		return err;
	}
	return 0;
}

void bench_dev_close(struct bench_dev *dev)
{
	if (dev->pd)
		ibv_dealloc_pd(dev->pd);
	if (dev->ctx)
		ibv_close_device(dev->ctx);
	memset(dev, 0, sizeof(*dev));
}

int bench_mr_pages(uint32_t rkey, uint64_t *page_size, uint64_t *entries)
{
	return t_rdma_mr_pages(NULL, "rkey", rkey, page_size, entries, NULL,
			       0) ? ENOENT : 0;
}

int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -1;
	if (fputs(text, f) < 0)
		ret = -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void pool_path(char *buf, size_t len, uint64_t page_size,
		      const char *file)
{
	snprintf(buf, len, "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/%s",
		 page_size >> 10, file);
}

long hugetlb_set_pool(uint64_t page_size, unsigned long nr)
{
	char path[128], text[32];

	pool_path(path, sizeof(path), page_size, "nr_hugepages");
	snprintf(text, sizeof(text), "%lu\n", nr);
	/* A partial grant is not an error for the kernel: read it back. */
	if (write_file(path, text) && errno != ENOMEM && errno != EINVAL)
		return -1;
	return read_long(path);
}

long hugetlb_get_pool(uint64_t page_size)
{
	char path[128];

	pool_path(path, sizeof(path), page_size, "nr_hugepages");
	return read_long(path);
}

long hugetlb_free_pages(uint64_t page_size)
{
	char path[128];

	pool_path(path, sizeof(path), page_size, "free_hugepages");
	return read_long(path);
}

/* The top-level "System RAM" ranges of /proc/iomem, [start, end). */
int bench_ram_ranges(uint64_t (*r)[2], int max)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	uint64_t a, b;
	int n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		/* Nested lines (kernel code, ...) are indented. */
		if (line[0] == ' ' || !strstr(line, ": System RAM"))
			continue;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) != 2 || b <= a)
			continue;
		r[n][0] = a;
		r[n][1] = b + 1;
		n++;
	}
	fclose(f);
	return n;
}

const char *bench_err_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "error";
}
