/* checklists.c - /v1/checklists: an org's templates of protocol tasks,
 * each due some days before or after a visit's arrival or departure
 * (sql/016). A visit the org creates later gets a task of each task of
 * the checklists that fit its direction; a change to a checklist does not
 * reach visits made before it. A checklist is its org's alone: others
 * get 404. Roles are the route table's. */
#include "api/checklists.h"

#include "api/checklists_sql.h"
#include "api/jsonv.h"
#include "api/write_again.h"
#include "dbpool.h"
#include "event.h"
#include "http/context.h"
#include "http/http.h"
#include "macros.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKLIST_MAX_TASKS 50
#define CHECKLIST_MAX_DAYS  400

/* ---- validation --------------------------------------------------------------- */

/* A task's reminders, checked by the rules of an event's (common/event.c):
 * an all-day deadline that always exists, named as the task's. */
static void check_reminders(json_t *x, const char *base, json_t *errors)
{
	static const char *const map[][2] = {{"reminders", "reminders"}};
	json_t *r = json_object_get(x, "reminders");
	if (!r || json_is_null(r))
		return;
	json_t *ev =
	    json_pack("{s:s, s:s, s:b, s:s, s:s, s:O}", "kind", "deadline", "title", "-", "all_day",
	              1, "start", "2000-01-01", "timezone", "UTC", "reminders", r);
	json_t *errs = json_array();
	struct event_in in;
	char prefix[48];
	snprintf(prefix, sizeof(prefix), "%s.", base);
	if (!ev || !errs)
		jv_error(errors, base, "out of memory");
	else if (event_validate(ev, "UTC", &in, errs) != 0)
		jv_errors_rename(errors, errs, prefix, map, ARRAY_LEN(map));
	json_decref(ev);
	json_decref(errs);
}

/* One task of a checklist, as it is stored: {title, anchor, offset_days,
 * owner, reminders}; NULL when it is not valid (errors say why). */
static json_t *check_task(json_t *x, size_t i, json_t *errors)
{
	static const char *const allowed[] = {"title", "anchor",    "offset_days",
	                                      "owner", "reminders", NULL};
	char base[32], f[64];
	snprintf(base, sizeof(base), "tasks[%zu]", i);
	size_t before = json_array_size(errors);
	if (!jv_entry(x, base, allowed, NULL, errors))
		return NULL;
	snprintf(f, sizeof(f), "%s.title", base);
	const char *title = jv_string_at(x, "title", f, 1, 200, 0, errors);
	snprintf(f, sizeof(f), "%s.owner", base);
	const char *owner = jv_string_at(x, "owner", f, 0, 200, 0, errors);
	json_t *a = json_object_get(x, "anchor");
	const char *anchor = !a || json_is_null(a) ? "arrive" : json_string_value(a);
	if (!anchor || (strcmp(anchor, "arrive") && strcmp(anchor, "depart"))) {
		snprintf(f, sizeof(f), "%s.anchor", base);
		jv_error(errors, f, "must be arrive or depart");
	}
	json_t *d = json_object_get(x, "offset_days");
	if (!json_is_integer(d) || json_integer_value(d) < -CHECKLIST_MAX_DAYS ||
	    json_integer_value(d) > CHECKLIST_MAX_DAYS) {
		snprintf(f, sizeof(f), "%s.offset_days", base);
		jv_error(errors, f,
		         "must be a whole number of days from -400 to 400 (negative: before)");
	}
	check_reminders(x, base, errors);
	if (json_array_size(errors) != before)
		return NULL;
	json_t *r = json_object_get(x, "reminders");
	return json_pack("{s:s, s:s, s:O, s:s?, s:o}", "title", title, "anchor", anchor,
	                 "offset_days", d, "owner", owner, "reminders",
	                 r && !json_is_null(r) ? json_incref(r) : json_array());
}

