/* agreements.c - /v1/agreements: MOUs and letters of intent. An
 * agreement's milestones and its signing and expiry dates are stored as
 * deadline events (agreement_id, agreement_part), written in the same
 * statement as the agreement with its links and its history, so they
 * reach lists, occurrences, feeds and reminders. Parties play the role
 * that partners play for events. A patch updates those events in place:
 * each date keeps its event (id, UID) while it exists (match_milestones,
 * SQL_AGREEMENT_UPDATE), and only the events whose values change are
 * written. DELETE terminates: a patch of the stage, which cancels the
 * dates still ahead. Every write is answered with the agreement read
 * again (SQL_AGREEMENT_GET), as the caller sees it. The list is
 * agreement_list.c's. */
#include "api/agreements.h"

#include "api/agreement_op.h"
#include "api/agreements_sql.h"
#include "api/jsonv.h"
#include "api/write_again.h"
#include "dbpool.h"
#include "event.h"
#include "http/context.h"
#include "http/http.h"
#include "log.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agop_free(struct agop *op)
{
	json_decref(op->body);
	json_decref(op->events);
	json_decref(op->stored);
	json_decref(op->before);
	json_decref(op->history);
	json_decref(op->links);
	json_decref(op->visits);
	json_decref(op->template);
	free(op);
}

static void ag_fail(struct agop *op, int status, const char *detail)
{
	struct req *r = op->r;
	agop_free(op);
	if (status == 503)
		reply_unavailable(r);
	else
		reply_problem(r, status, detail);
}

static void ag_fail_field(struct agop *op, int status, const char *field, const char *msg)
{
	struct req *r = op->r;
	agop_free(op);
	reply_problem_field(r, status, msg, field, msg);
}

static void ag_submit(struct agop *op, const char *sql, int n, const char *const *p,
                      db_result_cb cb)
{
	if (dbpool_query(op->r->cx->db, sql, n, p, cb, op) != 0)
		ag_fail(op, 503, NULL);
}

static const char *agreement_id(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such agreement");
		return NULL;
	}
	return id;
}

/* ---- the answer: the agreement read again ------------------------------------ */

static void on_remembered(PGresult *res, void *arg)
{
	(void)res; /* a lost answer only costs a rebuilt one on replay */
	(void)arg;
}

static void on_answer(PGresult *res, void *arg)
{
	struct agop *op = arg;
	struct req *r = op->r;
	int creating = !op->before;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		agop_free(op);
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		ag_fail(op, 500, "the agreement written cannot be read back");
		return;
	}
	req_set_etag(r, PQgetvalue(res, 0, 1));
	if (creating) {
		char loc[64];
		snprintf(loc, sizeof(loc), "/v1/agreements/%s", op->id);
		req_add_header(r, "Location", loc);
	}
	if (creating && op->idem_key[0]) {
		const char *p[] = {r->who.org_id, op->idem_key, PQgetvalue(res, 0, 0)};
		if (dbpool_query(r->cx->db, SQL_AGREEMENT_REMEMBER, 3, p, on_remembered, NULL) != 0)
			log_debug("request id=%s: the idempotent answer is not stored", r->id);
	}
	reply_raw(r, creating ? 201 : 200, "application/json", PQgetvalue(res, 0, 0),
	          (size_t)PQgetlength(res, 0, 0));
	agop_free(op);
}

static void answer(struct agop *op)
{
	const char *p[] = {op->id, op->r->who.org_id, op->r->who.org_slug};
	ag_submit(op, SQL_AGREEMENT_GET, 3, p, on_answer);
}

/* ---- writes ---------------------------------------------------------------- */

static void prepare_create(struct agop *op);

/* The write was refused inside the statement: a party that names no org,
 * or a linked event or visit the caller may not see (column 3, 4: its
 * index in op->links, op->visits), named as the body has it. */
static void refuse(struct agop *op, PGresult *res)
{
	char field[32] = "parties";
	if (!PQgetisnull(res, 0, 2)) {
		int at = jv_index_of(op->parties, PQgetvalue(res, 0, 2));
		if (at >= 0)
			snprintf(field, sizeof(field), "parties[%d]", at);
		ag_fail_field(op, 422, field, "no org has this slug");
		return;
	}
	int event = !PQgetisnull(res, 0, 3);
	const char *key = event ? "events" : "visits";
	json_t *ids = event ? op->links : op->visits;
	json_t *id = json_array_get(ids, (size_t)atoi(PQgetvalue(res, 0, event ? 3 : 4)));
	int at = jv_index_of(json_object_get(op->body, key), json_string_value(id));
	if (at >= 0)
		snprintf(field, sizeof(field), "%s[%d]", key, at);
	else
		snprintf(field, sizeof(field), "%s", key);
	ag_fail_field(op, 422, field,
	              event ? "no event you may see has this id"
	                    : "no visit you may see has this id");
}

