/* tz_offsets.h - a zone's UTC offset at an instant, as libical gives it,
 * kept in tables that are read without a lock (for tz.c). */
#ifndef LIAISON_TZ_OFFSETS_H
#define LIAISON_TZ_OFFSETS_H

#include <stdint.h>

struct tz_offsets;

/* The offsets of the zone libical knows as name (a canonical name of the
 * tz database, or a legacy path such as "posix/Asia/Seoul"; tz.c has
 * proved the name harmless). NULL when libical has no such zone, or when
 * out of memory. The object lives as long as the process; thread-safe. */
struct tz_offsets *tz_offsets_of(const char *name);

/* The UTC offset in seconds in force at instant t: from the zone's table,
 * built a span of about a year at a time on first use from libical's own
 * answers, for instants from 1890 to 2210; outside them libical is asked
 * each time. Thread-safe; takes no lock once the span is built. */
int tz_offsets_at(struct tz_offsets *z, int64_t t);

/* Whether the offset in force at from is in force through to (from <= to)
 * with no change between: exact, from the same tables (each span between
 * is built if it is not yet: about 400 readings of libical a year of the
 * range, once per zone and process). 0 when either end is outside the
 * tables' years, or a span between has too many changes to be tabled. */
int tz_offsets_constant(struct tz_offsets *z, int64_t from, int64_t to);

/* The same straight from libical, under its lock: the reference the
 * tables are checked against (tests), and the way before them. */
int tz_offsets_at_uncached(struct tz_offsets *z, int64_t t);

/* A copy of libical's VTIMEZONE of the zone, for the caller to free;
 * NULL when out of memory. */
struct icalcomponent_impl;
struct icalcomponent_impl *tz_offsets_vtimezone(struct tz_offsets *z);

#endif
