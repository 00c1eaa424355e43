/* visits.c - /v1/visits: a delegation visit (inbound: a partner visits us;
 * outbound: we visit a partner), its delegates and its programme; the
 * list is visit_list.c's, the printable programme programme.c's.
 *
 * A visit is written as events so that everything that exists applies
 * to it: its own event (kind visit, from arrival to departure, with the
 * visit's id) and one event per programme item (parent_id = the visit,
 * the visit's title in its DESCRIPTION), all with the visit's audience.
 * A write is one statement (visits_sql.h) that writes the visit, its
 * delegates, its items and their events; a patch keeps the ids (and
 * UIDs) of the delegates and items it continues (visit_check.c,
 * visit_items.c), and writes only the rows that change.
 *
 * Delegates are personal data: they, and who each item names, are shown
 * only to the orgs party to the visit (owner and partners); the events
 * carry none of it, so feeds and event webhooks cannot leak it. Roles are
 * the route table's (api/routes.c); the owner org is checked here. */
#include "api/visits.h"

#include "api/conflicts.h"
#include "api/instants.h"
#include "api/jsonv.h"
#include "api/visit_op.h"
#include "api/visits_sql.h"
#include "api/write_again.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "macros.h"
#include "token.h"
#include "validate.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char visits_get_sql[] = SQL_VISIT_GET;

/* ---- one write in progress ---------------------------------------------------- */

struct vop {
	struct req *r;
	json_t *body;    /* the request's body, or a patch */
	json_t *stored;  /* a patch: the visit as stored */
	json_t *payload; /* $2 of the write */
	int cancelling;
	int deleting;   /* a delegate (delegate_id) */
	int idem_again; /* a concurrent create took the key: asked once more */
	char id[37], version[16];
	char idem_key[256];
	char body_hash[TOKEN_HASH_HEX + 8];
};

static void vop_free(struct vop *op)
{
	json_decref(op->body);
	json_decref(op->stored);
	json_decref(op->payload);
	free(op);
}

static void vop_fail(struct vop *op, int status, const char *detail)
{
	struct req *r = op->r;
	vop_free(op);
	if (status == 503)
		reply_unavailable(r);
	else
		reply_problem(r, status, detail);
}

static void vop_fail_field(struct vop *op, int status, const char *field, const char *msg)
{
	struct req *r = op->r;
	vop_free(op);
	reply_problem_field(r, status, msg, field, msg);
}

static int submit(struct vop *op, const char *sql, int n, const char *const *p, db_result_cb cb)
{
	if (dbpool_query(op->r->cx->db, sql, n, p, cb, op) != 0) {
		vop_fail(op, 503, NULL);
		return -1;
	}
	return 0;
}

/* A result that is neither an outage nor an error, or the answer is sent. */
static int result_ok(struct vop *op, PGresult *res)
{
	if (!res) {
		vop_fail(op, 503, NULL);
		return 0;
	}
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return 1;
	const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	if (!strcmp(db_sqlstate(res), "23505") && constraint &&
	    !strcmp(constraint, "visit_delegates_person")) {
		/* Names the database compares as one that this file did not
		 * (case beyond ASCII, in the database's locale). */
		vop_fail_field(op, 422, "delegates",
		               "two delegates of this visit have the same name");
		return 0;
	}
	struct req *r = op->r;
	vop_free(op);
	reply_db_error(r, res);
	return 0;
}

static struct vop *vop_new(struct req *r)
{
	struct vop *op = calloc(1, sizeof(*op));
	if (!op)
		reply_problem(r, 500, "out of memory");
	else
		op->r = r;
	return op;
}

const char *visits_id(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such visit");
		return NULL;
	}
	return id;
}

/* Validates body (against stored) into *payload; answers 422 (or 500)
 * and returns -1 when it is not valid. */
static int validate(struct vop *op, json_t *body, json_t *stored, const char *tz, json_t **payload)
{
	struct vcheck c = {.body = body, .stored = stored, .errors = json_array()};
	if (visit_check(&c, tz) != 0) {
		json_t *errors = c.oom ? NULL : json_incref(c.errors);
		visit_check_clear(&c);
		if (!errors) {
			vop_fail(op, 500, "out of memory");
		} else {
			struct req *r = op->r;
			vop_free(op);
			reply_problem_fields(r, 422, "the visit is not valid", errors);
		}
		return -1;
	}
	*payload = json_incref(c.out);
	visit_check_clear(&c);
	return 0;
}

/* ---- answers ---------------------------------------------------------------------- */

static void on_answer(PGresult *res, void *arg);

