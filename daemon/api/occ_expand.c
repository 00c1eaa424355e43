/* occ_expand.c - see occ_expand.h. The expansion is bounded: at most max
 * occurrences, each series within RECUR_BUDGET_MS and all together within
 * the caller's budget; what runs out of time is named, not cut silently.
 * It goes a row at a time (series first, then the overrides), so that a
 * caller may stop between rows and go on later. */
#include "api/occ_expand.h"

#include "clock.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int occ_push(struct occset *s, const struct occ *o)
{
	if (s->n == s->max) {
		s->overflow = 1;
		return -1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct occ *bigger = realloc(s->items, cap * sizeof(*bigger));
		if (!bigger) {
			s->overflow = 1;
			return -1;
		}
		s->items = bigger;
		s->cap = cap;
	}
	s->items[s->n++] = *o;
	return 0;
}

/* Whether an occurrence is one of those expanded: of the window, and
 * starting before until. */
static int overlaps(const struct occset *s, int64_t start, int64_t end)
{
	return start < s->until && (end > s->from || start >= s->from);
}

static int overlaps_window(const struct occset *s, int64_t start, int64_t end)
{
	return start < s->to && (end > s->from || start >= s->from);
}

/* Fills the end of an occurrence starting at wall time st. */
static void occ_fill(struct occset *s, struct occ *o, const struct civil *st, int64_t start_utc,
                     const char *tz)
{
	struct civil e;
	o->start_utc = start_utc;
	o->end_utc = recur_end(tz, s->all_day, st, start_utc, s->dur, &e);
	civil_format(st, s->all_day, o->start);
	civil_format(&e, s->all_day, o->end);
}

static int on_occurrence(const struct civil *st, int64_t start_utc, void *arg)
{
	struct occset *s = arg;
	struct occ o = {.row = s->row, .series_row = s->row};
	const char *tz = PQgetvalue(s->res, s->row, OCC_TZ);
	occ_fill(s, &o, st, start_utc, tz);
	/* A one-off event has no recurrence id; members of a set of dates do. */
	if (PQgetisnull(s->res, s->row, OCC_RRULE) &&
	    !strcmp(PQgetvalue(s->res, s->row, OCC_RDATES), "[]"))
		o.rid[0] = '\0';
	else
		memcpy(o.rid, o.start, sizeof(o.rid));
	if (recur_excluded(s->exdates, o.start) || !overlaps(s, o.start_utc, o.end_utc))
		return 0;
	return occ_push(s, &o);
}

static int read_row_times(struct occset *s, int row, struct civil *start)
{
	s->all_day = PQgetvalue(s->res, row, OCC_ALLDAY)[0] == 't';
	if (civil_parse(PQgetvalue(s->res, row, OCC_START), s->all_day, start))
		return -1;
	struct civil end = *start;
	if (!PQgetisnull(s->res, row, OCC_END)) {
		if (civil_parse(PQgetvalue(s->res, row, OCC_END), s->all_day, &end))
			return -1;
	} else if (s->all_day) {
		civil_add_days(&end, 1);
	}
	s->dur = recur_duration(PQgetvalue(s->res, row, OCC_TZ), start, &end, s->all_day);
	return 0;
}

static int named_incomplete(const struct occset *s, const char *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(s->incomplete, i, v)
	{
		if (!strcmp(json_string_value(v), id))
			return 1;
	}
	return 0;
}

/* Whether the rule's occurrences of the series being expanded (items
 * first to end, in the order of their start: the rule's) have one
 * starting at instant u: RFC 5545 (3.8.5.3) counts an RDATE that is also
 * an instance of the rule once, so that one override or EXDATE of it
 * takes the only one away. Both or neither were of the window: the same
 * instant, the same wall time. */
static int expanded_at(const struct occset *s, size_t first, size_t end, int64_t u)
{
	if (first == end)
		return 0; /* (items may be NULL) */
	size_t i = first + recur_instant_index(s->items + first, end - first, sizeof(*s->items),
	                                       offsetof(struct occ, start_utc), u);
	return i < end && s->items[i].start_utc == u;
}

