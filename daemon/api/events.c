/* events.c - /v1/events: the write pipeline. A write runs in up to four steps on the
 * request's worker: for an override, read its series (the override takes
 * what it does not say from it, and its recurrence_id must be one of the
 * series' occurrences); check the references the body names (partner
 * orgs, parent, an Idempotency-Key seen before); write the row; and for an
 * idempotent create remember the answer. Each step is one statement; the
 * representation comes back from PostgreSQL ready to send.
 *
 * One model of a series: a master (rrule, rdates, exdates) and overrides
 * of single occurrences. Cancelling one occurrence is an override with
 * status cancelled (POST with series_id, recurrence_id and status, or
 * DELETE /v1/events/{id}/occurrences/{recurrence_id}); a change of the
 * series' times cancels, in the same statement, the overrides whose
 * occurrence it no longer has; cancelling and restoring the master takes
 * its overrides along (a trigger, sql/009, so imports do the same). */
#include "api/events.h"

#include "api/conflicts.h"
#include "api/event_op.h"
#include "api/event_params.h"
#include "api/events_sql.h"
#include "api/idem.h"
#include "api/import.h"
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

void evop_free(struct evop *op)
{
	json_decref(op->body);
	json_decref(op->series);
	json_decref(op->request);
	json_decref(op->gone);
	json_decref(op->back);
	json_decref(op->before);
	json_decref(op->overrides);
	json_decref(op->locals);
	event_bufs_free(&op->bufs);
	free(op);
}

/* Ends the request with a problem and frees the operation. */
void op_fail(struct evop *op, int status, const char *detail)
{
	struct req *r = op->r;
	evop_free(op);
	if (status == 503)
		reply_unavailable(r);
	else
		reply_problem(r, status, detail);
}

void op_fail_field(struct evop *op, int status, const char *field, const char *msg)
{
	struct req *r = op->r;
	evop_free(op);
	reply_problem_field(r, status, msg, field, msg);
}

typedef int (*db_query_fn)(struct dbpool *, const char *, int, const char *const *, db_result_cb,
                           void *);

static int submit_by(struct evop *op, db_query_fn query, const char *sql, int n,
                     const char *const *params, db_result_cb cb)
{
	if (query(op->r->cx->db, sql, n, params, cb, op) != 0) {
		op_fail(op, 503, NULL);
		return -1;
	}
	return 0;
}

int op_submit(struct evop *op, const char *sql, int n, const char *const *params, db_result_cb cb)
{
	return submit_by(op, dbpool_query, sql, n, params, cb);
}

/* A result that is neither an outage nor an error, or the answer is sent. */
int op_result_ok(struct evop *op, PGresult *res)
{
	if (!res) {
		op_fail(op, 503, NULL);
		return 0;
	}
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return 1;
	const char *state = db_sqlstate(res);
	const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	if (!strcmp(state, "23505") && constraint && !strcmp(constraint, "idempotency_keys_pkey")) {
		/* A concurrent create with this key won: its answer is replayed
		 * (or the key's body differs: 409), as for a later retry. */
		if (!op->idem_again++)
			check_refs(op);
		else
			op_fail_field(op, 409, "Idempotency-Key",
			              "a request with this key is under way");
		return 0;
	}
	if (!strcmp(state, "23505") && op->request && !op->again) {
		/* A concurrent write gave this occurrence its override first:
		 * asked once more, it is found (a cancel then cancels it). */
		try_override_again(op);
		return 0;
	}
	if (!strcmp(state, "23505")) {
		op_fail_field(op, 409, "uid", "an event with this uid (or this occurrence) exists");
		return 0;
	}
	struct req *r = op->r;
	evop_free(op);
	reply_db_error(r, res);
	return 0;
}

void reply_event(struct req *r, int status, const char *json, const char *version)
{
	req_set_etag(r, version);
	reply_raw(r, status, "application/json", json, strlen(json));
}

/* ---- reference checks ----------------------------------------------------- */

/* Names the first missing partner as partners[i]. */
static void refuse_partner(struct evop *op, const char *missing_json)
{
	json_t *missing = json_loads(missing_json, 0, NULL);
	const char *slug = json_string_value(json_array_get(missing, 0));
	char field[32] = "partners";
	int at = jv_index_of(op->in.partners, slug);
	if (at >= 0)
		snprintf(field, sizeof(field), "partners[%d]", at);
	json_decref(missing);
	op_fail_field(op, 422, field, "no org has this slug");
}

