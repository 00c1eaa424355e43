/* strhash.h - FNV-1a of a string, for hash tables keyed by ids and
 * tokens, which are random already or come from our own database. */
#ifndef LIAISON_STRHASH_H
#define LIAISON_STRHASH_H

#include <stdint.h>
#include <string.h>

static inline uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* An id's hash: a uuid's text is random but for its dashes and version,
 * so two words of it do (anything shorter is hashed whole). Tables that
 * take every row of a feed ask it of thousands at a time. */
static inline uint32_t id_hash(const char *id)
{
	if (strnlen(id, 36) < 36)
		return str_hash(id);
	uint64_t a, b;
	memcpy(&a, id, sizeof(a));
	memcpy(&b, id + 28, sizeof(b));
	return (uint32_t)(((a ^ (b * 0x9E3779B97F4A7C15u)) * 0xBF58476D1CE4E5B9u) >> 32);
}

#endif
