/* occurrences.c - GET /v1/occurrences: every occurrence that overlaps
 * [from, to), recurrences expanded in the event's own zone (a weekly 09:00
 * stays 09:00 local across DST), exdates removed, rdates added, and
 * overrides (events with series_id + recurrence_id) put in place of the
 * occurrence they replace. The window is at most 366 days and the
 * expansion is bounded, so one request costs a bounded amount of work. */
#include "api/occurrences.h"

#include "dbpool.h"
#include "api/occurrences_sql.h"
#include "api/filters.h"
#include "http/http.h"
#include "api/jsonv.h"
#include "recur.h"
#include "http/context.h"
#include "clock.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WINDOW_S    (366LL * 86400)
#define MAX_CANDIDATES  10000
#define MAX_OCCURRENCES 100000
#define OCC_BUDGET_MS   1000 /* all the request's expansions together */

struct occ {
	int64_t start_utc, end_utc;
	int row;             /* the row that describes it (an override's, if any) */
	int series_row;      /* the row of its series */
	char rid[CIVIL_LEN]; /* "" for a one-off event */
	char start[CIVIL_LEN], end[CIVIL_LEN];
};

struct occwork {
	struct req *r; /* NULL for occurrences_expand */
	const PGresult *res;
	int64_t from, to;
	int limit;
	long long cur_t;
	char cur_id[40], cur_rid[CIVIL_LEN];
	int has_cursor;
	struct occ *items;
	size_t n, cap;
	int overflow;
	/* the series being expanded */
	int row;
	int all_day;
	int64_t dur; /* wall-clock length in seconds */
	json_t *exdates;
	/* Series whose expansion ran out of budget: named in the answer, and
	 * told to cut (occurrences_expand's caller). */
	json_t *incomplete;
	occ_cut_fn cut;
	void *arg;
	struct recur_budget spent; /* the whole request's expansions */
};

static int occ_push(struct occwork *w, const struct occ *o)
{
	if (w->n == MAX_OCCURRENCES) {
		w->overflow = 1;
		return -1;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct occ *bigger = realloc(w->items, cap * sizeof(*bigger));
		if (!bigger) {
			w->overflow = 1;
			return -1;
		}
		w->items = bigger;
		w->cap = cap;
	}
	w->items[w->n++] = *o;
	return 0;
}

static int overlaps(const struct occwork *w, int64_t start, int64_t end)
{
	return start < w->to && (end > w->from || start >= w->from);
}

/* Fills the end of an occurrence starting at wall time s. */
static void occ_fill(struct occwork *w, struct occ *o, const struct civil *s, int64_t start_utc,
                     const char *tz)
{
	struct civil e;
	o->start_utc = start_utc;
	o->end_utc = recur_end(tz, s, start_utc, w->dur, &e);
	civil_format(s, w->all_day, o->start);
	civil_format(&e, w->all_day, o->end);
}

static int on_occurrence(const struct civil *s, int64_t start_utc, void *arg)
{
	struct occwork *w = arg;
	struct occ o = {.row = w->row, .series_row = w->row};
	const char *tz = PQgetvalue(w->res, w->row, OCC_TZ);
	occ_fill(w, &o, s, start_utc, tz);
	/* A one-off event has no recurrence id; members of a set of dates do. */
	if (PQgetisnull(w->res, w->row, OCC_RRULE) &&
	    !strcmp(PQgetvalue(w->res, w->row, OCC_RDATES), "[]"))
		o.rid[0] = '\0';
	else
		memcpy(o.rid, o.start, sizeof(o.rid));
	if (recur_excluded(w->exdates, o.start) || !overlaps(w, o.start_utc, o.end_utc))
		return 0;
	return occ_push(w, &o);
}

static int read_row_times(struct occwork *w, int row, struct civil *start)
{
	w->all_day = PQgetvalue(w->res, row, OCC_ALLDAY)[0] == 't';
	if (civil_parse(PQgetvalue(w->res, row, OCC_START), w->all_day, start))
		return -1;
	struct civil end = *start;
	if (!PQgetisnull(w->res, row, OCC_END)) {
		if (civil_parse(PQgetvalue(w->res, row, OCC_END), w->all_day, &end))
			return -1;
	} else if (w->all_day) {
		civil_add_days(&end, 1);
	}
	w->dur = civil_to_epoch(&end) - civil_to_epoch(start);
	return 0;
}

