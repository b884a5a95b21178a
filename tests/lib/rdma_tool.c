// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The one reader of `rdma -dd resource show mr` (iproute2) in the project:
 * what an administrator sees of an MR, checked against what the library
 * and the kernel report. See cmr_test.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmr_test.h"

static char *read_all(FILE *f)
{
	size_t len = 0, cap = 16384, n;
	char *buf = malloc(cap), *nb;

	if (!buf)
		return NULL;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 4096) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

/* The number after the word key in a record (decimal or 0x...). */
static bool record_value(const char *rec, const char *key, uint64_t *value)
{
	size_t klen = strlen(key);
	const char *p = rec;
	char *end;

	while ((p = strstr(p, key))) {
		if ((p == rec || isspace((unsigned char)p[-1])) &&
		    isspace((unsigned char)p[klen])) {
			errno = 0;
			*value = strtoull(p + klen, &end, 0);
			if (!errno && end != p + klen)
				return true;
		}
		p += klen;
	}
	return false;
}

/* A driver attribute: iproute2 prints it as drv_NAME (older ones: NAME). */
static bool record_drv(const char *rec, const char *name, uint64_t *value)
{
	char key[64];

	snprintf(key, sizeof(key), "drv_%s", name);
	return record_value(rec, key, value) || record_value(rec, name, value);
}

int t_rdma_mr_each(const char *dev, const char *key, uint32_t value,
		   void (*fn)(const char *rec, void *arg), void *arg,
		   bool first_only)
{
	char *out, *rec, *next, *c, want_dev[64];
	uint64_t v;
	int n = 0, status;
	FILE *p;

	/* Its warnings, if any, must not break the first record. */
	p = popen("rdma -dd resource show mr 2>/dev/null", "r");
	if (!p)
		return -1;
	out = read_all(p);
	status = pclose(p);
	if (status || !out) {
		t_diag("rdma -dd resource show mr failed (status 0x%x)", status);
		free(out);
		return -1;
	}
	snprintf(want_dev, sizeof(want_dev), "dev %s ", dev ? dev : "");
	/* A record is a line starting with "dev NAME" and its indented
	 * continuation lines, joined here with spaces. */
	for (rec = out; rec && *rec; rec = next) {
		next = strstr(rec, "\ndev ");
		if (next)
			*next++ = '\0';
		for (c = rec; *c; c++)
			if (*c == '\n' || *c == '\t')
				*c = ' ';
		if (strncmp(rec, want_dev, dev ? strlen(want_dev) : 4) ||
		    !record_value(rec, key, &v) || v != value)
			continue;
		fn(rec, arg);
		n++;
		if (first_only)
			break;
	}
	free(out);
	return n;
}

bool t_rdma_record_pages(const char *rec, uint64_t *page_size,
			 uint64_t *entries)
{
	return record_drv(rec, "page_size", page_size) &&
	       record_drv(rec, "map_entries", entries);
}

struct first_mr {
	uint64_t *page_size, *entries;
	char *line;
	size_t line_size;
	bool pages;
};

static void take_first(const char *rec, void *arg)
{
	struct first_mr *f = arg;

	if (f->line)
		snprintf(f->line, f->line_size, "%s", rec);
	f->pages = t_rdma_record_pages(rec, f->page_size, f->entries);
}

int t_rdma_mr_pages(const char *dev, const char *key, uint32_t value,
		    uint64_t *page_size, uint64_t *entries, char *line,
		    size_t line_size)
{
	struct first_mr f = { page_size, entries, line, line_size, false };
	int n = t_rdma_mr_each(dev, key, value, take_first, &f, true);

	if (n <= 0)
		return -1;
	return f.pages ? 0 : 1;
}
