/* occurrences.c - GET /v1/occurrences: every occurrence that overlaps
 * [from, to), recurrences expanded in the event's own zone (a weekly 09:00
 * stays 09:00 local across DST), exdates removed, rdates added, and
 * overrides (events with series_id + recurrence_id) put in place of the
 * occurrence they replace. The window is at most 366 days and the
 * expansion is bounded, so one request costs a bounded amount of work.
 *
 * A page needs only the occurrences up to its last: the expansion starts
 * at the cursor and goes up to a horizon guessed from the rows' density,
 * pushed further (twice as far each time) until the page is full with one
 * to spare or the horizon is the window's end; what starts before the
 * horizon is then all known, so the page is what the whole window's
 * expansion would give. The work is cut into slices between which the
 * worker's loop turns, so that the requests behind it do not wait. */
#include "api/occurrences.h"

#include "dbpool.h"
#include "api/occ_expand.h"
#include "api/occurrences_sql.h"
#include "api/filters.h"
#include "http/http.h"
#include "api/jsonv.h"
#include "recur.h"
#include "http/context.h"
#include "clock.h"
#include "validate.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WINDOW_S    (366LL * 86400)
#define MAX_CANDIDATES  10000
#define MAX_OCCURRENCES 100000
#define OCC_BUDGET_MS   1000 /* all the request's expansions together */
#define OCC_SLICE_US    2000 /* the loop turns between slices of this much work */

struct occwork {
	struct req *r;
	PGresult *res; /* the rows, kept while the slices run */
	struct event *slice;
	struct occset set;
	int limit;
	long long cur_t;
	char cur_id[40], cur_rid[CIVIL_LEN];
	int has_cursor;
	int64_t from, to;
	int64_t start; /* where the expansion starts: from, or the cursor's time */
	int late;      /* candidates asked for that start from there on */
	int64_t cut;   /* the start of the last of them, when there were more */
	int passes;    /* over these rows */
	/* Carried over when more rows are asked for: the series that ran out
	 * of time. */
	json_t *named;
};

static int ask_candidates(struct occwork *w);

static int after_cursor(const struct occwork *w, const struct occ *o)
{
	if (!w->has_cursor)
		return 1;
	if (o->start_utc != w->cur_t)
		return o->start_utc > w->cur_t;
	int c = strcmp(occ_event_id(&w->set, o), w->cur_id);
	return c ? c > 0 : strcmp(o->rid, w->cur_rid) > 0;
}

static json_t *occ_json(const struct occwork *w, const struct occ *o)
{
	char su[21], eu[21];
	rfc3339_utc(o->start_utc, su);
	rfc3339_utc(o->end_utc, eu);
	int r = o->row;
	const PGresult *res = w->set.res;
	json_t *j =
	    json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "event_id",
	              occ_event_id(&w->set, o), "recurrence_id",
	              o->rid[0] ? json_string(o->rid) : json_null(), "title",
	              PQgetvalue(res, r, OCC_TITLE), "kind", PQgetvalue(res, r, OCC_KIND), "status",
	              PQgetvalue(res, r, OCC_STATUS), "timezone", PQgetvalue(res, r, OCC_TZ),
	              "all_day", PQgetvalue(res, r, OCC_ALLDAY)[0] == 't', "start", o->start, "end",
	              o->end, "start_utc", su, "end_utc", eu);
	if (j && r != o->series_row)
		json_object_set_new(j, "override_id", json_string(PQgetvalue(res, r, OCC_ID)));
	return j;
}