static void expand_series(struct occset *s, int row)
{
	struct civil start;
	if (named_incomplete(s, PQgetvalue(s->res, row, OCC_ID)) || read_row_times(s, row, &start))
		return;
	s->row = row;
	s->exdates = json_loads(PQgetvalue(s->res, row, OCC_EXDATES), 0, NULL);
	const char *tz = PQgetvalue(s->res, row, OCC_TZ);
	const char *rrule =
	    PQgetisnull(s->res, row, OCC_RRULE) ? NULL : PQgetvalue(s->res, row, OCC_RRULE);
	/* Each series within a budget of its own, and all of them within the
	 * caller's. */
	struct recur_budget budget;
	int64_t left = s->spent.limit_us - s->spent.spent_us;
	recur_budget_init(&budget, RECUR_MAX_ITERATIONS, RECUR_BUDGET_MS);
	if (budget.limit_us > left)
		budget.limit_us = left;
	int64_t lo = s->from - s->dur > s->lo ? s->from - s->dur : s->lo;
	size_t first = s->n;
	long got = recur_expand_window(rrule, tz, &start, s->all_day, lo, s->until, &budget,
	                               on_occurrence, s);
	s->spent.spent_us += budget.spent_us;
	if (got == RECUR_EXHAUSTED)
		json_array_append_new(s->incomplete, json_string(PQgetvalue(s->res, row, OCC_ID)));
	size_t ruled = s->n;
	if (got >= 0 || got == RECUR_EXHAUSTED) {
		json_t *rdates = json_loads(PQgetvalue(s->res, row, OCC_RDATES), 0, NULL);
		size_t i;
		json_t *v;
		json_array_foreach(rdates, i, v)
		{
			struct civil c;
			int64_t u;
			if (!civil_parse(json_string_value(v), s->all_day, &c) &&
			    tz_to_utc(tz, &c, &u) != TZ_UNKNOWN && !expanded_at(s, first, ruled, u))
				on_occurrence(&c, u, s);
		}
		json_decref(rdates);
	}
	json_decref(s->exdates);
	s->exdates = NULL;
}

/* Whether rid is an occurrence of the series in row. */
static int series_row_has(struct occset *s, int row, const char *rid)
{
	struct civil start, at;
	int all_day = PQgetvalue(s->res, row, OCC_ALLDAY)[0] == 't';
	if (civil_parse(PQgetvalue(s->res, row, OCC_START), all_day, &start) ||
	    civil_parse(rid, all_day, &at))
		return 0;
	json_t *ex = json_loads(PQgetvalue(s->res, row, OCC_EXDATES), 0, NULL);
	json_t *rd = json_loads(PQgetvalue(s->res, row, OCC_RDATES), 0, NULL);
	int has = recur_is_occurrence(
	    PQgetisnull(s->res, row, OCC_RRULE) ? NULL : PQgetvalue(s->res, row, OCC_RRULE),
	    PQgetvalue(s->res, row, OCC_TZ), &start, all_day, ex, rd, &at);
	json_decref(ex);
	json_decref(rd);
	return has;
}

/* Whether the occurrence rid of the series in row is of the window but
 * was not expanded (it starts before lo or from until on): an override of
 * it shows where it is now, as if it had been found, cancelled or not. */
static int replaced_unexpanded(struct occset *s, int row, const char *rid)
{
	struct civil start, at, end;
	int64_t at_utc;
	if (s->lo == INT64_MIN && s->until == s->to)
		return 0;
	const char *tz = PQgetvalue(s->res, row, OCC_TZ);
	if (read_row_times(s, row, &start) || civil_parse(rid, s->all_day, &at) ||
	    tz_to_utc(tz, &at, &at_utc) == TZ_UNKNOWN)
		return 0;
	int64_t end_utc = recur_end(tz, s->all_day, &at, at_utc, s->dur, &end);
	return overlaps_window(s, at_utc, end_utc) &&
	       !(overlaps(s, at_utc, end_utc) && at_utc >= s->lo);
}

/* Puts override row in place of its occurrence, or adds it when the
 * occurrence it replaces lies outside the window but it does not. */