static void expand_series(struct occwork *w, int row)
{
	struct civil start;
	if (read_row_times(w, row, &start))
		return;
	w->row = row;
	w->exdates = json_loads(PQgetvalue(w->res, row, OCC_EXDATES), 0, NULL);
	const char *tz = PQgetvalue(w->res, row, OCC_TZ);
	const char *rrule =
	    PQgetisnull(w->res, row, OCC_RRULE) ? NULL : PQgetvalue(w->res, row, OCC_RRULE);
	/* Each series within a budget of its own, and all of them within the
	 * request's: what runs out is named in the answer, not cut silently. */
	struct recur_budget budget;
	int64_t left = w->spent.limit_us - w->spent.spent_us;
	recur_budget_init(&budget, RECUR_MAX_ITERATIONS, RECUR_BUDGET_MS);
	if (budget.limit_us > left)
		budget.limit_us = left;
	long got = recur_expand_window(rrule, tz, &start, w->all_day, w->from - w->dur, w->to,
	                               &budget, on_occurrence, w);
	w->spent.spent_us += budget.spent_us;
	if (got == RECUR_EXHAUSTED)
		json_array_append_new(w->incomplete, json_string(PQgetvalue(w->res, row, OCC_ID)));
	if (got == RECUR_EXHAUSTED && w->cut)
		w->cut(w->res, row, w->arg);
	if (got >= 0 || got == RECUR_EXHAUSTED) {
		json_t *rdates = json_loads(PQgetvalue(w->res, row, OCC_RDATES), 0, NULL);
		size_t i;
		json_t *v;
		json_array_foreach(rdates, i, v)
		{
			struct civil c;
			int64_t u;
			if (!civil_parse(json_string_value(v), w->all_day, &c) &&
			    tz_to_utc(tz, &c, &u) != TZ_UNKNOWN)
				on_occurrence(&c, u, w);
		}
		json_decref(rdates);
	}
	json_decref(w->exdates);
	w->exdates = NULL;
}

/* Whether rid is an occurrence of the series in row. */
static int series_row_has(struct occwork *w, int row, const char *rid)
{
	struct civil start, at;
	int all_day = PQgetvalue(w->res, row, OCC_ALLDAY)[0] == 't';
	if (civil_parse(PQgetvalue(w->res, row, OCC_START), all_day, &start) ||
	    civil_parse(rid, all_day, &at))
		return 0;
	json_t *ex = json_loads(PQgetvalue(w->res, row, OCC_EXDATES), 0, NULL);
	json_t *rd = json_loads(PQgetvalue(w->res, row, OCC_RDATES), 0, NULL);
	int has = recur_is_occurrence(
	    PQgetisnull(w->res, row, OCC_RRULE) ? NULL : PQgetvalue(w->res, row, OCC_RRULE),
	    PQgetvalue(w->res, row, OCC_TZ), &start, all_day, ex, rd, &at);
	json_decref(ex);
	json_decref(rd);
	return has;
}

/* Puts override row in place of its occurrence, or adds it when the
 * occurrence it replaces lies outside the window but it does not. */
