/* occurrences.c - GET /v1/occurrences: every occurrence that overlaps
 * [from, to), recurrences expanded in the event's own zone (a weekly 09:00
 * stays 09:00 local across DST), exdates removed, rdates added, and
 * overrides (events with series_id + recurrence_id) put in place of the
 * occurrence they replace. The window is at most 366 days and the
 * expansion is bounded, so one request costs a bounded amount of work. */
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WINDOW_S    (366LL * 86400)
#define MAX_CANDIDATES  10000
#define MAX_OCCURRENCES 100000
#define OCC_BUDGET_MS   1000 /* all the request's expansions together */

struct occwork {
	struct req *r;
	struct occset set;
	int limit;
	long long cur_t;
	char cur_id[40], cur_rid[CIVIL_LEN];
	int has_cursor;
	int64_t from, to;
};

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

static void on_candidates(PGresult *res, void *arg)
{
	struct occwork *w = arg;
	struct req *r = w->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) > MAX_CANDIDATES * 2) {
		reply_problem(r, 422, "too many events in this window; narrow it or filter");
	} else if (occset_expand(&w->set, res, w->from, w->to, MAX_OCCURRENCES, OCC_BUDGET_MS)) {
		reply_problem(r, 422, "too many occurrences in this window; narrow it or filter");
	} else {
		reply_page(w);
	}
	occset_free(&w->set);
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

int occurrences_expand(const PGresult *res, int64_t from, int64_t to, occ_each_fn each,
                       occ_cut_fn cut, void *arg)
{
	struct occset s;
	int rc = occset_expand(&s, res, from, to, MAX_OCCURRENCES, OCC_BUDGET_MS);
	for (size_t i = 0; rc == 0 && i < s.n; i++)
		each(res, s.items[i].row, s.items[i].start_utc, s.items[i].end_utc, arg);
	/* The series that ran out, by row: a series is the row with its id
	 * and no series of its own. */
	size_t k;
	json_t *id;
	json_array_foreach(s.incomplete, k, id)
	{
		for (int row = 0; cut && rc == 0 && row < PQntuples(res); row++)
			if (PQgetisnull(res, row, OCC_SERIES) &&
			    !strcmp(PQgetvalue(res, row, OCC_ID), json_string_value(id)))
				cut(res, row, arg);
	}
	occset_free(&s);
	return rc;
}
