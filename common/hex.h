/* hex.h - hex digits read back: percent and chunk sizes (http1.c), LSNs
 * (readfloor.c) and stored digests (token.c). A table, because a feed
 * just started reads 64 digits for each of its thousands of stored texts,
 * where a chain of comparisons per digit showed in the profile. */
#ifndef LIAISON_HEX_H
#define LIAISON_HEX_H

/* Each byte's value as a hex digit (either case) plus one, or 0. */
extern const unsigned char hex_plus1[256];

/* c's value as a hex digit, or -1. */
static inline int hex_value(unsigned char c)
{
	return hex_plus1[c] - 1;
}

#endif