static void apply_override(struct occset *s, int row)
{
	const char *series = PQgetvalue(s->res, row, OCC_SERIES);
	const char *rid = PQgetvalue(s->res, row, OCC_RID);
	int series_row = -1;
	for (int i = 0; i < PQntuples(s->res); i++)
		if (PQgetisnull(s->res, i, OCC_SERIES) &&
		    !strcmp(PQgetvalue(s->res, i, OCC_ID), series))
			series_row = i;
	if (series_row < 0)
		return;
	struct civil start;
	int64_t start_utc;
	if (read_row_times(s, row, &start) ||
	    tz_to_utc(PQgetvalue(s->res, row, OCC_TZ), &start, &start_utc) == TZ_UNKNOWN)
		return;
	struct occ o = {.row = row, .series_row = series_row};
	occ_fill(s, &o, &start, start_utc, PQgetvalue(s->res, row, OCC_TZ));
	snprintf(o.rid, sizeof(o.rid), "%s", rid);
	for (size_t i = 0; i < s->n; i++) {
		struct occ *x = &s->items[i];
		if (x->series_row == series_row && !strcmp(x->rid, rid)) {
			if (overlaps(s, o.start_utc, o.end_utc)) {
				*x = o;
			} else {
				s->items[i] = s->items[--s->n];
			}
			return;
		}
	}
	/* No occurrence of the window to replace: the override shows where it
	 * is now if it names an occurrence of its series outside the window
	 * (moved into it). One that names none (its series moved away from
	 * it), or that is cancelled, shows nothing, as in feeds. */
	if (overlaps(s, o.start_utc, o.end_utc) &&
	    (strcmp(PQgetvalue(s->res, row, OCC_STATUS), "cancelled") != 0 ||
	     replaced_unexpanded(s, series_row, rid)) &&
	    series_row_has(s, series_row, rid))
		occ_push(s, &o);
}

const char *occ_event_id(const struct occset *s, const struct occ *o)
{
	return PQgetvalue(s->res, o->series_row, OCC_ID);
}

static int occ_cmp(const void *pa, const void *pb, void *arg)
{
	const struct occset *s = arg;
	const struct occ *a = pa, *b = pb;
	if (a->start_utc != b->start_utc)
		return a->start_utc < b->start_utc ? -1 : 1;
	int c = strcmp(occ_event_id(s, a), occ_event_id(s, b));
	return c ? c : strcmp(a->rid, b->rid);
}

int occset_begin(struct occset *s, const PGresult *res, int64_t from, int64_t to, size_t max,
                 int64_t budget_ms)
{
	memset(s, 0, sizeof(*s));
	s->res = res;
	s->from = from;
	s->to = to;
	s->lo = INT64_MIN;
	s->until = to;
	s->max = max;
	s->incomplete = json_array();
	recur_budget_init(&s->spent, 0, budget_ms);
	return s->incomplete ? 0 : -1;
}

void occset_narrow(struct occset *s, int64_t lo, int64_t until)
{
	s->lo = lo;
	s->until = until < s->to ? until : s->to;
}

/* A series that ran out of time stays named and is not tried again: it
 * would run out again, further on. */
void occset_restart(struct occset *s, int64_t until)
{
	s->n = 0;
	s->overflow = 0;
	s->phase = s->next = 0;
	s->until = until < s->to ? until : s->to;
	s->spent.spent_us = 0;
}

/* The phases: the series' own occurrences, then the overrides, then the
 * order. */
enum { PHASE_SERIES, PHASE_OVERRIDES, PHASE_SORT, PHASE_DONE };

int occset_step(struct occset *s, int64_t slice_us)
{
	int64_t t0 = now_monotonic_us();
	int n = PQntuples(s->res);
	while (!s->overflow && s->phase < PHASE_SORT) {
		if (s->next == n) {
			s->phase++;
			s->next = 0;
			continue;
		}
		int row = s->next++;
		int is_override = !PQgetisnull(s->res, row, OCC_SERIES);
		if (s->phase == PHASE_SERIES && !is_override)
			expand_series(s, row);
		else if (s->phase == PHASE_OVERRIDES && is_override)
			apply_override(s, row);
		else
			continue;
		if (now_monotonic_us() - t0 >= slice_us)
			break;
	}
	if (s->overflow)
		return -1;
	if (s->phase < PHASE_SORT)
		return 1;
	if (s->phase == PHASE_SORT && s->n > 1)
		qsort_r(s->items, s->n, sizeof(*s->items), occ_cmp, s);
	s->phase = PHASE_DONE;
	return 0;
}

void occset_free(struct occset *s)
{
	json_decref(s->incomplete);
	free(s->items);
	s->incomplete = NULL;
	s->items = NULL;
	s->n = s->cap = 0;
}

void occset_next_slice(struct event *slice)
{
	static const struct timeval now = {0, 0};
	evtimer_add(slice, &now);
}
