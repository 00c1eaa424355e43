/* agreement_list.c - GET /v1/agreements: the agreements the caller may
 * see, with the list filters every list takes (filters.c: org, partner,
 * country, q, from/to, limit, and its cursor) and their own: stage
 * (issue 17's names taken too), dormant, expiring. An agreement
 * is in a window [from, to) when its span (AG_STARTS, AG_ENDS) overlaps
 * it. */
#include "api/agreements.h"

#include "api/agreement_op.h"
#include "api/agreements_sql.h"
#include "api/filters.h"
#include "api/jsonv.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct filter_sql values[] = {{"org", AG_FILTER_ORG, "::jsonb)))"},
                                           {"partner", AG_FILTER_PARTNER, "::jsonb))"},
                                           {"country", AG_FILTER_COUNTRY, "::jsonb))))"},
                                           {NULL, NULL, NULL}};
static const char *const search[] = {"a.title", "a.description", NULL};
static const struct filter_target agreements = {values, search, AG_STARTS};

/* stage=...: each a stage (or the name of one), as $n. */
static void stage_param(struct req *r, struct listq *q, json_t *errors)
{
	json_t *vals = filters_values(r, "stage"), *stages = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(vals, i, v)
	{
		const char *s = ag_stage(json_string_value(v));
		char field[32];
		snprintf(field, sizeof(field), "stage[%zu]", i);
		if (!s)
			jv_error(errors, field, ag_stage_fault(json_string_value(v)));
		else if (json_array_append_new(stages, json_string(s)))
			jv_error(errors, "stage", "out of memory");
	}
	if (vals && !json_array_size(vals))
		jv_error(errors, "stage", "must not be empty");
	char *text = vals && json_array_size(stages) ? json_dumps(stages, JSON_COMPACT) : NULL;
	if (text)
		evbuffer_add_printf(q->sql, AG_FILTER_STAGE, listq_param(q, text));
	free(text);
	json_decref(vals);
	json_decref(stages);
}

/* A true/false parameter: its $n, or 0 when it is absent or bad. */
static int bool_param(struct req *r, struct listq *q, const char *name, json_t *errors)
{
	const char *v = req_query(r, name);
	if (v && strcmp(v, "true") && strcmp(v, "false"))
		jv_error(errors, name, "must be true or false");
	else if (v)
		return listq_param(q, v);
	return 0;
}

struct listwait {
	struct req *r;
	int limit;
};

static void on_list(PGresult *res, void *arg)
{
	struct listwait *lw = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		reply_query_failed(lw->r, res);
	else
		filters_reply_page(lw->r, res, lw->limit, NULL, NULL);
	free(lw);
}

void agreements_list(struct req *r)
{
	static const char *const extra[] = {"stage", "dormant", "expiring", NULL};
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	json_t *errors = json_array();
	struct listwait *lw = malloc(sizeof(*lw));
	if (!q || !sql || !errors || !lw) {
		listq_free(q);
		if (sql)
			evbuffer_free(sql);
		json_decref(errors);
		free(lw);
		reply_problem(r, 500, "out of memory");
		return;
	}
	listq_param(q, r->who.org_id);
	listq_param(q, r->who.org_slug);
	filters_apply_to(r, q, &agreements, extra, errors);
	if (!json_array_size(errors)) {
		if (q->has_from)
			evbuffer_add_printf(q->sql, AG_FILTER_FROM, q->from_param);
		stage_param(r, q, errors);
		int dormant = bool_param(r, q, "dormant", errors);
		int expiring = bool_param(r, q, "expiring", errors);
		if (dormant > 0)
			evbuffer_add_printf(q->sql, AG_FILTER_DORMANT, dormant);
		if (expiring > 0)
			evbuffer_add_printf(q->sql, AG_FILTER_EXPIRING, expiring);
		filters_cursor(r, q, AG_LIST_KEY, "a.id", errors);
	}
	if (json_array_size(errors)) {
		listq_free(q);
		evbuffer_free(sql);
		free(lw);
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
	int limit = listq_param(q, lim);
	evbuffer_add(sql, SQL_AGREEMENT_LIST, strlen(SQL_AGREEMENT_LIST));
	evbuffer_add_buffer_reference(sql, q->sql);
	evbuffer_add_printf(sql, SQL_AGREEMENT_LIST_ORDER, limit);
	evbuffer_add(sql, "", 1);
	lw->r = r;
	lw->limit = q->limit;
	int rc = dbpool_query_text(r->cx->db_read, (const char *)evbuffer_pullup(sql, -1), q->n,
	                           q->params, on_list, lw);
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0) {
		free(lw);
		reply_unavailable(r);
	}
}
