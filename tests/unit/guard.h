/*
 * guard.h - test input placed flush against an unreadable page, so a parser
 * that reads even one byte past the length it was given crashes the test.
 */
#ifndef TUTTI_TEST_GUARD_H
#define TUTTI_TEST_GUARD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
	uint8_t *base;		/* readable area, then one PROT_NONE page */
	size_t size;		/* readable bytes */
	size_t page;
};

/* Maps at least size readable bytes followed by a guard page. */
static inline void
guard_init(struct guard *g, size_t size)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->size = (size + g->page - 1) / g->page * g->page;
	g->base = mmap(NULL, g->size + g->page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED || mprotect(g->base + g->size, g->page, PROT_NONE) != 0) {
		perror("guard_init");
		abort();
	}
}

/* Copies the n bytes at src so that they end at the guard page; returns
 * where they start. */
static inline uint8_t *
guard_place(struct guard *g, const void *src, size_t n)
{
	uint8_t *dst;

	if (n > g->size)
		abort();
	dst = g->base + g->size - n;
	if (n > 0)
		memcpy(dst, src, n);
	return dst;
}

static inline void
guard_free(struct guard *g)
{
	munmap(g->base, g->size + g->page);
}

#endif
