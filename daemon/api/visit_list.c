/* visit_list.c - GET /v1/visits: the visits a caller may see, by arrival,
 * cursor-paged, with the filters every list takes (filters.c: org,
 * partner, city, country, visit, q, from/to on the visit's own event)
 * and its own: direction, status, and person (the visits of which
 * someone is a delegate, for an org party to them). */
#include "api/filters.h"
#include "api/jsonv.h"
#include "api/visit_op.h"
#include "api/visits.h"
#include "api/visits_sql.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vlist {
	struct req *r;
	int limit;
};

static void on_list(PGresult *res, void *arg)
{
	struct vlist *vl = arg;
	struct req *r = vl->r;
	int limit = vl->limit;
	free(vl);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	int n = PQntuples(res), rc = b ? 0 : -1;
	rc |= b ? evbuffer_add(b, "{\"items\":[", 10) : -1;
	for (int i = 0; rc == 0 && i < n && i < limit; i++) {
		if (i)
			rc |= evbuffer_add(b, ",", 1);
		rc |= evbuffer_add(b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	}
	if (rc == 0 && n > limit)
		rc |= evbuffer_add_printf(b, "],\"next_cursor\":\"%s_%s\"}\n",
		                          PQgetvalue(res, limit - 1, 1),
		                          PQgetvalue(res, limit - 1, 2)) < 0;
	else if (rc == 0)
		rc |= evbuffer_add(b, "],\"next_cursor\":null}\n", 22);
	if (rc != 0) {
		if (b)
			evbuffer_free(b);
		reply_problem(r, 500, "out of memory");
		return;
	}
	size_t len = evbuffer_get_length(b);
	reply_raw(r, 200, "application/json", evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
}

/* direction= and status= of the list, as conditions on v. */
static void list_enum(struct req *r, struct listq *q, const char *name, const char *const *values,
                      json_t *errors)
{
	json_t *vals = filters_values(r, name);
	size_t i;
	json_t *v;
	json_array_foreach(vals, i, v)
	{
		char f[32];
		snprintf(f, sizeof(f), "%s[%zu]", name, i);
		json_t *one = json_pack("{s:O}", "v", v);
		if (!one)
			jv_error(errors, f, "out of memory");
		else
			visit_pick(one, "v", f, values, NULL, errors);
		json_decref(one);
	}
	if (vals && !json_array_size(vals))
		jv_error(errors, name, "must not be empty");
	char *text = vals && !json_array_size(errors) ? json_dumps(vals, JSON_COMPACT) : NULL;
	if (text && !strcmp(name, "direction"))
		evbuffer_add_printf(q->sql, SQL_VISIT_LIST_ENUM("direction"), listq_param(q, text));
	else if (text)
		evbuffer_add_printf(q->sql, SQL_VISIT_LIST_ENUM("status"), listq_param(q, text));
	free(text);
	json_decref(vals);
}

/* person= lists the visits of which someone is a delegate (for an org
 * party to them): taken out of the query before the shared filters, for
 * which a person is someone an item names. */
static void list_person(struct req *r, struct listq *q, json_t *errors)
{
	json_t *vals = filters_values(r, "person");
	while (evhttp_find_header(&r->query, "person"))
		evhttp_remove_header(&r->query, "person");
	if (vals && filters_check_values(vals, "person", errors)) {
		char *text = json_dumps(vals, JSON_COMPACT);
		if (!text) {
			jv_error(errors, "person", "out of memory");
			json_decref(vals);
			return;
		}
		int n = listq_param(q, text);
		int me = listq_param(q, r->who.org_id), slug = listq_param(q, r->who.org_slug);
		evbuffer_add_printf(q->sql, SQL_VISIT_LIST_PERSON, n, me, slug);
		free(text);
	} else if (vals && !json_array_size(vals)) {
		jv_error(errors, "person", "must not be empty");
	}
	json_decref(vals);
}

/* One half of the list (half -1: the whole, without from). */
static void list_half(struct evbuffer *out, const struct listq *q, int me, int slug, int lim,
                      int half)
{
	evbuffer_add_printf(out, SQL_VISIT_LIST_HALF, me, slug, me, slug, me, slug);
	evbuffer_add_buffer_reference(out, q->sql);
	if (half >= 0)
		filters_lower_bound(q, half, out);
	evbuffer_add_printf(out, SQL_VISIT_LIST_ORDER, lim);
}

void visits_list(struct req *r)
{
	static const char *const extra[] = {"cursor", "direction", "status", NULL};
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	json_t *errors = json_array();
	struct vlist *vl = malloc(sizeof(*vl));
	if (!q || !sql || !errors || !vl) {
		listq_free(q);
		if (sql)
			evbuffer_free(sql);
		json_decref(errors);
		free(vl);
		reply_problem(r, 500, "out of memory");
		return;
	}
	int me = listq_param(q, r->who.org_id), slug = listq_param(q, r->who.org_slug);
	list_person(r, q, errors);
	filters_apply(r, q, extra, errors);
	list_enum(r, q, "direction", visit_directions, errors);
	list_enum(r, q, "status", visit_statuses, errors);
	if (!json_array_size(errors))
		filters_cursor(r, q, "e.start_utc", "e.id", errors);
	if (json_array_size(errors)) {
		listq_free(q);
		evbuffer_free(sql);
		free(vl);
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
	int limit = listq_param(q, lim);
	filters_halves(sql, q, me, slug, limit, list_half);
	vl->r = r;
	vl->limit = q->limit;
	int rc = evbuffer_add(sql, "", 1) != 0
	             ? -2
	             : dbpool_query_text(r->cx->db_read, (const char *)evbuffer_pullup(sql, -1),
	                                 q->n, q->params, on_list, vl);
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0) {
		free(vl);
		if (rc == -2)
			reply_problem(r, 500, "out of memory");
		else
			reply_unavailable(r);
	}
}