static void apply_override(struct occwork *w, int row)
{
	const char *series = PQgetvalue(w->res, row, OCC_SERIES);
	const char *rid = PQgetvalue(w->res, row, OCC_RID);
	int series_row = -1;
	for (int i = 0; i < PQntuples(w->res); i++)
		if (PQgetisnull(w->res, i, OCC_SERIES) &&
		    !strcmp(PQgetvalue(w->res, i, OCC_ID), series))
			series_row = i;
	if (series_row < 0)
		return;
	struct civil start;
	int64_t start_utc;
	if (read_row_times(w, row, &start) ||
	    tz_to_utc(PQgetvalue(w->res, row, OCC_TZ), &start, &start_utc) == TZ_UNKNOWN)
		return;
	struct occ o = {.row = row, .series_row = series_row};
	occ_fill(w, &o, &start, start_utc, PQgetvalue(w->res, row, OCC_TZ));
	snprintf(o.rid, sizeof(o.rid), "%s", rid);
	for (size_t i = 0; i < w->n; i++) {
		struct occ *x = &w->items[i];
		if (x->series_row == series_row && !strcmp(x->rid, rid)) {
			if (overlaps(w, o.start_utc, o.end_utc)) {
				*x = o;
			} else {
				w->items[i] = w->items[--w->n];
			}
			return;
		}
	}
	/* No occurrence of the window to replace: the override shows where it
	 * is now if it names an occurrence of its series outside the window
	 * (moved into it). One that names none (its series moved away from
	 * it), or that is cancelled, shows nothing, as in feeds. */
	if (overlaps(w, o.start_utc, o.end_utc) &&
	    strcmp(PQgetvalue(w->res, row, OCC_STATUS), "cancelled") != 0 &&
	    series_row_has(w, series_row, rid))
		occ_push(w, &o);
}

static const char *event_id_of(const struct occwork *w, const struct occ *o)
{
	return PQgetvalue(w->res, o->series_row, OCC_ID);
}

static int occ_cmp_ctx(const struct occwork *w, const struct occ *a, const struct occ *b)
{
	if (a->start_utc != b->start_utc)
		return a->start_utc < b->start_utc ? -1 : 1;
	int c = strcmp(event_id_of(w, a), event_id_of(w, b));
	return c ? c : strcmp(a->rid, b->rid);
}

static int occ_cmp(const void *a, const void *b, void *w)
{
	return occ_cmp_ctx(w, a, b);
}

static int after_cursor(const struct occwork *w, const struct occ *o)
{
	if (!w->has_cursor)
		return 1;
	if (o->start_utc != w->cur_t)
		return o->start_utc > w->cur_t;
	int c = strcmp(event_id_of(w, o), w->cur_id);
	return c ? c > 0 : strcmp(o->rid, w->cur_rid) > 0;
}

static json_t *occ_json(const struct occwork *w, const struct occ *o)
{
	char su[21], eu[21];
	rfc3339_utc(o->start_utc, su);
	rfc3339_utc(o->end_utc, eu);
	int r = o->row;
	json_t *j = json_pack(
	    "{s:s, s:o, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "event_id",
	    event_id_of(w, o), "recurrence_id", o->rid[0] ? json_string(o->rid) : json_null(),
	    "title", PQgetvalue(w->res, r, OCC_TITLE), "kind", PQgetvalue(w->res, r, OCC_KIND),
	    "status", PQgetvalue(w->res, r, OCC_STATUS), "timezone", PQgetvalue(w->res, r, OCC_TZ),
	    "all_day", PQgetvalue(w->res, r, OCC_ALLDAY)[0] == 't', "start", o->start, "end",
	    o->end, "start_utc", su, "end_utc", eu);
	if (j && r != o->series_row)
		json_object_set_new(j, "override_id", json_string(PQgetvalue(w->res, r, OCC_ID)));
	return j;
}

