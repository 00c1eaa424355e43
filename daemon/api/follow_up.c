/* follow_up.c - /v1/follow-up-template: the caller org's follow-up
 * template, the steps that become milestones of its agreements when they
 * are signed ({title, days after the signature, reminders}; applied by
 * agreement_stages.c). An org without one has no steps. */
#include "api/agreements.h"

#include "api/agreement_op.h"
#include "api/agreements_sql.h"
#include "api/jsonv.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"

#include <stdlib.h>

static void on_template(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	json_t *steps = PQntuples(res) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : json_array();
	json_t *body = json_pack("{s:o, s:s?}", "steps", steps, "updated_at",
	                         PQntuples(res) ? PQgetvalue(res, 0, 1) : NULL);
	if (!body)
		reply_problem(r, 500, "out of memory");
	else
		reply_json(r, 200, body);
}

void follow_up_get(struct req *r)
{
	const char *p[] = {r->who.org_id};
	if (dbpool_query(r->cx->db, SQL_FOLLOW_UP_GET, 1, p, on_template, r) != 0)
		reply_unavailable(r);
}

void follow_up_put(struct req *r)
{
	static const char *const allowed[] = {"steps", NULL};
	static const char *const ignored[] = {"updated_at", NULL};
	json_t *body = req_json_body(r, 0);
	if (!body)
		return;
	json_t *errors = json_array();
	jv_known(body, allowed, ignored, errors);
	json_t *steps = json_object_get(body, "steps");
	if (!steps)
		jv_error(errors, "steps", "is required");
	else
		ag_check_steps(steps, "steps", errors);
	if (!errors || json_array_size(errors)) {
		json_decref(body);
		if (errors)
			reply_problem_fields(r, 422, "the follow-up template is not valid", errors);
		else
			reply_problem(r, 500, "out of memory");
		return;
	}
	json_decref(errors);
	char *text = json_dumps(steps, JSON_COMPACT);
	json_decref(body);
	const char *p[] = {r->who.org_id, text};
	if (!text)
		reply_problem(r, 500, "out of memory");
	else if (dbpool_query(r->cx->db, SQL_FOLLOW_UP_PUT, 2, p, on_template, r) != 0)
		reply_unavailable(r);
	free(text);
}