static void reply_page(struct occwork *w)
{
	json_t *items = json_array();
	size_t sent = 0, i = 0;
	const struct occ *last = NULL;
	const struct occset *set = &w->set;
	for (; i < set->n && sent < (size_t)w->limit; i++) {
		if (!after_cursor(w, &set->items[i]))
			continue;
		json_array_append_new(items, occ_json(w, &set->items[i]));
		last = &set->items[i];
		sent++;
	}
	json_t *next = json_null();
	if (last && i < set->n) {
		char cur[128];
		snprintf(cur, sizeof(cur), "%lld_%s_%s", (long long)last->start_utc,
		         occ_event_id(set, last), last->rid);
		next = json_string(cur);
	}
	json_t *body = json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
	size_t i2;
	json_t *id;
	json_t *warnings = json_array_size(set->incomplete) ? json_array() : NULL;
	json_array_foreach(set->incomplete, i2, id)
	{
		json_array_append_new(
		    warnings,
		    json_pack("{s:O, s:s}", "event_id", id, "message",
		              "this series could not be expanded within the time allowed: "
		              "its occurrences in this window are missing"));
	}
	if (body && warnings)
		json_object_set_new(body, "warnings", warnings);
	else
		json_decref(warnings);
	reply_json(w->r, 200, body);
}

static void work_free(struct occwork *w)
{
	occset_free(&w->set);
	if (w->slice)
		event_free(w->slice);
	PQclear(w->res);
	json_decref(w->named);
	free(w);
}

/* The occurrences expanded so far that come after the cursor. They decide
 * the page when they are all of the window's, or the page's and one more
 * (which starts before the horizon, as every one found does). */
static size_t found_after(const struct occwork *w)
{
	size_t after = 0;
	for (size_t i = 0; i < w->set.n; i++)
		after += after_cursor(w, &w->set.items[i]);
	return after;
}

/* A page not decided by the horizon (found: the occurrences after the
 * cursor): 1 when the expansion goes on further, 0 when more rows were
 * asked for, -1 when that failed (answered). Further is where the page
 * would end at the density found, with room to spare, twice as far at
 * least; the third time, as far as the rows cover. */
static int go_further(struct occwork *w, size_t found)
{
	int64_t until = w->set.until, cover = w->cut < w->to ? w->cut : w->to;
	if (until < cover) {
		int64_t span = until - w->start, further = cover;
		if (found && ++w->passes < 3 && span < (cover - w->start) / 2)
			further = w->start + span * 2 * ((int64_t)w->limit + 1) / (int64_t)found;
		if (further < w->start + 2 * span)
			further = w->start + 2 * span;
		occset_restart(&w->set, further < cover ? further : cover);
		return 1;
	}
	/* The rows ran out first: four times as many. */
	json_decref(w->named);
	w->named = json_incref(w->set.incomplete);
	occset_free(&w->set);
	PQclear(w->res);
	w->res = NULL;
	w->late = w->late * 4 < MAX_CANDIDATES ? w->late * 4 : MAX_CANDIDATES;
	return ask_candidates(w) == 0 ? 0 : -1;
}

static void on_slice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct occwork *w = arg;
	int rc = occset_step(&w->set, OCC_SLICE_US);
	size_t found = 0;
	if (rc == 0 && w->set.until < w->to && (found = found_after(w)) <= (size_t)w->limit) {
		rc = go_further(w, found);
		if (rc == 0)
			return;
		if (rc < 0) {
			work_free(w);
			return;
		}
	}
	if (rc == 1) {
		occset_next_slice(w->slice);
		return;
	}
	if (rc < 0)
		reply_problem(w->r, 422,
		              "too many occurrences in this window; narrow it or filter");
	else
		reply_page(w);
	work_free(w);
}

/* How far the expansion goes at first: as far as the page would reach if
 * each event had one occurrence in the window and each series one a week
 * (with half as much again to spare), a day at least, and no further than
 * the rows cover when the later ones were cut. */
static void first_horizon(struct occwork *w, const PGresult *res)
{
	int64_t window = w->to - w->start, once = 0, weekly = 0;
	for (int i = 0; i < PQntuples(res); i++)
		if (PQgetisnull(res, i, OCC_SERIES))
			PQgetisnull(res, i, OCC_RRULE) ? once++ : weekly++;
	/* items per second: once / window + weekly / week */
	double rate = (double)once / (double)window + (double)weekly / (7 * 86400.0);
	double span = rate > 0 ? 1.5 * (w->limit + 1) / rate : (double)window;
	if (span > (double)window)
		span = (double)window;
	if (span < 86400)
		span = 86400;
	int64_t until = w->start + (int64_t)span;
	occset_narrow(&w->set, w->start > w->from ? w->start : INT64_MIN,
	              until < w->cut ? until : w->cut);
}