static void on_remembered(PGresult *res, void *arg)
{
	(void)res; /* not remembered: a replay answers the visit as it is */
	(void)arg;
}

/* Answers the visit as it is now, with its items' conflicts. */
static void answer(struct vop *op)
{
	struct principal *who = &op->r->who;
	const char *p[] = {op->id, who->org_id, who->org_slug, "true"};
	submit(op, visits_get_sql, 4, p, on_answer);
}

static void on_answer(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (!result_ok(op, res))
		return;
	struct req *r = op->r;
	if (PQntuples(res) != 1) {
		vop_fail(op, 404, "no such visit");
		return;
	}
	char *settled;
	if (conflicts_settle(PQgetvalue(res, 0, VG_JSON), &settled)) {
		vop_fail(op, 500, "cannot settle the conflicts");
		return;
	}
	const char *answer = settled ? settled : PQgetvalue(res, 0, VG_JSON);
	int creating = !op->version[0];
	if (creating) {
		char loc[64];
		snprintf(loc, sizeof(loc), "/v1/visits/%s", op->id);
		req_add_header(r, "Location", loc);
		if (op->idem_key[0]) {
			const char *p[] = {r->who.org_id, op->idem_key, answer};
			if (dbpool_query(r->cx->db, SQL_VISIT_REMEMBER, 3, p, on_remembered,
			                 NULL) != 0) {
				/* Not remembered: a replay answers the visit as it is. */
			}
		}
	}
	req_set_etag(r, PQgetvalue(res, 0, VG_VERSION));
	reply_raw(r, creating ? 201 : 200, "application/json", answer,
	          settled ? strlen(settled) : (size_t)PQgetlength(res, 0, VG_JSON));
	free(settled);
	vop_free(op);
}

/* The answer row of a write: the visit (or none) and a partner that names
 * no org. */
static void on_written(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (!result_ok(op, res))
		return;
	if (PQntuples(res) != 1) {
		vop_fail(op, 500, "the write answered nothing");
		return;
	}
	if (!PQgetisnull(res, 0, 1)) {
		json_t *partners = json_object_get(op->payload, "partners");
		int at = jv_index_of(partners, PQgetvalue(res, 0, 1));
		char field[32] = "partners";
		if (at >= 0)
			snprintf(field, sizeof(field), "partners[%d]", at);
		vop_fail_field(op, 422, field, "no org has this slug");
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		if (op->version[0] && write_again(op->r))
			vop_free(op);
		else
			vop_fail(op, write_lost_status(op->r), write_lost_detail(op->r));
		return;
	}
	snprintf(op->id, sizeof(op->id), "%s", PQgetvalue(res, 0, 0));
	answer(op);
}

/* ---- create ------------------------------------------------------------------------ */

static void write_visit(struct vop *op);
static void on_delegate_deleted(PGresult *res, void *arg);

static void on_idempotent(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (!result_ok(op, res))
		return;
	if (PQntuples(res) == 0) {
		write_visit(op);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), op->body_hash)) {
		vop_fail_field(op, 409, "Idempotency-Key",
		               "this key was used with a different request body");
		return;
	}
	/* The first answer, or (forgotten with a deleted delegate) the visit
	 * as it is now. */
	struct req *r = op->r;
	req_add_header(r, "Idempotent-Replayed", "true");
	snprintf(op->id, sizeof(op->id), "%s", PQgetvalue(res, 0, 1));
	if (PQgetisnull(res, 0, 2)) {
		answer(op);
		return;
	}
	char loc[64];
	snprintf(loc, sizeof(loc), "/v1/visits/%s", op->id);
	req_add_header(r, "Location", loc);
	if (!PQgetisnull(res, 0, 3))
		req_set_etag(r, PQgetvalue(res, 0, 3));
	reply_raw(r, 201, "application/json", PQgetvalue(res, 0, 2),
	          (size_t)PQgetlength(res, 0, 2));
	vop_free(op);
}

static void check_key(struct vop *op)
{
	const char *p[] = {op->r->who.org_id, op->idem_key};
	submit(op, SQL_VISIT_IDEMPOTENT, 2, p, on_idempotent);
}

static void on_created(PGresult *res, void *arg)
{
	struct vop *op = arg;
	const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	if (res && constraint && !strcmp(constraint, "idempotency_keys_pkey")) {
		/* A concurrent create with this key won: its answer is replayed. */
		if (!op->idem_again++)
			check_key(op);
		else
			vop_fail_field(op, 409, "Idempotency-Key",
			               "a request with this key is under way");
		return;
	}
	on_written(res, arg);
}

