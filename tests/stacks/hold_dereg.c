// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * libcmr_hold_dereg.so, LD_PRELOADed into a program we cannot change
 * (ucx_perftest): ibv_dereg_mr() of an MR of at least CMR_HOLD_MIN bytes
 * waits until the file CMR_HOLD_FILE exists, so that a test sees the
 * program's MRs in `rdma resource show mr` however fast its transfers
 * were (hold.h). Smaller MRs, and every MR when either variable is unset,
 * go straight through: a program that deregisters a small MR mid-run is
 * not stopped before the test has anything to look at. Each hold prints a
 * line, so that a test sees one that came before the program's result.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <infiniband/verbs.h>

#include "hold.h"

int ibv_dereg_mr(struct ibv_mr *mr)
{
	const char *file = getenv("CMR_HOLD_FILE");
	const char *min = getenv("CMR_HOLD_MIN");
	int (*real)(struct ibv_mr *mr);
	void *verbs;

	/*
	 * Not RTLD_NEXT: UCX dlopen()s its transports, and with them
	 * libibverbs, outside the global scope RTLD_NEXT searches. It is
	 * loaded, since an MR exists. By version: the unversioned lookup
	 * may give the IBVERBS_1.0 compat symbol, for another struct ibv_mr.
	 */
	verbs = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_NOLOAD);
	real = verbs ? (int (*)(struct ibv_mr *))
		dlvsym(verbs, "ibv_dereg_mr", "IBVERBS_1.1") : NULL;
	if (!real) {
		fprintf(stderr, "hold_dereg: no ibv_dereg_mr in libibverbs\n");
		return EINVAL;
	}
	dlclose(verbs);
	if (file && min && mr && mr->length >= strtoull(min, NULL, 0)) {
		fprintf(stderr, "hold_dereg: holding an MR of %zu bytes until %s\n",
			mr->length, file);
		hold_until_file(file);
	}
	return real(mr);
}
