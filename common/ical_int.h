/* ical_int.h - what the files of the iCalendar importer share: the
 * limits, the structures of one file's reading, and the functions one
 * file of it calls in another. Not an API: ical_import.h is. The files:
 *
 *   ical_import.c  the file: its VEVENTs, one at a time, into events
 *   ical_text.c    the text before libical reads it
 *   ical_zones.c   TZIDs and VTIMEZONEs
 *   ical_rules.c   times, RRULE, RDATE, EXDATE
 *   ical_props.c   text and optional properties
 *   ical_place.c   overrides placed on their masters */
#ifndef LIAISON_ICAL_INT_H
#define LIAISON_ICAL_INT_H

#include "macros.h"
#include "recur.h"
#include "tz.h"

#include <jansson.h>
#include <libical/ical.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_TITLE       500
#define MAX_LOCATION    500
#define MAX_DESCRIPTION 20000
#define MAX_URL         2048
#define MAX_TAG         64
#define MAX_DEPTH       32
#define MAX_ZONES       16
/* Zones matched to a VTIMEZONE per file, whatever its number of calendars
 * (walking rules has its budget too: struct recur_budget). */
#define MAX_MATCHES    16
#define DERIVED_SUFFIX "@import.liaison"

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

struct shaper {
	struct sbuf out;
	json_t *warnings; /* the file's */
	int cp1252;       /* the whole text is Windows-1252 */
	size_t converted; /* lines read as Windows-1252 */
	char stack[MAX_DEPTH][32];
	int depth, too_deep;
	size_t event_at, alarm_at; /* where the open VEVENT, VALARM began in out */
	size_t open_events;        /* VEVENTs dropped for want of END:VEVENT */
	int calendars, ended;      /* VCALENDARs begun, and ended by END:VCALENDAR */
	size_t events;             /* VEVENTs ended by END:VEVENT */
};

struct zone_map {
	char tzid[128];
	char iana[65];
};

/* One file's reading. */
struct ctx {
	icalcomponent *cal;
	const char *default_tz;
	int cancel;                  /* METHOD:CANCEL: every VEVENT is cancelled (RFC 5546) */
	struct recur_budget *budget; /* the file's */
	int *matches;                /* VTIMEZONEs matched so far (MAX_MATCHES) */
	char default_buf[65];
	struct zone_map zones[MAX_ZONES]; /* VTIMEZONE-only TZIDs matched to IANA zones */
	int nzones;
};

/* A time of the VEVENT, as read. */
struct when {
	char zone[65];
	int all_day;
	char local[CIVIL_LEN]; /* wall time in zone */
	struct civil c;
	int has_utc; /* zoned or UTC, not floating or a date */
	int64_t utc;
	int unmatched;        /* its TZID names a VTIMEZONE not matched to an IANA zone */
	int through_utc;      /* UTC, or unmatched: placed in zone, not written in it */
	int gap;              /* written in a DST gap: c and local moved forward by it */
	struct civil written; /* with gap: the wall time written */
};

/* Shared between the files (each defined in the one named above). */
void ical_sb_add(struct sbuf *b, const void *s, size_t len);
void ical_sb_str(struct sbuf *b, const char *s);
void ical_sb_cut(struct sbuf *b, size_t n);
const char *ical_sb_text(const struct sbuf *b);
void ical_shape_text(struct shaper *s, const unsigned char *t, size_t len);
void ical_clip(const char *s, size_t max, char *out, size_t outlen);
void ical_note(json_t *list, const char *field, const char *fmt, ...) PRINTF_LIKE(3, 4);
void ical_file_note(json_t *list, const char *field, const char *fmt, ...) PRINTF_LIKE(3, 4);
int ical_resolve_zone(const char *tzid, char *out, size_t len);
int ical_match_zone(struct ctx *x, const char *tzid, icaltimezone *z, int64_t at, char *out,
                    size_t len);
void ical_drop_bad_vtimezones(icalcomponent *cal, json_t *file_warnings);
void ical_add_error(json_t *errors, const char *field, const char *message);
const char *ical_tzid_of(icalproperty *p);
int ical_read_when(struct ctx *x, icalproperty *p, struct icaltimetype t, struct when *w,
                   const char *field, json_t *errors);
int ical_real_wall(const char *zone, struct civil *c);
void ical_civil_of(struct icaltimetype t, struct civil *c);
int ical_valid_civil(const struct civil *c);
int64_t ical_wall(const char *local, int all_day);
void ical_utc_series(struct ctx *x, icalcomponent *ve, icalproperty *ds, struct when *w);
int ical_restate(struct ctx *x, icalproperty *p, struct icaltimetype t, const struct when *ev,
                 char out[CIVIL_LEN]);
void ical_format_wall(int64_t t, int all_day, char out[CIVIL_LEN]);
char *ical_read_rrule(icalcomponent *ve, const struct when *w, json_t *errors, json_t *warnings);
void ical_fix_gap_start(char **rrule, struct when *w, json_t *ev, json_t *extra_rdates,
                        json_t *warnings, struct recur_budget *b);
void ical_fix_off_rule(char **rrule, struct when *w, json_t *ev, json_t *extra_rdates,
                       json_t *warnings, struct recur_budget *b);
void ical_read_rdates(struct ctx *x, icalcomponent *ve, const struct when *w, int64_t dur,
                      json_t *rd, json_t *periods);
json_t *ical_drop_rule_rdates(const char *rrule, const struct when *w, json_t *rdates,
                              struct recur_budget *b);
void ical_read_exdates(struct ctx *x, icalcomponent *ve, const char *rrule, const struct when *w,
                       json_t *rd, json_t *ex, json_t *warnings);
void ical_set_dates(json_t *ev, const char *key, json_t *a, json_t *warnings);
int ical_listed(json_t *a, const char *s);
void ical_set_text(json_t *ev, const char *key, const char *v, const char *nl, size_t max,
                   json_t *warnings);
void ical_read_url(icalcomponent *ve, json_t *ev, json_t *warnings);
void ical_read_categories(icalcomponent *ve, json_t *ev, json_t *warnings);
void ical_read_alarms(icalcomponent *ve, int64_t dur, json_t *ev, json_t *warnings);
void ical_lic_errors(icalcomponent *c, json_t *warnings);
/* Whether libical dropped property name of c as unreadable (why: its
 * message, clipped). */
int ical_lic_dropped(icalcomponent *c, const char *name, char *why, size_t len);
void ical_repair_notes(icalcomponent *ve, json_t *warnings);

#endif
