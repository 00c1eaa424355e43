/* recur.h - RFC 5545 recurrence rules and durations: strict validation
 * and bounded expansion (libical), in local wall time of the item's zone. */
#ifndef LIAISON_RECUR_H
#define LIAISON_RECUR_H

#include "macros.h"
#include "tz.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RECUR_MAX_COUNT      10000
#define RECUR_MAX_ITERATIONS 200000
/* Wall time one expansion may take, in ms. */
#define RECUR_BUDGET_MS 100
/* What expansions may cost: iterator steps left, and time spent in them
 * against a limit. One budget may serve several expansions (a request's,
 * a file's). */
struct recur_budget {
	long steps;
	int64_t limit_us, spent_us;
};
void recur_budget_init(struct recur_budget *b, long steps, int64_t ms);
/* The return of an expansion that spent its budget before it was done. */
#define RECUR_EXHAUSTED (-2)

/* Checks an RRULE value; err gets the reason. all_day: UNTIL must be a date. */
int recur_validate(const char *rrule, int all_day, char *err, size_t errlen) WUR;

/* RFC 5545 dur-value ("-P7D", "-PT2H", "P1W") in seconds. */
int ical_duration_parse(const char *s, int64_t *seconds) WUR;
/* Whether a and b are durations of the same exact seconds (as a reminder
 * fires: -PT60M is -PT1H, -P1D is -PT24H); 0 when either is not one. */
int ical_duration_same(const char *a, const char *b);

/* Called for each occurrence start (wall time and its UTC instant; one
 * the clocks skip has moved forward by the gap, with its real wall time:
 * 02:30 becomes 03:30); return non-zero to stop. */
typedef int (*recur_cb)(const struct civil *start, int64_t start_utc, void *arg);

/* Expands rrule from dtstart in zone, for occurrences whose start is
 * before until_utc, and from about from_utc on (INT64_MIN: from dtstart;
 * earlier ones may come too: the caller trims the window). Without an
 * rrule, dtstart alone. Within budget (NULL: RECUR_MAX_ITERATIONS steps
 * and RECUR_BUDGET_MS). Returns the number visited, -1 on error, or
 * RECUR_EXHAUSTED when the budget ran out first. A rule stored without
 * recur_validate's checks is read as they would have refused it: one that
 * matches no date visits none, a SECONDLY or MINUTELY one is
 * RECUR_EXHAUSTED at once (libical cannot step either in bounded time). */
long recur_expand_window(const char *rrule, const char *zone, const struct civil *dtstart,
                         int all_day, int64_t from_utc, int64_t until_utc,
                         struct recur_budget *budget, recur_cb cb, void *arg);
/* The same from dtstart, with its own budget. */
long recur_expand(const char *rrule, const char *zone, const struct civil *dtstart, int all_day,
                  int64_t until_utc, recur_cb cb, void *arg);

/* A rule's instances one at a time as libical gives them: wall times, no
 * instants (a quarter of the cost, for callers that compare wall times:
 * imports placing overrides), UNTIL read in zone, a DTSTART that is not an
 * instance skipped. recur_walk_new: NULL when libical cannot step the rule
 * (or out of memory). recur_walk_next: 1 with *out, 0 at the end, or
 * RECUR_EXHAUSTED when b ran out. */
struct recur_walk;
struct recur_walk *recur_walk_new(const char *rrule, const char *zone, const struct civil *dtstart,
                                  int all_day) WUR;
int recur_walk_next(struct recur_walk *w, struct recur_budget *b, struct civil *out);
void recur_walk_free(struct recur_walk *w);

/* Whether the rule has COUNT: every expansion of it walks from DTSTART. */
int recur_counted(const char *rrule);

/* The UTC start of the last occurrence, or INT64_MAX when the rule has no
 * end; for rules without COUNT or UNTIL that is INT64_MAX at once. */
int64_t recur_last_start(const char *rrule, const char *zone, const struct civil *dtstart,
                         int all_day);
/* The same, and the last occurrence's wall time in *wall (as the
 * expansion gives it: a date at 00:00 even where the clocks skip
 * midnight); INT64_MIN (and *wall untouched) when the rule gives none. */
int64_t recur_last_occurrence(const char *rrule, const char *zone, const struct civil *dtstart,
                              int all_day, struct civil *wall);

/* The place of the first of n elements of size bytes at base, sorted by
 * the int64_t instant at byte offset off in each, that is not before t
 * (n when none): a binary search, for occurrences and RDATEs that may be
 * thousands each (RFC 5545 3.8.5.3: an RDATE the rule gives too counts
 * once). */
size_t recur_instant_index(const void *base, size_t n, size_t size, size_t off, int64_t t);

/* Whether the wall time local is among exdates (JSON strings). */
int recur_excluded(json_t *exdates, const char *local);
/* How long each occurrence of a series that first runs from start to end
 * (wall times in zone) lasts, for recur_end. A feed gives the series its
 * first DTSTART and DTEND, and RFC 5545 (3.8.5.3) gives every occurrence
 * the same exact duration, so that is what the API gives too: the seconds
 * between the two instants, which differ from the wall times' across a
 * DST change. Dates (all-day items) count whole days. */
int64_t recur_duration(const char *zone, const struct civil *start, const struct civil *end,
                       int all_day);
/* The end of an occurrence starting at wall time start (instant start_utc)
 * that lasts dur (recur_duration): its instant, returned, and its wall
 * time in *end. A date's end is dur later on the calendar. */
int64_t recur_end(const char *zone, int all_day, const struct civil *start, int64_t start_utc,
                  int64_t dur, struct civil *end);
/* The same for wall-time texts (as the API writes them): the end of the
 * occurrence starting at start of a series that first runs from mstart to
 * mend, in out. -1 when a text does not parse or start is no time in zone. */
int recur_end_text(const char *zone, int all_day, const char *mstart, const char *mend,
                   const char *start, char out[CIVIL_LEN]);
/* Whether any occurrence (rule and rdates, less exdates; wall times as
 * JSON strings) overlaps [from, to). dtend is the first occurrence's end. */
int recur_occurs_in(const char *rrule, const char *zone, const struct civil *dtstart,
                    const struct civil *dtend, int all_day, json_t *exdates, json_t *rdates,
                    int64_t from, int64_t to);

/* The first start rrule gives from dtstart (libical passes over a dtstart
 * that is not one of the rule's instances, where RFC 5545 counts it as the
 * first occurrence; callers compare the two). 0, or -1 when it gives none
 * within 30 years or the expansion's bounds. */
int recur_first(const char *rrule, const char *zone, const struct civil *dtstart, int all_day,
                struct civil *first) WUR;
/* Whether wall time rid is an occurrence of the series: dtstart, the
 * rule's instances and rdates, less exdates (wall-time strings). */
int recur_is_occurrence(const char *rrule, const char *zone, const struct civil *dtstart,
                        int all_day, json_t *exdates, json_t *rdates, const struct civil *rid);

#endif
