/* occ_expand.h - the occurrences of events in a window, from rows with
 * OCC_COLUMNS first (api/occurrences_sql.h): recurrences expanded in each
 * event's own zone (a weekly 09:00 stays 09:00 local across DST), exdates
 * removed, rdates added, and overrides put in place of the occurrence they
 * replace. One expansion serves /v1/occurrences (api/occurrences.c), a
 * feed's subscribe page (api/feed_page.c) and free/busy feeds
 * (api/feed_freebusy.c), so all say the same. */
#ifndef LIAISON_OCC_EXPAND_H
#define LIAISON_OCC_EXPAND_H

#include "api/occurrences_sql.h"
#include "recur.h"
#include "tz.h"

#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Rows start with OCC_COLUMNS (OCC_ID..OCC_RDATES); a caller's own
 * columns may follow. */

struct occ {
	int64_t start_utc, end_utc;
	int row;             /* the row that describes it (an override's, if any) */
	int series_row;      /* the row of its series */
	char rid[CIVIL_LEN]; /* "" for a one-off event */
	char start[CIVIL_LEN], end[CIVIL_LEN];
};

/* The occurrences of a set of rows, sorted by start, event id and
 * recurrence id. */
struct occset {
	const PGresult *res;
	int64_t from, to;
	size_t max; /* occurrences at most */
	struct occ *items;
	size_t n, cap;
	int overflow; /* more than max, or out of memory */
	/* Ids of series whose expansion ran out of time (strings). */
	json_t *incomplete;
	/* What is expanded: occurrences that start in [lo, until) (occset_narrow;
	 * by default the whole window). */
	int64_t lo, until;
	/* where the work stands: the next row of the phase (occset_step) */
	int phase, next;
	/* while expanding */
	int row, all_day;
	int64_t dur; /* each occurrence's length (recur_duration) */
	json_t *exdates;
	struct recur_budget spent; /* all the expansions together */
};

/* Expands the rows of res over [from, to), keeping at most max occurrences,
 * every series within a budget of its own and all of them within
 * budget_ms, in steps, so that a long expansion can let its loop turn
 * between them: occset_begin sets it up (0, or -1 out of memory), then
 * occset_step works for about slice_us at a time (a series is never cut)
 * and returns 1 while there is more to do, 0 once the occurrences are
 * complete and sorted, -1 on overflow. res must live until occset_free. */
int occset_begin(struct occset *s, const PGresult *res, int64_t from, int64_t to, size_t max,
                 int64_t budget_ms);
int occset_step(struct occset *s, int64_t slice_us);
/* Has slice's callback run the next step once the loop has looked for
 * input: a zero timer (an event made active from its own callback would
 * run again at once, before any other connection is read). */
void occset_next_slice(struct event *slice);
/* Before the first step: only the occurrences that start in [lo, until)
 * are wanted (those of the window that start there are then all found, in
 * their place among the others; some that start before lo may be
 * missing). A page needs no more than the occurrences up to its last. */
void occset_narrow(struct occset *s, int64_t lo, int64_t until);
/* Starts again, empty, with a later until (a page that did not fill),
 * with the whole budget again but for the series that ran out of theirs:
 * those stay named and are not expanded again. */
void occset_restart(struct occset *s, int64_t until);
void occset_free(struct occset *s);
/* The id of the event (its series) an occurrence belongs to. */
const char *occ_event_id(const struct occset *s, const struct occ *o);

#endif