/* A checklist's body into its columns: name, direction (or NULL) and the
 * tasks as stored (out->tasks, to free); 0 when valid, -1 with errors,
 * -2 when memory ran out (a task silently left out would be written). */
struct checked {
	const char *name, *direction;
	char *tasks;
};

static int check_body(json_t *b, struct checked *out, json_t *errors)
{
	static const char *const allowed[] = {"name", "direction", "tasks", NULL};
	static const char *const ignored[] = {"id", "created_at", "updated_at", NULL};
	memset(out, 0, sizeof(*out));
	jv_known(b, allowed, ignored, errors);
	out->name = jv_string(b, "name", 1, 200, 0, errors);
	json_t *dir = json_object_get(b, "direction");
	out->direction = json_string_value(dir);
	if (dir && !json_is_null(dir) &&
	    (!out->direction ||
	     (strcmp(out->direction, "inbound") && strcmp(out->direction, "outbound"))))
		jv_error(errors, "direction", "must be inbound, outbound or null (both)");
	json_t *list = json_object_get(b, "tasks"), *tasks = json_array();
	int oom = !tasks;
	if (!json_is_array(list) || !json_array_size(list) ||
	    json_array_size(list) > CHECKLIST_MAX_TASKS) {
		jv_error(errors, "tasks", "must be an array of 1 to 50 tasks");
	} else {
		size_t i;
		json_t *x;
		json_array_foreach(list, i, x)
		{
			size_t before = json_array_size(errors);
			json_t *t = check_task(x, i, errors);
			if (t)
				oom |= json_array_append_new(tasks, t) != 0;
			else
				oom |= json_array_size(errors) == before;
		}
	}
	if (json_array_size(errors)) {
		json_decref(tasks);
		return -1;
	}
	out->tasks = oom ? NULL : json_dumps(tasks, JSON_COMPACT);
	json_decref(tasks);
	return out->tasks ? 0 : -2;
}

/* Answers a body check_body refused: 422 with its errors, or 500. */
static void refuse_body(struct req *r, int rc, json_t *errors)
{
	if (rc == -1) {
		reply_problem_fields(r, 422, "the checklist is not valid", errors);
		return;
	}
	json_decref(errors);
	reply_problem(r, 500, "out of memory");
}

/* ---- answers ------------------------------------------------------------------------- */

static const char *checklist_id(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such checklist");
		return NULL;
	}
	return id;
}

/* One checklist (JSON, version) as the answer, status 200 or 201. */
static void answer_one(struct req *r, PGresult *res, int status)
{
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such checklist");
		return;
	}
	req_set_etag(r, PQgetvalue(res, 0, 1));
	if (status == 201) {
		json_t *c = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		char loc[64];
		snprintf(loc, sizeof(loc), "/v1/checklists/%s",
		         c ? json_string_value(json_object_get(c, "id")) : "");
		json_decref(c);
		req_add_header(r, "Location", loc);
	}
	reply_raw(r, status, "application/json", PQgetvalue(res, 0, 0),
	          (size_t)PQgetlength(res, 0, 0));
}

static void on_created(PGresult *res, void *arg)
{
	answer_one(arg, res, 201);
}

static void on_one(PGresult *res, void *arg)
{
	answer_one(arg, res, 200);
}

void checklists_create(struct req *r)
{
	json_t *body = req_json_body(r, 0);
	if (!body)
		return;
	json_t *errors = json_array();
	struct checked c;
	int rc = errors ? check_body(body, &c, errors) : -2;
	if (rc != 0) {
		json_decref(body);
		refuse_body(r, rc, errors);
		return;
	}
	json_decref(errors);
	const char *p[] = {r->who.org_id, c.name, c.direction, c.tasks};
	if (dbpool_query(r->cx->db, SQL_CHECKLIST_CREATE, 4, p, on_created, r) != 0)
		reply_unavailable(r);
	free(c.tasks);
	json_decref(body);
}

