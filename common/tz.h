/* tz.h - IANA zones from the system's tz database: name validation and
 * conversion between local wall time and UTC instants. */
#ifndef LIAISON_TZ_H
#define LIAISON_TZ_H

#include "macros.h"

#include <stddef.h>
#include <stdint.h>

/* A wall-clock date and time, with no zone. */
struct civil {
	int year, month, day, hour, minute, second;
};

#define TZ_NAME_MAX 64

/* The canonical name of zone name: a Zone of the tz database is itself, a
 * Link ("Asia/Saigon") names its zone ("Asia/Ho_Chi_Minh"), and UTC under
 * any of its names (Etc/UTC, Zulu, GMT, Etc/GMT...) is "UTC". NULL when
 * name is not a zone or link of the system's tz database: "localtime",
 * "posixrules", "Factory", posix/... and right/... are files of the tz
 * directory, not zones. The list is read once (thread-safe) from
 * /usr/share/zoneinfo/tzdata.zi, or without it from the TZif files of
 * that directory; names with "..", a leading '/', or other characters are
 * refused before any lookup. The result lives as long as the process. */
const char *tz_canonical(const char *name);
/* tz_canonical(name) != NULL. */
int tz_valid(const char *name);
/* For tests: builds a table as tz_canonical's from root ("/.../zoneinfo/")
 * by tzdata.zi (from_zi) or by its files, and calls cb for each name with
 * its canonical name. The number of names, or -1. */
long tz_table_each(const char *root, int from_zi,
                   void (*cb)(const char *name, const char *canonical, void *arg), void *arg);

/* "2024-08-21T14:00:00" (date_only 0) or "2024-10-17" (date_only 1), a
 * real calendar date; returns 0 on success. */
int civil_parse(const char *s, int date_only, struct civil *out) WUR;
#define CIVIL_LEN 24
/* Formats as civil_parse reads. */
void civil_format(const struct civil *c, int date_only, char out[CIVIL_LEN]);
/* The same without the NUL: its length, 10 or 19. Each field is written
 * with its last 4 (year) or 2 digits. */
size_t civil_write(const struct civil *c, int date_only, char *out);
/* Seconds since the epoch of c read as UTC, and back. */
int64_t civil_to_epoch(const struct civil *c);
void civil_from_epoch(int64_t t, struct civil *out);
/* Adds days to a date (time of day kept). */
void civil_add_days(struct civil *c, int days);

/* UTC under any of its names (tz_canonical gives "UTC"), which has no
 * VTIMEZONE: times are written with Z. */
int tz_is_utc(const char *zone);

enum tz_result { TZ_OK = 0, TZ_GAP = 1, TZ_UNKNOWN = 2 };

/* The UTC instant of wall time w in zone (a zone or link, or a name that
 * rows written before validation was strict may hold). A time inside a DST gap is
 * TZ_GAP (*utc then holds the instant using the offset before the gap,
 * as RFC 5545 reads it); a time that occurs twice is its first instant. */
enum tz_result tz_to_utc(const char *zone, const struct civil *w, int64_t *utc) WUR;
/* The wall time of instant utc in zone. */
enum tz_result tz_from_utc(const char *zone, int64_t utc, struct civil *w) WUR;
/* Whether zone's UTC offset stays the same over instants [from, to]
 * (UTC: always), exactly (tz_offsets_constant); 0 for an unknown zone. */
int tz_offset_constant(const char *zone, int64_t from, int64_t to);
/* Both read a zone's offsets from tables built from libical's answers
 * (tz_offsets.c). For tests: the same, asking libical each time. */
enum tz_result tz_to_utc_uncached(const char *zone, const struct civil *w, int64_t *utc) WUR;
enum tz_result tz_from_utc_uncached(const char *zone, int64_t utc, struct civil *w) WUR;

/* A VTIMEZONE for zone (TZID the plain IANA name, rules from 1970 on),
 * for the caller to add to a calendar; NULL for UTC or an unknown zone. */
struct icalcomponent_impl;
struct icalcomponent_impl *tz_vtimezone(const char *zone);

#endif
