/* visit_tasks.c - GET /v1/visits/{id}/tasks and PATCH
 * /v1/visits/{id}/tasks/{task_id}: the protocol tasks a visit got from
 * its org's checklists (checklists.c, sql/016), each with its deadline
 * event. A task's state (open, done, not_needed) and owner are changed
 * here; a done or unneeded task is reminded no more, and its deadline no
 * longer moves with the visit. Tasks are the owner org's work: another
 * org that may see the visit gets 403. */
#include "api/checklists.h"

#include "api/jsonv.h"
#include "api/visit_tasks_sql.h"
#include "api/write_again.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "macros.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The visit's id ({id}), or NULL once answered 404. */
static const char *visit_param(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such visit");
		return NULL;
	}
	return id;
}

/* Whether a row of the caller's view of the visit says it may go on:
 * answers 404 (no such visit) or 403 (not the owner's) otherwise. */
static int owner_only(struct req *r, PGresult *res)
{
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return 0;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such visit");
		return 0;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		reply_problem(r, 403, "a visit's tasks are its owner org's");
		return 0;
	}
	return 1;
}

static void on_list(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!owner_only(r, res))
		return;
	json_t *items = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	json_t *body = items ? json_pack("{s:o}", "items", items) : NULL;
	if (!body)
		reply_problem(r, 500, "out of memory");
	else
		reply_json(r, 200, body);
}

void visit_tasks_list(struct req *r)
{
	const char *id = visit_param(r);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	if (id && dbpool_query(r->cx->db, SQL_VISIT_TASKS_LIST, 3, p, on_list, r) != 0)
		reply_unavailable(r);
}

/* ---- a change of state or owner ---------------------------------------------- */

struct taskop {
	struct req *r;
	json_t *patch;
	char visit[37], task[37];
};

static void on_task_written(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) != 1) {
		if (!write_again(r))
			reply_problem(r, write_lost_status(r), write_lost_detail(r));
	} else {
		req_set_etag(r, PQgetvalue(res, 0, 1));
		reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
		          (size_t)PQgetlength(res, 0, 0));
	}
}

/* The patch's state and owner over the stored ones (cols 2, 3 of res);
 * -1 with errors when not valid. */
static int task_values(json_t *patch, PGresult *res, const char **state, const char **owner,
                       json_t *errors)
{
	static const char *const allowed[] = {"state", "owner", NULL};
	static const char *const ignored[] = {
	    "id",  "visit_id",  "checklist_id", "title",   "anchor",     "offset_days",
	    "due", "reminders", "event_id",     "overdue", "updated_at", NULL};
	jv_known(patch, allowed, ignored, errors);
	*state = PQgetvalue(res, 0, 2);
	*owner = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
	json_t *s = json_object_get(patch, "state");
	if (s) {
		const char *v = json_string_value(s);
		if (v && (!strcmp(v, "open") || !strcmp(v, "done") || !strcmp(v, "not_needed")))
			*state = v;
		else
			jv_error(errors, "state", "must be open, done or not_needed");
	}
	json_t *o = json_object_get(patch, "owner");
	if (json_is_null(o))
		*owner = NULL;
	else if (o)
		*owner = jv_string(patch, "owner", 0, 200, 0, errors);
	return json_array_size(errors) ? -1 : 0;
}

static void on_task_loaded(PGresult *res, void *arg)
{
	struct taskop *op = arg;
	struct req *r = op->r;
	json_t *patch = op->patch;
	char visit[37], task[37];
	snprintf(visit, sizeof(visit), "%s", op->visit);
	snprintf(task, sizeof(task), "%s", op->task);
	free(op);
	if (!owner_only(r, res)) {
		json_decref(patch);
		return;
	}
	if (PQgetisnull(res, 0, 1)) {
		json_decref(patch);
		reply_problem(r, 404, "no such task of this visit");
		return;
	}
	const char *version = PQgetvalue(res, 0, 1);
	if (req_if_match_fails(r, version)) {
		json_decref(patch);
		reply_problem(r, 412, "the task has changed since that version (If-Match)");
		return;
	}
	json_t *errors = json_array();
	const char *state, *owner;
	if (!errors || task_values(patch, res, &state, &owner, errors) != 0) {
		json_decref(patch);
		if (errors)
			reply_problem_fields(r, 422, "the task is not valid", errors);
		else
			reply_problem(r, 500, "out of memory");
		return;
	}
	json_decref(errors);
	const char *was = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
	if (!strcmp(state, PQgetvalue(res, 0, 2)) &&
	    (owner && was ? !strcmp(owner, was) : owner == was)) {
		/* Nothing changes: the task as it is, same version. */
		req_set_etag(r, version);
		reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 4),
		          (size_t)PQgetlength(res, 0, 4));
		json_decref(patch);
		return;
	}
	const char *p[] = {task, visit, version, state, owner};
	if (dbpool_query(r->cx->db, SQL_VISIT_TASK_UPDATE, 5, p, on_task_written, r) != 0)
		reply_unavailable(r);
	json_decref(patch);
}

void visit_tasks_patch(struct req *r)
{
	const char *id = visit_param(r);
	if (!id)
		return;
	const char *task = req_param(r, "task_id");
	if (!valid_uuid(task)) {
		reply_problem(r, 404, "no such task of this visit");
		return;
	}
	json_t *patch = req_json_body(r, 1);
	if (!patch)
		return;
	struct taskop *op = calloc(1, sizeof(*op));
	if (!op) {
		json_decref(patch);
		reply_problem(r, 500, "out of memory");
		return;
	}
	op->r = r;
	op->patch = patch;
	snprintf(op->visit, sizeof(op->visit), "%s", id);
	snprintf(op->task, sizeof(op->task), "%s", task);
	const char *p[] = {id, r->who.org_id, r->who.org_slug, task};
	if (dbpool_query(r->cx->db, SQL_VISIT_TASK_LOAD, 4, p, on_task_loaded, op) != 0) {
		json_decref(patch);
		free(op);
		reply_unavailable(r);
	}
}
