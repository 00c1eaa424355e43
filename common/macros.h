/* macros.h - attributes and small macros every file may use. */
#ifndef LIAISON_MACROS_H
#define LIAISON_MACROS_H

#define WUR               __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define UNUSED(x)         (void)(x)
#define ARRAY_LEN(a)      (sizeof(a) / sizeof((a)[0]))
/* Asks for the cache line at p ahead of its use (never faults, NULL
 * included): loops over pointers to structs scattered in the heap, such as
 * a feed's thousands of texts, wait on a miss per struct otherwise. */
#define CACHE_PREFETCH(p) __builtin_prefetch(p)
#define CACHE_AHEAD       8 /* elements ahead */

#endif