static void on_list(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	json_t *items = json_array();
	for (int i = 0; items && i < PQntuples(res); i++)
		json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
	json_t *body = items ? json_pack("{s:o}", "items", items) : NULL;
	if (!body)
		reply_problem(r, 500, "out of memory");
	else
		reply_json(r, 200, body);
}

void checklists_list(struct req *r)
{
	const char *p[] = {r->who.org_id};
	if (dbpool_query(r->cx->db, SQL_CHECKLIST_LIST, 1, p, on_list, r) != 0)
		reply_unavailable(r);
}

void checklists_get(struct req *r)
{
	const char *id = checklist_id(r);
	const char *p[] = {id, r->who.org_id};
	if (id && dbpool_query(r->cx->db, SQL_CHECKLIST_GET, 2, p, on_one, r) != 0)
		reply_unavailable(r);
}

/* ---- patch: read, merge, check, write at the version read ---------------------- */

struct patchop {
	struct req *r;
	json_t *patch;
	char id[37];
};

static void on_updated(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		if (!write_again(r))
			reply_problem(r, write_lost_status(r), write_lost_detail(r));
	} else
		answer_one(r, res, 200);
}

static void on_loaded(PGresult *res, void *arg)
{
	struct patchop *op = arg;
	struct req *r = op->r;
	json_t *patch = op->patch;
	char id[37];
	snprintf(id, sizeof(id), "%s", op->id);
	free(op);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		json_decref(patch);
		answer_one(r, res, 200); /* the failure or the 404 */
		return;
	}
	const char *version = PQgetvalue(res, 0, 1);
	if (req_if_match_fails(r, version)) {
		json_decref(patch);
		reply_problem(r, 412, "the checklist has changed since that version (If-Match)");
		return;
	}
	json_t *stored = json_loads(PQgetvalue(res, 0, 0), 0, NULL), *errors = json_array();
	if (!stored || !errors) {
		json_decref(stored);
		json_decref(errors);
		json_decref(patch);
		reply_problem(r, 500, "cannot read the stored checklist");
		return;
	}
	/* Stored before two reminders of one length were refused: the first of
	 * each (event_change.c). */
	event_dedupe_triggers_of(json_object_get(stored, "tasks"));
	jv_merge_patch(stored, patch);
	json_decref(patch);
	struct checked c;
	int rc = check_body(stored, &c, errors);
	if (rc != 0) {
		json_decref(stored);
		refuse_body(r, rc, errors);
		return;
	}
	json_decref(errors);
	const char *p[] = {id, r->who.org_id, version, c.name, c.direction, c.tasks};
	if (dbpool_query(r->cx->db, SQL_CHECKLIST_UPDATE, 6, p, on_updated, r) != 0)
		reply_unavailable(r);
	free(c.tasks);
	json_decref(stored);
}

void checklists_patch(struct req *r)
{
	const char *id = checklist_id(r);
	if (!id)
		return;
	json_t *patch = req_json_body(r, 1);
	if (!patch)
		return;
	struct patchop *op = calloc(1, sizeof(*op));
	if (!op) {
		json_decref(patch);
		reply_problem(r, 500, "out of memory");
		return;
	}
	op->r = r;
	op->patch = patch;
	snprintf(op->id, sizeof(op->id), "%s", id);
	const char *p[] = {id, r->who.org_id};
	if (dbpool_query(r->cx->db, SQL_CHECKLIST_GET, 2, p, on_loaded, op) != 0) {
		json_decref(patch);
		free(op);
		reply_unavailable(r);
	}
}

static void on_deleted(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		reply_query_failed(r, res);
	else if (PQntuples(res) != 1)
		reply_problem(r, 404, "no such checklist");
	else
		reply_empty(r, 204);
}

void checklists_delete(struct req *r)
{
	const char *id = checklist_id(r);
	const char *p[] = {id, r->who.org_id};
	if (id && dbpool_query(r->cx->db, SQL_CHECKLIST_DELETE, 2, p, on_deleted, r) != 0)
		reply_unavailable(r);
}
