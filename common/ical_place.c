/* ical_place.c - an override placed on its master (ical_import.h:
 * ical_import_place_rid): its RECURRENCE-ID restated in the master's wall
 * time, walking the master's occurrences once for all its overrides. */
#include "ical_import.h"
#include "ical_int.h"

#include <string.h>

/* ---- overrides ------------------------------------------------------------------------ */

struct ical_walk {
	char id[64];
	struct recur_walk *it;
	int64_t *walls; /* wall times (as seconds) walked so far, ascending */
	size_t n, cap;
	int done;
};

struct ical_walk *ical_walk_new(void)
{
	return calloc(1, sizeof(struct ical_walk));
}

static void walk_reset(struct ical_walk *w)
{
	recur_walk_free(w->it);
	w->it = NULL;
	w->n = 0;
	w->done = 0;
	w->id[0] = '\0';
}

void ical_walk_free(struct ical_walk *w)
{
	if (!w)
		return;
	walk_reset(w);
	free(w->walls);
	free(w);
}

static int walk_push(struct ical_walk *w, int64_t t)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		int64_t *bigger = realloc(w->walls, cap * sizeof(*bigger));
		if (!bigger)
			return -1;
		w->walls = bigger;
		w->cap = cap;
	}
	w->walls[w->n++] = t;
	return 0;
}

/* Starts walking m (unless w walks it already). */
static int walk_start(struct ical_walk *w, const struct ical_master *m, const struct civil *start)
{
	if (w->id[0] && m->id && !strcmp(w->id, m->id))
		return 0;
	walk_reset(w);
	snprintf(w->id, sizeof(w->id), "%s", m->id ? m->id : "");
	if (!m->rrule) {
		w->done = 1;
		return walk_push(w, civil_to_epoch(start));
	}
	w->it = recur_walk_new(m->rrule, m->timezone, start, m->all_day);
	w->done = !w->it;
	return 0;
}

/* Walks on until wall time target (or the rule's end); -1 when the budget
 * ran out. */
static int walk_to(struct ical_walk *w, int64_t target, struct recur_budget *b)
{
	while (!w->done && (w->n == 0 || w->walls[w->n - 1] < target)) {
		struct civil c;
		int got = recur_walk_next(w->it, b, &c);
		if (got == RECUR_EXHAUSTED)
			return -1;
		if (got == 0) {
			w->done = 1;
			break;
		}
		if (walk_push(w, civil_to_epoch(&c)))
			return -1;
	}
	return 0;
}

/* The first wall time walked at or after t. */
static size_t walk_lower(const struct ical_walk *w, int64_t t)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->walls[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int ical_import_place_rid(const struct ical_master *m, json_t *rid, int override_all_day,
                          char out[CIVIL_LEN], struct ical_walk *walk, struct recur_budget *budget)
{
	const char *local = json_string_value(json_object_get(rid, "local"));
	int date = json_is_true(json_object_get(rid, "date"));
	json_t *utc = json_object_get(rid, "utc");
	struct civil start, c;
	if (!local || !m->timezone || !m->start || civil_parse(m->start, m->all_day, &start) ||
	    civil_parse(local, date, &c) || override_all_day != m->all_day ||
	    (!m->rrule && !json_array_size(m->rdates)))
		return -1;
	/* Of an all-day series, a DATE-TIME RECURRENCE-ID names the day it is
	 * written on (as its EXDATEs: ical_restate), not its instant's day in
	 * the series' zone. */
	if (utc && json_is_integer(utc) && !m->all_day &&
	    tz_from_utc(m->timezone, json_integer_value(utc), &c) != TZ_OK)
		return -1;
	if (m->all_day)
		c.hour = c.minute = c.second = 0;
	/* A date names the series' occurrence on that day (of a timed series). */
	int day = date && !m->all_day;
	struct civil next = c;
	next.hour = next.minute = next.second = 0;
	civil_add_days(&next, 1);
	int64_t from = civil_to_epoch(&c), to = day ? civil_to_epoch(&next) - 1 : from;
	if (walk_start(walk, m, &start))
		return -2;
	if (walk_to(walk, to, budget))
		return -2;
	/* Candidates: the walked rule instances in [from, to], and the RDATEs.
	 * An instance the clocks skip is named by its real wall time, later
	 * than the one walked (ical_real_wall), as the API names it: instances
	 * up to a day before from are looked at for that. */
	int found = 0;
	int64_t best = 0;
	for (size_t i = walk_lower(walk, from - (m->all_day ? 0 : 86400));
	     i < walk->n && walk->walls[i] <= to; i++) {
		char s[CIVIL_LEN];
		int64_t t = walk->walls[i];
		struct civil real;
		civil_from_epoch(t, &real);
		if (!m->all_day && ical_real_wall(m->timezone, &real))
			t = civil_to_epoch(&real);
		if (t < from || t > to)
			continue;
		ical_format_wall(t, m->all_day, s);
		if (!recur_excluded(m->exdates, s) && (!found || t < best)) {
			best = t;
			found = 1;
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach(m->rdates, i, v)
	{
		int64_t t = ical_wall(json_string_value(v), m->all_day);
		if (t >= from && t <= to && !recur_excluded(m->exdates, json_string_value(v)) &&
		    (!found || t < best)) {
			best = t;
			found = 1;
		}
	}
	if (!found)
		return -1;
	ical_format_wall(best, m->all_day, out);
	return 0;
}
