// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The settings, read from the environment when the library is loaded.
 * Sizes are plain byte counts: the wrapper (contig-mr-run) converts "2M"
 * and the like, so that no second size parser lives here.
 *
 *   CMR_ALLOC_MIN         smallest request served (default 2 MiB)
 *   CMR_ALLOC_ON_FAIL     fallback (default) | fail
 *   CMR_ALLOC_DEVICE      RDMA device to allocate through (default: first)
 *   CMR_ALLOC_MIN_EXTENT  allow extents of at least this size (default:
 *                         one range per region)
 *   CMR_ALLOC_VERBOSE     1: one line on stderr per region
 *
 * Until the constructor has run (allocations of the loader and of other
 * libraries' constructors), nothing is served.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

struct cmr_alloc_config cmr_alloc_cfg = { .min = SIZE_MAX, .page = 4096 };

#define CMR_ALLOC_DEFAULT_MIN ((size_t)2 << 20)

/* A byte count, or fallback (with a message) when it is not one. */
static uint64_t env_bytes(const char *name, uint64_t fallback)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return fallback;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || v[0] == '-') {
		cmr_alloc_warn("%s=%s is not a byte count: using %llu", name, v,
			      (unsigned long long)fallback);
		return fallback;
	}
	return n;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

__attribute__((constructor)) static void cmr_alloc_config_read(void)
{
	struct cmr_alloc_config c = { .on_fail = CMR_ALLOC_FALLBACK };
	long page = sysconf(_SC_PAGESIZE);
	const char *v;

	c.page = page > 0 ? (size_t)page : 4096;
	cmr_alloc_cfg.page = c.page;
	v = getenv("CMR_ALLOC_VERBOSE");
	c.verbose = v && !strcmp(v, "1");
	cmr_alloc_cfg.verbose = c.verbose;

	v = getenv("CMR_ALLOC_ON_FAIL");
	if (v && !strcmp(v, "fail"))
		c.on_fail = CMR_ALLOC_FAIL;
	else if (v && *v && strcmp(v, "fallback"))
		cmr_alloc_warn("CMR_ALLOC_ON_FAIL=%s: not fallback or fail; "
			      "falling back", v);
	v = getenv("CMR_ALLOC_DEVICE");
	c.device = v && *v ? v : NULL;
	c.min_extent = env_bytes("CMR_ALLOC_MIN_EXTENT", 0);
	if (c.min_extent && !pow2(c.min_extent)) {
		cmr_alloc_warn("CMR_ALLOC_MIN_EXTENT must be a power of two: "
			      "one range per region");
		c.min_extent = 0;
	}
	/* A region is whole pages: below one the cost is all overhead. */
	c.min = env_bytes("CMR_ALLOC_MIN", CMR_ALLOC_DEFAULT_MIN);
	if (c.min < c.page) {
		cmr_alloc_warn("CMR_ALLOC_MIN %zu is below a page: using %zu",
			       c.min, c.page);
		c.min = c.page;
	}
	c.ready = true;
	cmr_alloc_cfg = c;
}