static void reply_page(struct occwork *w)
{
	json_t *items = json_array();
	size_t sent = 0, i = 0;
	const struct occ *last = NULL;
	for (; i < w->n && sent < (size_t)w->limit; i++) {
		if (!after_cursor(w, &w->items[i]))
			continue;
		json_array_append_new(items, occ_json(w, &w->items[i]));
		last = &w->items[i];
		sent++;
	}
	json_t *next = json_null();
	if (last && i < w->n) {
		char cur[128];
		snprintf(cur, sizeof(cur), "%lld_%s_%s", (long long)last->start_utc,
		         event_id_of(w, last), last->rid);
		next = json_string(cur);
	}
	json_t *body = json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
	size_t i2;
	json_t *id;
	json_t *warnings = json_array_size(w->incomplete) ? json_array() : NULL;
	json_array_foreach(w->incomplete, i2, id)
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

/* Every series expanded, then the overrides put in place, within
 * OCC_BUDGET_MS for all: 0, or -1 when there were more than
 * MAX_OCCURRENCES (or memory ran out). */
static int expand_rows(struct occwork *w)
{
	recur_budget_init(&w->spent, 0, OCC_BUDGET_MS);
	int n = PQntuples(w->res);
	for (int i = 0; i < n && !w->overflow; i++)
		if (PQgetisnull(w->res, i, OCC_SERIES))
			expand_series(w, i);
	for (int i = 0; i < n && !w->overflow; i++)
		if (!PQgetisnull(w->res, i, OCC_SERIES))
			apply_override(w, i);
	return w->overflow ? -1 : 0;
}

int occurrences_expand(const PGresult *res, int64_t from, int64_t to, occ_each_fn each,
                       occ_cut_fn cut, void *arg)
{
	struct occwork w = {.res = res, .from = from, .to = to, .cut = cut, .arg = arg};
	if (!(w.incomplete = json_array()))
		return -1;
	int rc = expand_rows(&w);
	for (size_t i = 0; rc == 0 && i < w.n; i++)
		each(res, w.items[i].row, w.items[i].start_utc, w.items[i].end_utc, arg);
	json_decref(w.incomplete);
	free(w.items);
	return rc;
}

static void on_candidates(PGresult *res, void *arg)
{
	struct occwork *w = arg;
	struct req *r = w->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		free(w);
		return;
	}
	w->res = res;
	w->incomplete = json_array();
	if (PQntuples(res) > MAX_CANDIDATES * 2) {
		json_decref(w->incomplete);
		free(w);
		reply_problem(r, 422, "too many events in this window; narrow it or filter");
		return;
	}
	if (expand_rows(w) != 0) {
		json_decref(w->incomplete);
		free(w->items);
		free(w);
		reply_problem(r, 422, "too many occurrences in this window; narrow it or filter");
		return;
	}
	if (w->n > 1)
		qsort_r(w->items, w->n, sizeof(*w->items), occ_cmp, w);
	reply_page(w);
	json_decref(w->incomplete);
	free(w->items);
	free(w);
}

static int read_window(struct req *r, struct listq *q, struct occwork *w, json_t *errors)
{
	if (!q->has_from)
		jv_error(errors, "from", "is required");
	if (!q->has_to)
		jv_error(errors, "to", "is required");
	if (q->has_from && q->has_to && q->to <= q->from)
		jv_error(errors, "to", "must be after from");
	else if (q->has_from && q->has_to && q->to - q->from > MAX_WINDOW_S)
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

void occurrences_list(struct req *r)
{
	struct listq *q = listq_new();
	struct occwork *w = calloc(1, sizeof(*w));
	json_t *errors = json_array();
	if (!q || !w || !errors) {
		free(w);
		listq_free(q);
		json_decref(errors);
		reply_problem(r, 500, "out of memory");
		return;
	}
	w->r = r;
	int me = listq_param(q, r->who.org_id), slug = listq_param(q, r->who.org_slug);
	struct evbuffer *sql = evbuffer_new();
	filters_apply(r, q, NULL, errors);
	if (sql && !json_array_size(errors) && read_window(r, q, w, errors)) {
		/* Candidates: series that started before the window and still run,
		 * and those that start in it (two index-friendly halves). */
		evbuffer_add_printf(sql, "WITH cand AS (");
		for (int half = 0; half < 2; half++) {
			evbuffer_add_printf(sql, "%s" SQL_OCC_CANDIDATES, half ? " UNION ALL " : "",
			                    me, slug);
			evbuffer_add_buffer_reference(sql, q->sql);
			filters_lower_bound(q, half, sql);
			evbuffer_add_printf(sql, " LIMIT %d)", MAX_CANDIDATES);
		}
		evbuffer_add_printf(sql, SQL_OCC_MOVED_IN, q->from_param, me, slug);
		evbuffer_add_buffer_reference(sql, q->sql);
		evbuffer_add_printf(sql, SQL_OCC_ROWS, MAX_CANDIDATES);
		evbuffer_add(sql, "", 1);
	}
	if (!sql || json_array_size(errors)) {
		free(w);
		listq_free(q);
		if (sql)
			evbuffer_free(sql);
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	int rc = dbpool_query_text(r->cx->db_read, (const char *)evbuffer_pullup(sql, -1), q->n,
	                           q->params, on_candidates, w);
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0) {
		free(w);
		reply_unavailable(r);
	}
}
