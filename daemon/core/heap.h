/* heap.h - how the daemon's heap keeps the memory renderings use. */
#ifndef LIAISON_HEAP_H
#define LIAISON_HEAP_H

#include <stddef.h>

/* Upper bound of what heap_prefault touches per thread: a glibc thread
 * arena grows in heaps of 64 MiB, and an emptied second heap would be
 * handed back to the kernel. */
#define HEAP_PREFAULT_MAX ((size_t)32 << 20)

/* Keeps freed memory in the process for reuse and takes large blocks from
 * the heap rather than fresh mappings. Call once, before the threads. */
void heap_configure(void);

/* Touches bytes (at most HEAP_PREFAULT_MAX) of the calling thread's heap
 * and frees them again, so that later allocations find pages already
 * mapped. Best effort: stops where memory runs out. */
void heap_prefault(size_t bytes);

#endif
