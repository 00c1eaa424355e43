/* agreements.c - /v1/agreements: MOUs and letters of intent. An
 * agreement's milestones and its signing and expiry dates are stored as
 * deadline events (agreement_id, agreement_part), written in the same
 * statement as the agreement, so they reach lists, occurrences, feeds and
 * reminders. Parties play the role that partners play for events. A
 * patch updates those events in place: each date keeps its event (id,
 * UID) while it exists (match_milestones, SQL_AGREEMENT_UPDATE), and only the
 * events whose values change are written. */
#include "api/agreements.h"

#include "api/agreement_op.h"
#include "api/agreements_sql.h"
#include "dbpool.h"
#include "http/http.h"
#include "api/jsonv.h"
#include "recur.h"
#include "http/context.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agop_free(struct agop *op)
{
	json_decref(op->body);
	json_decref(op->events);
	json_decref(op->stored);
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

/* ---- writes ---------------------------------------------------------------- */

static void on_written(PGresult *res, void *arg);

static void ag_write(struct agop *op, int creating)
{
	struct principal *who = &op->r->who;
	char *parties = op->parties ? json_dumps(op->parties, JSON_COMPACT) : NULL;
	char *events = json_dumps(op->events, JSON_COMPACT);
	const char *p[] = {who->org_id,    op->title,     op->description, parties ? parties : "[]",
	                   op->stage,      op->signed_on, op->expires_on,  op->timezone,
	                   op->visibility, events,        op->id,          op->version};
	int rc = events && (parties || !op->parties)
	             ? dbpool_query(op->r->cx->db,
	                            creating ? SQL_AGREEMENT_CREATE : SQL_AGREEMENT_UPDATE,
	                            creating ? 10 : 12, p, on_written, op)
	             : -2;
	free(parties);
	free(events);
	if (rc == -2)
		ag_fail(op, 500, "out of memory");
	else if (rc != 0)
		ag_fail(op, 503, NULL);
}

static void on_written(PGresult *res, void *arg)
{
	struct agop *op = arg;
	struct req *r = op->r;
	int creating = op->version[0] == '\0';
	if (!res) {
		ag_fail(op, 503, NULL);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		agop_free(op);
		reply_db_error(r, res);
		return;
	}
	if (PQntuples(res) == 1 && PQgetisnull(res, 0, 3) && PQgetisnull(res, 0, 0)) {
		ag_fail(op, 412, "the agreement changed meanwhile; read it again");
		return;
	}
	if (PQntuples(res) != 1 || !PQgetisnull(res, 0, 3)) {
		/* A party that names no org: nothing of the statement is kept. */
		json_t *errors = json_array();
		char field[32] = "parties";
		int at = jv_index_of(op->parties, PQgetvalue(res, 0, 3));
		if (at >= 0)
			snprintf(field, sizeof(field), "parties[%d]", at);
		jv_error(errors, field, "no org has this slug");
		agop_free(op);
		reply_problem_fields(r, 422, "the agreement is not valid", errors);
		return;
	}
	req_set_etag(r, PQgetvalue(res, 0, 1));
	if (creating) {
		char loc[64];
		snprintf(loc, sizeof(loc), "/v1/agreements/%s", PQgetvalue(res, 0, 2));
		req_add_header(r, "Location", loc);
	}
	reply_raw(r, creating ? 201 : 200, "application/json", PQgetvalue(res, 0, 0),
	          (size_t)PQgetlength(res, 0, 0));
	agop_free(op);
}

static struct agop *agop_new(struct req *r)
{
	struct agop *op = calloc(1, sizeof(*op));
	if (!op)
		reply_problem(r, 500, "out of memory");
	else
		op->r = r;
	return op;
}

void agreements_create(struct req *r)
{
	struct agop *op = agop_new(r);
	if (!op)
		return;
	if (!(op->body = req_json_body(r, 0))) {
		free(op);
		return;
	}
	if (ag_validate(op, r->who.org_tz) == 0)
		ag_write(op, 1);
}

/* ---- reads ----------------------------------------------------------------- */

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

static const char *agreement_id(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such agreement");
		return NULL;
	}
	return id;
}

void agreements_get(struct req *r)
{
	const char *id = agreement_id(r);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	if (id && dbpool_query(r->cx->db, SQL_AGREEMENT_GET, 3, p, on_get, r) != 0)
		reply_unavailable(r);
}

static void on_list(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	json_t *items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
	reply_json(r, 200, json_pack("{s:o, s:n}", "items", items, "next_cursor"));
}

void agreements_list(struct req *r)
{
	const char *p[] = {r->who.org_id, r->who.org_slug};
	if (dbpool_query(r->cx->db_read, SQL_AGREEMENT_LIST, 2, p, on_list, r) != 0)
		reply_unavailable(r);
}

/* ---- patch ----------------------------------------------------------------- */

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
	const char *if_match = req_header(op->r, "If-Match");
	if (if_match && !etag_listed(if_match, op->version)) {
		ag_fail(op, 412, "the agreement has changed since that version (If-Match)");
		return;
	}
	json_t *current = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!current) {
		ag_fail(op, 500, "cannot read the stored agreement");
		return;
	}
	/* The milestones as stored, which the patched ones are matched to. */
	op->stored = json_incref(json_object_get(current, "milestones"));
	jv_merge_patch(current, op->body);
	json_decref(op->body);
	op->body = current;
	char tz[65];
	snprintf(tz, sizeof(tz), "%s", PQgetvalue(res, 0, 3));
	if (ag_validate(op, tz) == 0)
		ag_write(op, 0);
}

void agreements_patch(struct req *r)
{
	const char *id = agreement_id(r);
	if (!id)
		return;
	struct agop *op = agop_new(r);
	if (!op)
		return;
	if (!(op->body = req_json_body(r, 1))) {
		free(op);
		return;
	}
	snprintf(op->id, sizeof(op->id), "%s", id);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	if (dbpool_query(r->cx->db, SQL_AGREEMENT_GET, 3, p, on_loaded, op) != 0)
		ag_fail(op, 503, NULL);
}