/* The write of op->payload: a create when op->version is empty, else an
 * update of that version (or the deletion of a delegate). */
static void on_task_days(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (!result_ok(op, res))
		return;
	const char *zone = json_string_value(json_object_get(op->payload, "timezone"));
	char *hints = PQntuples(res) == 1 ? instants_of_days(zone, PQgetvalue(res, 0, 0)) : NULL;
	char *payload = json_dumps(op->payload, JSON_COMPACT);
	if (!payload || !hints) {
		free(payload);
		free(hints);
		vop_fail(op, 500, "out of memory");
		return;
	}
	if (!op->version[0]) {
		const char *p[] = {op->r->who.org_id, payload,
		                   op->idem_key[0] ? op->idem_key : NULL, op->body_hash, hints};
		submit(op, SQL_VISIT_CREATE, 5, p, on_created);
	} else if (op->deleting) {
		const char *p[] = {op->id, op->r->who.org_id, req_param(op->r, "delegate_id"),
		                   op->version, hints};
		submit(op, SQL_VISIT_DELETE_DELEGATE, 5, p, on_delegate_deleted);
	} else {
		const char *p[] = {op->r->who.org_id, payload, op->id, op->version, hints};
		submit(op, SQL_VISIT_UPDATE, 5, p, on_written);
	}
	free(payload);
	free(hints);
}

/* Writes op->payload, after reading the days its tasks may fall on: their
 * deadline events are written by triggers (sql/016), which take the
 * instants of those days from the daemon (sql/030). */
static void write_visit(struct vop *op)
{
	json_t *pl = op->payload;
	const char *p[] = {op->r->who.org_id, op->version[0] ? op->id : NULL,
	                   json_string_value(json_object_get(pl, "direction")),
	                   json_string_value(json_object_get(pl, "arrive")),
	                   json_string_value(json_object_get(pl, "depart"))};
	submit(op, SQL_VISIT_TASK_DAYS, 5, p, on_task_days);
}

void visits_create(struct req *r)
{
	struct vop *op = vop_new(r);
	if (!op || !(op->body = req_json_body(r, 0))) {
		free(op);
		return;
	}
	const char *key = req_header(r, "Idempotency-Key");
	if (key) {
		if (!valid_text(key, sizeof(op->idem_key) - 1, 0)) {
			vop_fail_field(op, 400, "Idempotency-Key",
			               "must be 1-255 printable characters");
			return;
		}
		snprintf(op->idem_key, sizeof(op->idem_key), "%s", key);
		/* "visit:" + the body's hash: a key used on /v1/events never
		 * replays here, nor the other way round. */
		size_t len;
		const char *body = req_body(r, &len);
		strcpy(op->body_hash, "visit:");
		if (!body || token_hash(body, len, op->body_hash + 6)) {
			vop_fail(op, 500, "cannot hash the body");
			return;
		}
	}
	if (validate(op, op->body, NULL, r->who.org_tz, &op->payload))
		return;
	if (op->idem_key[0])
		check_key(op);
	else
		write_visit(op);
}

/* ---- read ----------------------------------------------------------------------- */

static void on_get(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such visit");
		return;
	}
	req_set_etag(r, PQgetvalue(res, 0, VG_VERSION));
	if (etag_listed(req_header(r, "If-None-Match"), PQgetvalue(res, 0, VG_VERSION),
	                ETAG_WEAK)) {
		reply_empty(r, 304);
		return;
	}
	reply_raw(r, 200, "application/json", PQgetvalue(res, 0, VG_JSON),
	          (size_t)PQgetlength(res, 0, VG_JSON));
}

void visits_get(struct req *r)
{
	const char *id = visits_id(r);
	const char *p[] = {id, r->who.org_id, r->who.org_slug, "false"};
	if (id && dbpool_query(r->cx->db, visits_get_sql, 4, p, on_get, r) != 0)
		reply_unavailable(r);
}

/* ---- patch and cancel --------------------------------------------------------------- */

/* The visit read for a change (VISIT_GET): 0 when the caller's org owns
 * it and If-Match, if sent, names its version (op->version); otherwise
 * the answer is sent. */
static int loaded_for_change(struct vop *op, PGresult *res)
{
	if (!result_ok(op, res))
		return -1;
	if (PQntuples(res) != 1) {
		vop_fail(op, 404, "no such visit");
		return -1;
	}
	if (PQgetvalue(res, 0, VG_MINE)[0] != 't') {
		vop_fail(op, 403, "only the owner org may change this visit");
		return -1;
	}
	snprintf(op->version, sizeof(op->version), "%s", PQgetvalue(res, 0, VG_VERSION));
	if (req_if_match_fails(op->r, op->version)) {
		vop_fail(op, 412, "the visit has changed since that version (If-Match)");
		return -1;
	}
	return 0;
}