static void on_candidates(PGresult *res, void *arg)
{
	struct occwork *w = arg;
	struct req *r = w->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) > MAX_CANDIDATES * 2) {
		reply_problem(r, 422, "too many events in this window; narrow it or filter");
	} else if (!(w->res = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES)) ||
	           (!w->slice && !(w->slice = evtimer_new(r->cx->base, on_slice, w))) ||
	           occset_begin(&w->set, w->res, w->from, w->to, MAX_OCCURRENCES, OCC_BUDGET_MS) !=
	               0) {
		reply_problem(r, 500, "out of memory");
	} else {
		if (w->named)
			json_array_extend(w->set.incomplete, w->named);
		w->passes = 0;
		int n = PQntuples(res);
		w->cut = INT64_MAX;
		for (int i = 0; i < n && w->cut == INT64_MAX; i++)
			if (!PQgetisnull(res, i, OCC_NCOLS))
				w->cut = strtoll(PQgetvalue(res, i, OCC_NCOLS), NULL, 10);
		first_horizon(w, res);
		on_slice(-1, 0, w);
		return;
	}
	work_free(w);
}

static int read_window(struct req *r, struct listq *q, struct occwork *w, json_t *errors)
{
	if (!q->has_from)
		jv_error(errors, "from", "is required");
	if (!q->has_to)
		jv_error(errors, "to", "is required");
	/* to <= from: filters_apply refused it already. */
	if (q->has_from && q->has_to && q->to > q->from && q->to - q->from > MAX_WINDOW_S)
		jv_error(errors, "to", "the window may span at most 366 days");
	w->from = q->from;
	w->to = q->to;
	w->limit = q->limit;
	const char *cur = req_query(r, "cursor");
	if (cur) {
		w->cur_rid[0] = '\0';
		if (strlen(cur) > 100 ||
		    sscanf(cur, "%lld_%36[0-9a-f-]_%19[0-9T:-]", &w->cur_t, w->cur_id, w->cur_rid) <
		        2 ||
		    !valid_uuid(w->cur_id))
			jv_error(errors, "cursor", "not a cursor this server gave out");
		w->has_cursor = 1;
	}
	return json_array_size(errors) == 0;
}

/* The statement for the candidates (SQL_OCC_*), the window and cursor
 * read and checked into w; NULL with errors. */
static struct evbuffer *candidates_sql(struct occwork *w, struct listq *q, json_t *errors)
{
	struct req *r = w->r;
	int me = listq_param(q, r->who.org_id), slug = listq_param(q, r->who.org_slug);
	struct evbuffer *sql = evbuffer_new();
	filters_apply(r, q, NULL, errors);
	if (!sql || json_array_size(errors) || !read_window(r, q, w, errors)) {
		if (sql)
			evbuffer_free(sql);
		return NULL;
	}
	char lo[24];
	if (!w->late)
		w->late = 2 * w->limit + 2;
	w->start = w->has_cursor && w->cur_t > w->from ? w->cur_t : w->from;
	if (w->start > w->to) /* a cursor past the window: nothing after it */
		w->start = w->to;
	snprintf(lo, sizeof(lo), "%lld", (long long)w->start);
	int plo = listq_param(q, lo);
	int rc = plo < 0 || me < 0 || slug < 0;
	rc = rc || evbuffer_add_printf(sql, "WITH early AS " SQL_OCC_CANDIDATES, me, slug) < 0 ||
	     evbuffer_add_buffer_reference(sql, q->sql) != 0 ||
	     evbuffer_add_printf(sql, SQL_OCC_BEFORE_LO, plo, plo, plo, MAX_CANDIDATES) < 0 ||
	     evbuffer_add_printf(sql, "late AS " SQL_OCC_CANDIDATES, me, slug) < 0 ||
	     evbuffer_add_buffer_reference(sql, q->sql) != 0 ||
	     evbuffer_add_printf(sql, SQL_OCC_FROM_LO, plo, w->late) < 0 ||
	     evbuffer_add_printf(sql, SQL_OCC_MOVED_IN, q->from_param, me, slug) < 0 ||
	     evbuffer_add_buffer_reference(sql, q->sql) != 0 ||
	     evbuffer_add_printf(sql, SQL_OCC_ROWS, MAX_CANDIDATES, w->late) < 0 ||
	     evbuffer_add(sql, "", 1) != 0;
	if (rc) {
		evbuffer_free(sql);
		jv_error(errors, "filters", "too many filters");
		return NULL;
	}
	return sql;
}