static void on_written(PGresult *res, void *arg)
{
	struct agop *op = arg;
	if (!res) {
		ag_fail(op, 503, NULL);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
		if (!strcmp(db_sqlstate(res), "23505") && c &&
		    !strcmp(c, "agreement_idempotency_keys_pkey")) {
			/* A concurrent create with this key won: its answer is
			 * replayed (or the bodies differ: 409), as for a retry. */
			if (!op->idem_again++)
				prepare_create(op);
			else
				ag_fail_field(op, 409, "Idempotency-Key",
				              "a request with this key is under way");
			return;
		}
		struct req *r = op->r;
		agop_free(op);
		reply_db_error(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		ag_fail(op, 500, "the agreement was not written");
	} else if (PQgetisnull(res, 0, 0) && (!PQgetisnull(res, 0, 2) || !PQgetisnull(res, 0, 3) ||
	                                      !PQgetisnull(res, 0, 4))) {
		refuse(op, res);
	} else if (PQgetisnull(res, 0, 0) && op->before && write_again(op->r)) {
		agop_free(op);
	} else if (PQgetisnull(res, 0, 0)) {
		ag_fail(op, write_lost_status(op->r), write_lost_detail(op->r));
	} else {
		snprintf(op->id, sizeof(op->id), "%s", PQgetvalue(res, 0, 0));
		answer(op);
	}
}

static void ag_write(struct agop *op)
{
	struct principal *who = &op->r->who;
	int creating = !op->before;
	char *parties = op->parties ? json_dumps(op->parties, JSON_COMPACT) : NULL;
	char *events = json_dumps(op->events, JSON_COMPACT);
	char *history = json_dumps(op->history, JSON_COMPACT);
	char *links = json_dumps(op->links, JSON_COMPACT);
	char *visits = json_dumps(op->visits, JSON_COMPACT);
	char dormant[16], expiring[16];
	snprintf(dormant, sizeof(dormant), "%d", op->dormant_days);
	snprintf(expiring, sizeof(expiring), "%d", op->expiring_days);
	const char *p[] = {who->org_id,
	                   op->title,
	                   op->description,
	                   parties ? parties : "[]",
	                   op->stage,
	                   op->signed_on,
	                   op->expires_on,
	                   op->timezone,
	                   op->visibility,
	                   events,
	                   history,
	                   links,
	                   dormant,
	                   expiring,
	                   who->org_slug,
	                   creating ? (op->idem_key[0] ? op->idem_key : NULL) : op->id,
	                   creating ? op->body_hash : op->version,
	                   visits};
	if (!events || !history || !links || !visits || (op->parties && !parties))
		ag_fail(op, 500, "out of memory");
	else
		ag_submit(op, creating ? SQL_AGREEMENT_CREATE : SQL_AGREEMENT_UPDATE, 18, p,
		          on_written);
	free(parties);
	free(events);
	free(history);
	free(links);
	free(visits);
}

static struct agop *agop_new(struct req *r, json_t *body)
{
	struct agop *op = calloc(1, sizeof(*op));
	if (!op) {
		json_decref(body);
		reply_problem(r, 500, "out of memory");
		return NULL;
	}
	op->r = r;
	op->body = body;
	op->stage_given = json_object_get(body, "stage") != NULL;
	op->history_given = json_object_get(body, "history") != NULL;
	return op;
}

/* The caller org's follow-up template, from a column (NULL: none). */
static int take_template(struct agop *op, PGresult *res, int col)
{
	if (PQgetisnull(res, 0, col))
		return 0;
	op->template = json_loads(PQgetvalue(res, 0, col), 0, NULL);
	return op->template ? 0 : -1;
}

/* ---- create ---------------------------------------------------------------- */

static void on_prepared(PGresult *res, void *arg)
{
	struct agop *op = arg;
	struct req *r = op->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		agop_free(op);
		reply_query_failed(r, res);
		return;
	}
	if (!PQgetisnull(res, 0, 1)) {
		/* The key was used before: the same body gets the first answer. */
		if (strcmp(PQgetvalue(res, 0, 1), op->body_hash) != 0) {
			ag_fail_field(op, 409, "Idempotency-Key",
			              "this key was used with a different request body");
			return;
		}
		req_add_header(r, "Idempotent-Replayed", "true");
		char loc[64];
		snprintf(loc, sizeof(loc), "/v1/agreements/%s", PQgetvalue(res, 0, 2));
		req_add_header(r, "Location", loc);
		req_set_etag(r, PQgetvalue(res, 0, 4));
		reply_raw(r, 201, "application/json", PQgetvalue(res, 0, 3),
		          (size_t)PQgetlength(res, 0, 3));
		agop_free(op);
		return;
	}
	if (take_template(op, res, 0)) {
		ag_fail(op, 500, "cannot read the follow-up template");
		return;
	}
	if (ag_validate(op, r->who.org_tz) == 0)
		ag_write(op);
}

