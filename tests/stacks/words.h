/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * The data the stack programs move (mpi_bw.c, fi_rma.c): 64-bit words
 * that differ between messages and between words, so that a message
 * delivered twice, late or to the wrong place does not pass the check.
 */
#ifndef CMR_STACKS_WORDS_H
#define CMR_STACKS_WORDS_H

#include <stddef.h>
#include <stdint.h>

/* The word at index j of message i. */
static inline uint64_t words_pattern(int i, size_t j)
{
	return ((uint64_t)(i + 1) << 40) ^ (j * 0x9e3779b97f4a7c15ULL);
}

static inline void words_fill(uint64_t *w, size_t n, int i)
{
	size_t j;

	for (j = 0; j < n; j++)
		w[j] = words_pattern(i, j);
}

/* How many of the n words are not those of message i. */
static inline size_t words_check(const uint64_t *w, size_t n, int i)
{
	size_t j, bad = 0;

	for (j = 0; j < n; j++)
		bad += w[j] != words_pattern(i, j);
	return bad;
}

#endif
