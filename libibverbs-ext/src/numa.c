// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The default NUMA node of a hugetlb allocation: the device's, else the
 * caller's. (The kernel back end leaves the choice to the kernel, which
 * also knows the task's memory policy and cpuset.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "contig_mr.h"

/* "N\n" as sysfs writes it; -1 for anything else (including "-1"). */
int cmr_parse_numa_node(const char *text)
{
	char *end;
	long v;

	if (!text || !*text)
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n'))
		return -1;
	if (v < 0 || v >= CMR_MAX_NUMA_NODES)
		return -1;
	return (int)v;
}

static int device_numa_node(struct ibv_context *ctx)
{
	char path[PATH_MAX], buf[32];
	const char *base = ctx->device->ibdev_path;
	ssize_t n;
	int fd, len;

	if (base[0])
		len = snprintf(path, sizeof(path), "%s/device/numa_node", base);
	else
		len = snprintf(path, sizeof(path),
			       "/sys/class/infiniband/%s/device/numa_node",
			       ibv_get_device_name(ctx->device));
	if (len < 0 || (size_t)len >= sizeof(path))
		return -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return cmr_parse_numa_node(buf);
}

int cmr_default_numa_node(struct ibv_context *ctx)
{
	unsigned int cpu, node;
	int saved = errno;
	int ret;

	ret = device_numa_node(ctx);
	if (ret < 0 && syscall(SYS_getcpu, &cpu, &node, NULL) == 0 &&
	    node < CMR_MAX_NUMA_NODES)
		ret = (int)node;
	errno = saved;
	return ret;
}
