/* freebusy.h - busy time as RFC 5545 free/busy (§3.6.4): periods of
 * occurrences gathered, merged into the fewest periods, and written as a
 * calendar with one VFREEBUSY, in UTC, with nothing of the items but their
 * time. Knows no database and no HTTP. */
#ifndef LIAISON_FREEBUSY_H
#define LIAISON_FREEBUSY_H

#include "macros.h"

#include <stddef.h>
#include <stdint.h>

/* How busy, strongest first: where kinds overlap the strongest is said. */
enum fbkind {
	FB_BUSY,        /* confirmed items */
	FB_UNAVAILABLE, /* time whose items could not all be counted */
	FB_TENTATIVE,   /* tentative items */
	FB_KINDS
};

/* Periods gathered, clipped to the window [from, to). */
struct busyset {
	int64_t from, to;
	struct busy {
		int64_t start, end;
		enum fbkind kind;
	} * v;
	size_t n, cap, max; /* max: 0 for no limit */
};

void busyset_init(struct busyset *s, int64_t from, int64_t to, size_t max);
void busyset_free(struct busyset *s);
/* Adds [start, end) as kind, clipped to the window (nothing when empty):
 * 0, or -1 beyond max periods or out of memory. */
int busyset_add(struct busyset *s, int64_t start, int64_t end, enum fbkind kind) WUR;
/* Merges in place: ordered by start, overlapping or touching periods of a
 * kind made one, a weaker kind's time taken where a stronger one covers
 * it. 0, or -1 out of memory. */
int busyset_merge(struct busyset *s) WUR;

/* What a free/busy calendar says besides its periods. */
struct freebusy_head {
	const char *name;                /* NAME, X-WR-CALNAME */
	const char *uid;                 /* the VFREEBUSY's own */
	const char *org_slug, *org_name; /* ORGANIZER: whose calendar it is */
	int64_t stamp;                   /* DTSTAMP */
};
/* The calendar of the merged periods of s (window: DTSTART, DTEND), to be
 * freed; NULL when out of memory. */
char *freebusy_render(const struct busyset *s, const struct freebusy_head *h, size_t *len) WUR;

#endif