/* Asks for the candidates: 0, or -1 having answered. */
static int ask_candidates(struct occwork *w)
{
	struct req *r = w->r;
	struct listq *q = listq_new();
	json_t *errors = json_array();
	if (!q || !errors) {
		listq_free(q);
		json_decref(errors);
		reply_problem(r, 500, "out of memory");
		return -1;
	}
	struct evbuffer *sql = candidates_sql(w, q, errors);
	if (!sql) {
		listq_free(q);
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return -1;
	}
	json_decref(errors);
	/* Planned for its window every time: the generic plan guesses a few
	 * events in any window, and sorts all of a year's to keep the first
	 * 2 x limit, where the window's own plan reads them in order
	 * (PGSS=1 RATE=40 sh tests/bench/mixed.sh). */
	int rc = dbpool_query_planned(r->cx->db_read, (const char *)evbuffer_pullup(sql, -1), q->n,
	                              q->params, on_candidates, w);
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0) {
		reply_unavailable(r);
		return -1;
	}
	return 0;
}

void occurrences_list(struct req *r)
{
	struct occwork *w = calloc(1, sizeof(*w));
	if (!w) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	w->r = r;
	if (ask_candidates(w) != 0)
		free(w);
}

/* An expansion for another caller (occurrences.h), a slice at a time. */
struct occexpand {
	struct occset set;
	struct event *slice;
	occ_each_fn each;
	occ_cut_fn cut;
	occ_done_fn done;
	void *arg;
};

static void expand_free(struct occexpand *x)
{
	occset_free(&x->set);
	if (x->slice)
		event_free(x->slice);
	free(x);
}

/* Then the occurrences in order, and the series that ran out, by row: a
 * series is the row with its id and no series of its own. */
static void on_expand_slice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct occexpand *x = arg;
	int rc = occset_step(&x->set, OCC_SLICE_US);
	if (rc == 1) {
		occset_next_slice(x->slice);
		return;
	}
	const struct occset *s = &x->set;
	for (size_t i = 0; rc == 0 && i < s->n; i++)
		x->each(s->res, s->items[i].row, s->items[i].start_utc, s->items[i].end_utc,
		        x->arg);
	size_t k;
	json_t *id;
	json_array_foreach(s->incomplete, k, id)
	{
		for (int row = 0; x->cut && rc == 0 && row < PQntuples(s->res); row++)
			if (PQgetisnull(s->res, row, OCC_SERIES) &&
			    !strcmp(PQgetvalue(s->res, row, OCC_ID), json_string_value(id)))
				x->cut(s->res, row, x->arg);
	}
	occ_done_fn done = x->done;
	void *done_arg = x->arg;
	expand_free(x);
	done(rc < 0 ? -1 : 0, done_arg);
}

int occurrences_expand(struct event_base *base, const PGresult *res, int64_t from, int64_t to,
                       occ_each_fn each, occ_cut_fn cut, occ_done_fn done, void *arg)
{
	struct occexpand *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	*x = (struct occexpand){.each = each, .cut = cut, .done = done, .arg = arg};
	if (occset_begin(&x->set, res, from, to, MAX_OCCURRENCES, OCC_BUDGET_MS) != 0 ||
	    !(x->slice = evtimer_new(base, on_expand_slice, x))) {
		expand_free(x);
		return -1;
	}
	occset_next_slice(x->slice);
	return 0;
}
