/* strhash.h - FNV-1a of a string, for hash tables keyed by ids and
 * tokens, which are random already or come from our own database. */
#ifndef LIAISON_STRHASH_H
#define LIAISON_STRHASH_H

#include <stdint.h>

static inline uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
