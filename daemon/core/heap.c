/* heap.c - the heap's settings for a daemon that renders megabytes.
 *
 * A large feed passes through megabytes of heap: the query's answer
 * (freed again), the VEVENT texts (kept in the cache) and the body (kept).
 * By default glibc hands freed memory at the top of a heap back to the
 * kernel and maps large blocks afresh, so that memory faults in page by
 * page each time it is used again, and page faults are dear on the
 * virtual machines we run on: in a cold render, taking the stored texts
 * and assembling the body were nearly all faults (tests/bench/feeds.sh
 * measures it; the commit that brought this file gives the figures). So
 * the heap keeps what it had, and each worker touches its share of
 * render_memory once, at start, rather than in a subscriber's request. */
#include "core/heap.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* Blocks below the mmap threshold, so that they come from the heap. */
#define PREFAULT_BLOCK ((size_t)64 << 10)

void heap_configure(void)
{
	/* The threshold must stay above what a thread prefaults, or the free
	 * after the touching would give it all back. */
	mallopt(M_TRIM_THRESHOLD, (int)(4 * HEAP_PREFAULT_MAX));
	/* 32 MiB is glibc's largest: a bigger block is mapped anyway. */
	mallopt(M_MMAP_THRESHOLD, (int)HEAP_PREFAULT_MAX);
}

void heap_prefault(size_t bytes)
{
	if (bytes > HEAP_PREFAULT_MAX)
		bytes = HEAP_PREFAULT_MAX;
	size_t n = bytes / PREFAULT_BLOCK;
	void **blocks = n ? calloc(n, sizeof(*blocks)) : NULL;
	if (!blocks)
		return;
	size_t got = 0;
	for (; got < n; got++) {
		if (!(blocks[got] = malloc(PREFAULT_BLOCK)))
			break;
		explicit_bzero(blocks[got],
		               PREFAULT_BLOCK); /* a memset before free() may be dropped */
	}
	while (got > 0)
		free(blocks[--got]);
	free(blocks);
}
