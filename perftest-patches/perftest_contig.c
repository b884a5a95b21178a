// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * perftest-contig: `--contig` for the stock perftest tools.
 *
 * One executable, linked under the name of each tool it wraps (ib_read_bw,
 * ib_write_bw, ib_send_bw, ib_read_lat, ib_write_lat); it runs the stock
 * binary of that name.
 *
 * Without --contig it execs the stock binary with exactly the argv
 * (argv[0] included) and environment it was given: nothing is preloaded,
 * nothing is set, so the stock tool cannot tell it was wrapped.
 *
 * With --contig it removes that word, refuses the options that choose
 * another kind of data buffer, and execs the stock binary under the
 * allocator preload (libcontig-mr-alloc.so, docs/applications.md) set to
 * serve every allocation of a page or more from contiguous memory and to
 * fail, never fall back, when it cannot. perftest's data buffer is such an
 * allocation; its own ibv_reg_mr() then finds the memory contiguous and
 * gets large device pages. Nothing guesses which allocation is the data
 * buffer or which PD is perftest's. See docs/perftest-contig.md.
 *
 * Environment: CMR_PERFTEST_STOCK_DIR (default /usr/bin), where the stock
 * tools are; CMR_PERFTEST_PRELOAD, the preload library (default
 * ../lib/libcontig-mr-alloc.so next to this executable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CMR_PERFTEST_STOCK_DIR
#define CMR_PERFTEST_STOCK_DIR "/usr/bin"
#endif
#define CMR_PRELOAD_NAME "libcontig-mr-alloc.so"

static const char *const tools[] = {
	"ib_read_bw", "ib_read_lat", "ib_write_bw", "ib_write_lat", "ib_send_bw",
};

/* Long options that select another data buffer than memalign(). */
static const char *const conflicting[] = {
	"use_hugepages", "mmap", "mmap-offset", "odp",
};

static bool known_tool(const char *tool)
{
	size_t i;

	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (!strcmp(tool, tools[i]))
			return true;
	return false;
}

/*
 * perftest's device, when argv names one (-d NAME, -dNAME, --ib-dev NAME,
 * --ib-dev=NAME, or a prefix of --ib-dev that getopt_long() takes for it,
 * from --ib-d on: --ib alone is also --ib-port's): the preload allocates
 * through the same device. NULL: both take the first device. A -d inside
 * a cluster of short options (-ad NAME) is not found; the memory then
 * comes through the first device, which serves any device's MRs alike.
 */
static const char *device_arg(int argc, char **argv)
{
	const char *dev = NULL;
	size_t len;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		len = strcspn(argv[i], "=");
		if (!strcmp(argv[i], "-d"))
			dev = i + 1 < argc ? argv[++i] : NULL;
		else if (!strncmp(argv[i], "-d", 2) && argv[i][2] != '-')
			dev = argv[i] + 2;
		else if (len >= 6 && len <= 8 &&
			 !strncmp(argv[i], "--ib-dev", len))
			dev = argv[i][len] ? argv[i] + len + 1 :
			      i + 1 < argc ? argv[++i] : NULL;
	}
	return dev;
}

/*
 * getopt_long() accepts any unambiguous prefix of a long option: "--mm"
 * is --mmap. Prefixes of three letters or more count as the option.
 */
static const char *conflict(const char *arg)
{
	size_t len, i;

	if (strncmp(arg, "--", 2) || !arg[2])
		return NULL;
	arg += 2;
	len = strcspn(arg, "=");
	for (i = 0; i < sizeof(conflicting) / sizeof(conflicting[0]); i++) {
		const char *opt = conflicting[i];

		if (len > strlen(opt) || strncmp(arg, opt, len))
			continue;
		if (len >= 3 || len == strlen(opt))
			return opt;
	}
	return NULL;
}

static void die(const char *tool, const char *msg, const char *detail)
{
	fprintf(stderr, "%s --contig: %s%s\n", tool, msg, detail ? detail : "");
	exit(2);
}

/* The preload library: ../lib/ next to this executable's real location. */
static char *preload_path(const char *tool)
{
	const char *env = getenv("CMR_PERFTEST_PRELOAD");
	char self[PATH_MAX], *path, *slash;
	ssize_t n;

	if (env && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die(tool, "cannot read /proc/self/exe: ", strerror(errno));
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		die(tool, "odd executable path ", self);
	*slash = '\0';
	if (asprintf(&path, "%s/../lib/%s", self, CMR_PRELOAD_NAME) < 0)
		die(tool, "out of memory", NULL);
	return path;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const char *tool = base ? base + 1 : argv[0];
	const char *dir = getenv("CMR_PERFTEST_STOCK_DIR");
	const char *old, *opt, *dev;
	char *stock, *preload, *env, **args, page[32];
	bool contig = false, after_dashdash = false;
	int i, n = 0;

	if (!dir || !*dir)
		dir = CMR_PERFTEST_STOCK_DIR;
	if (asprintf(&stock, "%s/%s", dir, tool) < 0)
		return 2;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--contig"))
			contig = true;
	if (!contig) {
		/* Untouched: same argv, same environment. */
		execv(stock, argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", tool, stock,
			strerror(errno));
		return 127;
	}

	if (!known_tool(tool))
		die(tool, "not a perftest tool this wrapper knows", NULL);
	preload = preload_path(tool);
	if (access(preload, R_OK))
		die(tool, "no preload library at ", preload);

	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		die(tool, "out of memory", NULL);
	args[n++] = argv[0];
	for (i = 1; i < argc; i++) {
		if (!after_dashdash) {
			if (!strcmp(argv[i], "--"))
				after_dashdash = true;
			else if (!strcmp(argv[i], "--contig"))
				continue;
			else if ((opt = conflict(argv[i])))
				die(tool, "this option chooses another data "
				    "buffer and cannot be combined with "
				    "--contig: --", opt);
		}
		args[n++] = argv[i];
	}
	args[n] = NULL;

	old = getenv("LD_PRELOAD");
	if (old && *old) {
		if (asprintf(&env, "%s:%s", preload, old) < 0)
			die(tool, "out of memory", NULL);
	} else {
		env = preload;
	}
	/*
	 * A page and more: perftest's data buffer is at least two pages
	 * (twice its cycle buffer), whatever the message size.
	 */
	snprintf(page, sizeof(page), "%ld", sysconf(_SC_PAGESIZE));
	dev = device_arg(argc, argv);
	if (setenv("LD_PRELOAD", env, 1) ||
	    setenv("CMR_ALLOC_MIN", page, 1) ||
	    setenv("CMR_ALLOC_ON_FAIL", "fail", 1) ||
	    setenv("CMR_ALLOC_VERBOSE", "1", 1) ||
	    /* The kernel's contiguous memory, never hugetlb pages. */
	    setenv("IBV_CONTIG_MR_ALLOC_TYPE", "CONTIG", 1) ||
	    (dev ? setenv("CMR_ALLOC_DEVICE", dev, 1) :
		   unsetenv("CMR_ALLOC_DEVICE")))
		die(tool, "cannot set the environment: ", strerror(errno));
	execv(stock, args);
	fprintf(stderr, "%s: cannot run %s: %s\n", tool, stock,
		strerror(errno));
	return 127;
}