static void prepare_create(struct agop *op)
{
	struct principal *who = &op->r->who;
	const char *p[] = {who->org_id, op->idem_key[0] ? op->idem_key : NULL, who->org_slug};
	json_decref(op->template);
	op->template = NULL;
	ag_submit(op, SQL_AGREEMENT_PREPARE, 3, p, on_prepared);
}

void agreements_create(struct req *r)
{
	json_t *body = req_json_body(r, 0);
	struct agop *op = body ? agop_new(r, body) : NULL;
	if (!op)
		return;
	strcpy(op->body_hash, "-");
	int rc = idem_read(r, op->idem_key, op->body_hash);
	if (rc == -1)
		ag_fail_field(op, 400, "Idempotency-Key", IDEM_BAD_KEY);
	else if (rc == -2)
		ag_fail(op, 500, "cannot hash the body");
	else
		prepare_create(op);
}

/* ---- read ------------------------------------------------------------------ */

static void on_get(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such agreement");
		return;
	}
	req_set_etag(r, PQgetvalue(res, 0, 1));
	reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
	          (size_t)PQgetlength(res, 0, 0));
}

void agreements_get(struct req *r)
{
	const char *id = agreement_id(r);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	if (id && dbpool_query(r->cx->db, SQL_AGREEMENT_GET, 3, p, on_get, r) != 0)
		reply_unavailable(r);
}

/* ---- patch and terminate ----------------------------------------------------- */

static void on_loaded(PGresult *res, void *arg)
{
	struct agop *op = arg;
	if (!res) {
		ag_fail(op, 503, NULL);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ag_fail(op, PQresultStatus(res) != PGRES_TUPLES_OK ? 500 : 404,
		        "no such agreement");
		return;
	}
	if (PQgetvalue(res, 0, 2)[0] != 't') {
		ag_fail(op, 403, "only the owner org may change this agreement");
		return;
	}
	snprintf(op->version, sizeof(op->version), "%s", PQgetvalue(res, 0, 1));
	if (req_if_match_fails(op->r, op->version)) {
		ag_fail(op, 412, "the agreement has changed since that version (If-Match)");
		return;
	}
	json_t *current = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	/* Milestones stored with two reminders of one length (before they
	 * were refused) are read with the first of each (event_change.c). */
	event_dedupe_triggers_of(json_object_get(current, "milestones"));
	op->before = current ? json_deep_copy(current) : NULL;
	if (!op->before || take_template(op, res, 4)) {
		json_decref(current);
		ag_fail(op, 500, "cannot read the stored agreement");
		return;
	}
	/* The milestones as stored, which the patched ones are matched to. */
	op->stored = json_incref(json_object_get(current, "milestones"));
	if (op->cancelling)
		json_object_set_new(current, "stage", json_string("terminated"));
	else
		jv_merge_patch(current, op->body);
	json_decref(op->body);
	op->body = current;
	char tz[65];
	snprintf(tz, sizeof(tz), "%s", PQgetvalue(res, 0, 3));
	if (ag_validate(op, tz) == 0)
		ag_write(op);
}

static void start_change(struct req *r, json_t *patch, int cancelling)
{
	const char *id = agreement_id(r);
	if (!id) {
		json_decref(patch);
		return;
	}
	struct agop *op = agop_new(r, patch);
	if (!op)
		return;
	op->cancelling = cancelling;
	op->stage_given |= cancelling;
	snprintf(op->id, sizeof(op->id), "%s", id);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	ag_submit(op, SQL_AGREEMENT_GET, 3, p, on_loaded);
}

void agreements_patch(struct req *r)
{
	json_t *patch = req_json_body(r, 1);
	if (patch)
		start_change(r, patch, 0);
}

/* DELETE /v1/agreements/{id}: terminated (today), its dates still ahead
 * cancelled; answered 200 with the agreement, like an event's cancel. A
 * patch of the stage to another brings them back. */
void agreements_cancel(struct req *r)
{
	start_change(r, NULL, 1);
}