static void on_refs(PGresult *res, void *arg)
{
	struct evop *op = arg;
	if (!op_result_ok(op, res))
		return;
	if (!PQgetisnull(res, 0, 3)) {
		/* The key was used before: the same body gets the first answer. */
		if (strcmp(PQgetvalue(res, 0, 3), op->body_hash) != 0) {
			op_fail_field(op, 409, "Idempotency-Key",
			              "this key was used with a different request body");
			return;
		}
		struct req *r = op->r;
		req_add_header(r, "Idempotent-Replayed", "true");
		reply_event(r, 201, PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
		evop_free(op);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "[]") != 0) {
		refuse_partner(op, PQgetvalue(res, 0, 0));
		return;
	}
	if (PQgetvalue(res, 0, 1)[0] != 't') {
		op_fail_field(op, 422, "parent_id", "no such event");
		return;
	}
	if (PQgetvalue(res, 0, 2)[0] != 't') {
		op_fail_field(op, 422, "series_id", "no recurring event of your org has this id");
		return;
	}
	write_event(op);
}

void check_refs(struct evop *op)
{
	if (!json_array_size(op->in.partners) && !op->in.parent_id && !op->in.series_id &&
	    !op->idem_key[0]) {
		write_event(op); /* nothing the database must confirm first */
		return;
	}
	struct principal *who = &op->r->who;
	char *partners = op->in.partners ? json_dumps(op->in.partners, JSON_COMPACT) : NULL;
	const char *p[] = {partners ? partners : "[]",
	                   op->in.parent_id,
	                   op->in.series_id,
	                   who->org_id,
	                   who->org_slug,
	                   op->idem_key[0] ? op->idem_key : NULL};
	op_submit(op, SQL_EVENT_REFS, 6, p, on_refs);
	free(partners);
}

/* ---- create ---------------------------------------------------------------- */

static void on_remembered(PGresult *res, void *arg)
{
	(void)res; /* a lost answer only costs a rebuilt one on replay */
	(void)arg;
}

static void on_inserted(PGresult *res, void *arg)
{
	struct evop *op = arg;
	if (!op_result_ok(op, res))
		return;
	if (PQntuples(res) != 1) {
		/* An override whose series changed since it was checked. */
		if (!op->again)
			try_override_again(op);
		else
			op_fail(op, 409, "the series changed meanwhile; read it again");
		return;
	}
	char *settled;
	if (conflicts_settle(PQgetvalue(res, 0, 0), &settled)) {
		op_fail(op, 500, "cannot settle the conflicts");
		return;
	}
	const char *answer = settled ? settled : PQgetvalue(res, 0, 0);
	struct req *r = op->r;
	char loc[64];
	snprintf(loc, sizeof(loc), "/v1/events/%s", PQgetvalue(res, 0, 2));
	req_add_header(r, "Location", loc);
	if (op->idem_key[0]) {
		const char *p[] = {r->who.org_id, op->idem_key, answer};
		/* Not remembered (the pool is full): a replay rebuilds the answer
		 * from the row. */
		if (dbpool_query(r->cx->db, SQL_EVENT_REMEMBER, 3, p, on_remembered, NULL) != 0)
			log_debug("request id=%s: the idempotent answer is not stored", r->id);
	}
	reply_event(r, op->occurrence ? 200 : 201, answer, PQgetvalue(res, 0, 1));
	free(settled);
	evop_free(op);
}