static void on_loaded(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (loaded_for_change(op, res))
		return;
	op->stored = json_loads(PQgetvalue(res, 0, VG_JSON), 0, NULL);
	/* Stored with two reminders of one length (before they were refused):
	 * read with the first of each (event_change.c). */
	event_dedupe_triggers_of(json_object_get(op->stored, "programme"));
	event_dedupe_triggers_of(json_object_get(op->stored, "tasks"));
	json_t *merged = op->stored ? json_deep_copy(op->stored) : NULL;
	if (!merged) {
		vop_fail(op, 500, "cannot read the stored visit");
		return;
	}
	if (op->cancelling) {
		json_object_set_new(merged, "status", json_string("cancelled"));
	} else {
		static const char *const server[] = {"id", "org", "created_at", "updated_at"};
		for (size_t i = 0; i < ARRAY_LEN(server); i++)
			json_object_del(op->body, server[i]);
		jv_merge_patch(merged, op->body);
	}
	char tz[65];
	snprintf(tz, sizeof(tz), "%s", PQgetvalue(res, 0, VG_ORG_TZ));
	/* What the stored visit would write, to tell a patch that changes
	 * nothing (the same values, ids left out, in another order) from one
	 * that does: it answers the visit as it is, same version, no
	 * webhook. */
	json_t *before = NULL;
	struct vcheck c = {.body = op->stored, .stored = op->stored, .errors = json_array()};
	if (visit_check(&c, tz) == 0)
		before = json_incref(c.out);
	visit_check_clear(&c);
	int bad = validate(op, merged, op->stored, tz, &op->payload);
	json_decref(merged);
	if (bad) {
		json_decref(before);
		return;
	}
	int same = before && json_equal(before, op->payload);
	json_decref(before);
	if (same) {
		answer(op);
		return;
	}
	write_visit(op);
}

static void start_change(struct req *r, json_t *patch, int cancelling)
{
	const char *id = visits_id(r);
	struct vop *op = id ? vop_new(r) : NULL;
	if (!op) {
		json_decref(patch);
		return;
	}
	op->body = patch;
	op->cancelling = cancelling;
	snprintf(op->id, sizeof(op->id), "%s", id);
	const char *p[] = {id, r->who.org_id, r->who.org_slug, "false"};
	submit(op, visits_get_sql, 4, p, on_loaded);
}

void visits_patch(struct req *r)
{
	json_t *patch = req_json_body(r, 1);
	if (patch)
		start_change(r, patch, 0);
}

void visits_cancel(struct req *r)
{
	start_change(r, NULL, 1);
}

/* ---- deleting a delegate ------------------------------------------------------------ */

static void on_delegate_deleted(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (!result_ok(op, res))
		return;
	if (PQntuples(res) != 1) {
		if (write_again(op->r))
			vop_free(op);
		else
			vop_fail(op, write_lost_status(op->r), write_lost_detail(op->r));
		return;
	}
	struct req *r = op->r;
	req_set_etag(r, PQgetvalue(res, 0, 0));
	vop_free(op);
	reply_empty(r, 204);
}

static void on_loaded_for_delegate(PGresult *res, void *arg)
{
	struct vop *op = arg;
	if (loaded_for_change(op, res))
		return;
	const char *did = req_param(op->r, "delegate_id");
	json_t *stored = json_loads(PQgetvalue(res, 0, VG_JSON), 0, NULL);
	int found = 0;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(stored, "delegates"), i, d)
	{
		const char *x = json_string_value(json_object_get(d, "id"));
		found |= x && !strcmp(did, x);
	}
	if (!found) {
		json_decref(stored);
		vop_fail(op, 404, "no such delegate of this visit");
		return;
	}
	/* The days of its tasks as the visit stands. */
	op->payload = stored;
	op->deleting = 1;
	write_visit(op);
}

void visits_delete_delegate(struct req *r)
{
	const char *id = visits_id(r);
	if (!id)
		return;
	if (!valid_uuid(req_param(r, "delegate_id"))) {
		reply_problem(r, 404, "no such delegate of this visit");
		return;
	}
	struct vop *op = vop_new(r);
	if (!op)
		return;
	snprintf(op->id, sizeof(op->id), "%s", id);
	const char *p[] = {id, r->who.org_id, r->who.org_slug, "false"};
	submit(op, visits_get_sql, 4, p, on_loaded_for_delegate);
}
