/* occ_expand.h - the occurrences of events in a window, from rows with
 * OCC_COLUMNS first (api/occurrences_sql.h): recurrences expanded in each
 * event's own zone (a weekly 09:00 stays 09:00 local across DST), exdates
 * removed, rdates added, and overrides put in place of the occurrence they
 * replace. One expansion serves /v1/occurrences (api/occurrences.c) and a
 * feed's subscribe page (api/feed_page.c), so both say the same. */
#ifndef LIAISON_OCC_EXPAND_H
#define LIAISON_OCC_EXPAND_H

#include "api/occurrences_sql.h"
#include "recur.h"
#include "tz.h"

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
	/* while expanding */
	int row, all_day;
	int64_t dur; /* wall-clock length in seconds */
	json_t *exdates;
	struct recur_budget spent; /* all the expansions together */
};

/* Expands the rows of res over [from, to), keeping at most max occurrences,
 * every series within a budget of its own and all of them within budget_ms.
 * 0, or -1 on overflow. s is cleared by occset_free, whatever the result. */
int occset_expand(struct occset *s, const PGresult *res, int64_t from, int64_t to, size_t max,
                  int64_t budget_ms);
void occset_free(struct occset *s);
/* The id of the event (its series) an occurrence belongs to. */
const char *occ_event_id(const struct occset *s, const struct occ *o);

#endif
