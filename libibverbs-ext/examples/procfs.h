/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * What the kernel reports about the example's memory: the accounting
 * fields of /proc, the process's memory cgroup and the physical layout of
 * a range (/proc/self/pagemap).
 */
#ifndef CONTIG_MR_EXAMPLE_PROCFS_H
#define CONTIG_MR_EXAMPLE_PROCFS_H

#include <stddef.h>

/* The "FIELD: N kB" line of a /proc file such as /proc/self/status. -1: none. */
long long proc_kb(const char *path, const char *field);

/* The number a file such as memory.current holds. -1: unreadable. */
long long read_number(const char *path);

/*
 * The memory.current file of this process's cgroup v2 group into path.
 * Empty when there is none to show: no cgroup v2, the root group (which
 * has no memory.current), or no memory controller in the group.
 */
void cgroup_memory_file(char *path, size_t size);

/*
 * How many bytes from addr on, up to len, are physically contiguous: the
 * page frames of /proc/self/pagemap follow one another. -1 when the frames
 * are not visible (pagemap hides them without CAP_SYS_ADMIN).
 */
long long phys_contig_bytes(const void *addr, size_t len);

#endif