void op_on_updated(PGresult *res, void *arg)
{
	struct evop *op = arg;
	if (!op_result_ok(op, res))
		return;
	if (PQntuples(res) != 1) {
		/* A cancel of an occurrence that raced another: once more, it
		 * finds the occurrence cancelled. */
		if (op->request && !op->again)
			try_override_again(op);
		else if (write_again(op->r))
			evop_free(op);
		else
			op_fail(op, write_lost_status(op->r), write_lost_detail(op->r));
		return;
	}
	char *settled;
	if (conflicts_settle(PQgetvalue(res, 0, 0), &settled)) {
		op_fail(op, 500, "cannot settle the conflicts");
		return;
	}
	reply_event(op->r, 200, settled ? settled : PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	free(settled);
	evop_free(op);
}

/* Whether a change of a master moves its overrides' instants as they
 * follow it (sql/029): a new zone, or a new length. */
static int follow_moves(json_t *before, json_t *after)
{
	static const char *const keys[] = {"timezone", "start", "end"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *a = json_object_get(before, keys[i]), *b = json_object_get(after, keys[i]);
		int none_a = !a || json_is_null(a), none_b = !b || json_is_null(b);
		if (none_a ? !none_b : !json_equal(a, b))
			return 1;
	}
	return 0;
}

void write_event(struct evop *op)
{
	struct principal *who = &op->r->who;
	const char *p[EV_NPARAMS + 9];
	event_params(&op->in, who->org_id, &op->bufs, p);
	if (op->creating) {
		p[EV_NPARAMS + 0] = op->in.uid;
		p[EV_NPARAMS + 1] = op->idem_key[0] ? op->idem_key : NULL;
		p[EV_NPARAMS + 2] = op->body_hash;
		p[EV_NPARAMS + 3] = who->org_slug;
		p[EV_NPARAMS + 4] = op->series_version;
		if (op->in.series_id)
			op_submit(op, SQL_EVENT_INSERT_OVERRIDE, EV_NPARAMS + 5, p, on_inserted);
		else
			/* commits with others under load (dbpool.h) */
			submit_by(op, dbpool_query_grouped, SQL_EVENT_INSERT, EV_NPARAMS + 4, p,
			          on_inserted);
	} else {
		char *gone = op->gone ? json_dumps(op->gone, JSON_COMPACT) : NULL;
		char *back = op->back ? json_dumps(op->back, JSON_COMPACT) : NULL;
		char *hints = NULL;
		if (json_array_size(op->locals) && follow_moves(op->before, op->body) &&
		    !(hints = series_hints(&op->in, op->locals))) {
			free(gone);
			free(back);
			op_fail(op, 500, "out of memory");
			return;
		}
		p[EV_NPARAMS + 0] = op->id;
		p[EV_NPARAMS + 1] = op->version;
		p[EV_NPARAMS + 2] = who->org_slug;
		p[EV_NPARAMS + 3] = gone ? gone : "[]";
		p[EV_NPARAMS + 4] = back ? back : "[]";
		p[EV_NPARAMS + 5] = op->overrides_rev[0] ? op->overrides_rev : NULL;
		p[EV_NPARAMS + 6] = op->in.series_id;
		p[EV_NPARAMS + 7] = op->series_version[0] ? op->series_version : NULL;
		p[EV_NPARAMS + 8] = hints;
		op_submit(op, SQL_EVENT_UPDATE, EV_NPARAMS + 9, p, op_on_updated);
		free(gone);
		free(back);
		free(hints);
	}
}

struct evop *evop_new(struct req *r)
{
	struct evop *op = calloc(1, sizeof(*op));
	if (!op)
		reply_problem(r, 500, "out of memory");
	else
		op->r = r;
	return op;
}

/* Validates op->body into op->in; on faults answers 422 and frees op. */
int validate(struct evop *op, const char *tz)
{
	json_t *errors = json_array();
	if (!errors || event_validate(op->body, tz, &op->in, errors) != 0 ||
	    ((!op->before || series_moved(op->before, op->body)) &&
	     event_countable(&op->in, errors))) {
		struct req *r = op->r;
		evop_free(op);
		reply_problem_fields(r, 422, "the event is not valid", errors);
		return -1;
	}
	json_decref(errors);
	return 0;
}

static int read_idempotency_key(struct evop *op)
{
	int rc = idem_read(op->r, op->idem_key, op->body_hash);
	if (rc == -1)
		op_fail_field(op, 400, "Idempotency-Key", IDEM_BAD_KEY);
	else if (rc == -2)
		op_fail(op, 500, "cannot hash the body");
	return rc;
}

void events_create(struct req *r)
{
	const char *ct = req_header(r, "Content-Type");
	if (ct && !strncasecmp(ct, "text/calendar", 13)) {
		import_calendar(r);
		return;
	}
	struct evop *op = evop_new(r);
	if (!op || !(op->body = req_json_body(r, 0))) {
		free(op);
		return;
	}
	op->creating = 1;
	strcpy(op->body_hash, "-");
	if (read_idempotency_key(op))
		return;
	create_or_override(op);
}

/* Ids that are not UUIDs name no event: 404 without asking the database. */
const char *event_id(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such event");
		return NULL;
	}
	return id;
}
