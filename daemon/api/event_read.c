/* event_read.c - GET /v1/events/{id} (plain columns, the JSON built in
 * C by core/event_json.c) and GET /v1/events (the filters of filters.c,
 * cursor-paged by start; a series is listed when one of its occurrences
 * overlaps the window). */
#include "api/events.h"

#include "api/event_op.h"
#include "api/events_sql.h"
#include "api/filters.h"
#include "api/jsonv.h"
#include "core/event_json.h"
#include "api/row_read.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "recur.h"
#include "tz.h"
#include "validate.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- read ----------------------------------------------------------------- */

const char events_get_sql[] = SQL_EVENT_GET;

/* 304 when the caller holds this version, else the event. */
static void reply_got(struct req *r, const char *json, const char *version)
{
	if (etag_listed(req_header(r, "If-None-Match"), version, ETAG_WEAK)) {
		req_set_etag(r, version);
		reply_empty(r, 304);
	} else {
		reply_event(r, 200, json, version);
	}
}

/* From the cache: who may see the event is decided here, as the query's
 * EV_VISIBLE would. */
static void on_hit(struct req *r, const struct row *row)
{
	if (row_visible(row, r->who.org_id, r->who.org_slug))
		reply_got(r, row->body, row->tag);
	else
		reply_problem(r, 404, "no such event");
}

static void on_get(PGresult *res, void *arg)
{
	struct rowwait *w = arg;
	struct req *r = w->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		row_read_done(w, NULL);
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		row_read_done(w, NULL);
		reply_problem(r, 404, "no such event");
		return;
	}
	char *json = event_json_text(res, 0, 3);
	if (!json) {
		row_read_done(w, NULL);
		reply_problem(r, 500, "out of memory");
		return;
	}
	struct row row = {.body = json,
	                  .len = strlen(json),
	                  .tag = PQgetvalue(res, 0, 0),
	                  .org = PQgetvalue(res, 0, 1),
	                  .slug = PQgetvalue(res, 0, 3 + EVENT_C_ORG),
	                  .partners = PQgetvalue(res, 0, 2),
	                  .network =
	                      !strcmp(PQgetvalue(res, 0, 3 + EVENT_C_VISIBILITY), "network")};
	/* Partners that are not all slugs: kept for nobody (SQL_EVENT_GET). */
	row_read_done(w, PQgetisnull(res, 0, 2) ? NULL : &row);
	reply_got(r, json, row.tag);
	free(json);
}

void events_get(struct req *r)
{
	const char *id = event_id(r);
	if (!id)
		return;
	char key[64];
	snprintf(key, sizeof(key), "event:%s", id);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	row_read(r, key, on_hit, events_get_sql, 3, p, on_get);
}

/* ---- list ------------------------------------------------------------------ */

struct listwait {
	struct req *r;
	int limit;
	int windowed;
	int64_t from, to;
};

/* The query keeps rows whose span overlaps the window; a series is listed
 * only when one of its occurrences does. */
static int row_in_window(const void *arg, const PGresult *res, int i)
{
	const struct listwait *lw = arg;
	int has_rule = !PQgetisnull(res, i, 3);
	if (!lw->windowed || (!has_rule && !strcmp(PQgetvalue(res, i, 9), "[]")))
		return 1;
	int all_day = PQgetvalue(res, i, 5)[0] == 't';
	struct civil start, end;
	if (civil_parse(PQgetvalue(res, i, 6), all_day, &start) ||
	    civil_parse(PQgetvalue(res, i, 7), all_day, &end))
		return 1;
	json_t *ex = json_loads(PQgetvalue(res, i, 8), 0, NULL);
	json_t *rd = json_loads(PQgetvalue(res, i, 9), 0, NULL);
	int in = recur_occurs_in(has_rule ? PQgetvalue(res, i, 3) : NULL, PQgetvalue(res, i, 4),
	                         &start, &end, all_day, ex, rd, lw->from, lw->to);
	json_decref(ex);
	json_decref(rd);
	return in;
}

static void on_list_result(PGresult *res, void *arg)
{
	struct listwait *lw = arg;
	struct req *r = lw->r;
	if (!res)
		reply_unavailable(r);
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		reply_db_error(r, res);
	else
		filters_reply_page(r, res, lw->limit, row_in_window, lw);
	free(lw);
}

/* SELECT ... WHERE <visible> <filters> [<half>] ORDER BY ... LIMIT n */
static void list_half(struct evbuffer *out, const struct listq *q, int me, int slug, int limit,
                      int half)
{
	evbuffer_add_printf(out, SQL_EVENT_LIST_HALF, me, slug);
	evbuffer_add_buffer_reference(out, q->sql);
	if (half >= 0)
		filters_lower_bound(q, half, out);
	evbuffer_add_printf(out, SQL_EVENT_LIST_ORDER, limit);
}

void events_list(struct req *r)
{
	static const char *const extra[] = {"cursor", NULL};
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	json_t *errors = json_array();
	if (!q || !errors || !sql) {
		json_decref(errors);
		if (q)
			listq_free(q);
		if (sql)
			evbuffer_free(sql);
		reply_problem(r, 500, "out of memory");
		return;
	}
	int me = listq_param(q, r->who.org_id), slug = listq_param(q, r->who.org_slug);
	filters_apply(r, q, extra, errors);
	if (!json_array_size(errors))
		filters_cursor(r, q, "e.start_utc", "e.id", errors);
	if (json_array_size(errors)) {
		listq_free(q);
		evbuffer_free(sql);
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
	int limit = listq_param(q, lim); /* a parameter: every page size shares one plan */
	filters_halves(sql, q, me, slug, limit, list_half);
	evbuffer_add(sql, "", 1);
	struct listwait *lw = malloc(sizeof(*lw));
	int rc = -1;
	if (lw) {
		lw->r = r;
		lw->limit = q->limit;
		lw->windowed = q->has_from || q->has_to;
		lw->from = q->has_from ? q->from : INT64_MIN;
		lw->to = q->has_to ? q->to : INT64_MAX;
		rc = dbpool_query_text(r->cx->db_read, (const char *)evbuffer_pullup(sql, -1), q->n,
		                       q->params, on_list_result, lw);
	}
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0) {
		free(lw);
		reply_unavailable(r);
	}
}
