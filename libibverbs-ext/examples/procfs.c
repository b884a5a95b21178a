// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/* The example's readers of /proc and of its cgroup (procfs.h). */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

long long proc_kb(const char *path, const char *field)
{
	size_t flen = strlen(field);
	long long kb = -1;
	char line[256];
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':' &&
		    sscanf(line + flen + 1, "%lld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

long long read_number(const char *path)
{
	long long v = -1;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

void cgroup_memory_file(char *path, size_t size)
{
	char line[PATH_MAX];
	FILE *f;

	path[0] = '\0';
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::/", 4))
			continue;	/* a cgroup v1 hierarchy */
		if (line[4] && (size_t)snprintf(path, size,
						"/sys/fs/cgroup%s/memory.current",
						line + 3) < size &&
		    !access(path, R_OK))
			break;
		path[0] = '\0';
		break;
	}
	fclose(f);
}

#define PM_PRESENT (1ull << 63)
#define PM_PFN_MASK ((1ull << 55) - 1)
#define PM_BATCH 512

long long phys_contig_bytes(const void *addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t npages = (len + page - 1) / page, run = 0, n, i;
	uint64_t ent[PM_BATCH], first = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (run < npages) {
		off_t at = (off_t)((uintptr_t)addr / page + run) * 8;

		n = npages - run < PM_BATCH ? npages - run : PM_BATCH;
		if (pread(fd, ent, n * 8, at) != (ssize_t)(n * 8))
			break;
		for (i = 0; i < n; i++) {
			uint64_t pfn = ent[i] & PM_PFN_MASK;

			if (!(ent[i] & PM_PRESENT) || !pfn ||
			    (run && pfn != first + run))
				goto out;
			if (!run)
				first = pfn;
			run++;
		}
	}
out:
	close(fd);
	if (!run)
		return -1;	/* not even the first frame is visible */
	return (long long)(run * page < len ? run * page : len);
}
