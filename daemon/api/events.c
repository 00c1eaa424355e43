/* events.c - /v1/events. A write runs in up to four steps on the
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

#include "dbpool.h"
#include "event.h"
#include "api/event_params.h"
#include "core/event_json.h"
#include "core/event_sql.h"
#include "api/filters.h"
#include "http/http.h"
#include "api/import.h"
#include "api/jsonv.h"
#include "recur.h"
#include "api/series.h"
#include "http/context.h"
#include "token.h"
#include "tz.h"
#include "validate.h"

#include <event2/buffer.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One write in progress. */
struct evop {
	struct req *r;
	json_t *body; /* the request body (create) or the merged event (patch) */
	struct event_in in;
	struct event_bufs bufs;
	char id[37];
	char version[16];
	char idem_key[256];
	char body_hash[TOKEN_HASH_HEX + 1];
	int creating;
	int idem_again; /* the key was taken by a concurrent create: asked once more */
	int cancelling;
	int occurrence;  /* DELETE .../occurrences/{rid}: answers 200 */
	int again;       /* an override's series changed under it: tried once more */
	json_t *request; /* create: the body as sent, for that second try */
	json_t *series;  /* an override's master, as read */
	char series_version[16];
	char overrides_rev[16]; /* a master's, as read (patch) */
	json_t *gone;           /* patch: ids of overrides the series no longer has */
	json_t *back;           /* patch: ids of orphans it has an occurrence for again */
	json_t *before;         /* patch: the event as stored */
	json_t *overrides;      /* patch: the master's overrides (SERIES_OVERRIDES) */
};

static void evop_free(struct evop *op)
{
	json_decref(op->body);
	json_decref(op->series);
	json_decref(op->request);
	json_decref(op->gone);
	json_decref(op->back);
	json_decref(op->before);
	json_decref(op->overrides);
	event_bufs_free(&op->bufs);
	free(op);
}

/* Ends the request with a problem and frees the operation. */
static void op_fail(struct evop *op, int status, const char *detail)
{
	struct req *r = op->r;
	evop_free(op);
	if (status == 503)
		reply_unavailable(r);
	else
		reply_problem(r, status, detail);
}

static void op_fail_field(struct evop *op, int status, const char *field, const char *msg)
{
	struct req *r = op->r;
	json_t *errors = json_array();
	jv_error(errors, field, msg);
	evop_free(op);
	reply_problem_fields(r, status, msg, errors);
}

static int op_submit(struct evop *op, const char *sql, int n, const char *const *params,
                     db_result_cb cb)
{
	if (dbpool_query(op->r->cx->db, sql, n, params, cb, op) != 0) {
		op_fail(op, 503, NULL);
		return -1;
	}
	return 0;
}

static void check_refs(struct evop *op);
static void try_override_again(struct evop *op);

/* A result that is neither an outage nor an error, or the answer is sent. */
static int op_result_ok(struct evop *op, PGresult *res)
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

static void reply_event(struct req *r, int status, const char *json, const char *version)
{
	req_set_etag(r, version);
	reply_raw(r, status, "application/json", json, strlen(json));
}

/* ---- reference checks ----------------------------------------------------- */

/* clang-format off */
static const char sql_refs[] =
	"SELECT (SELECT coalesce(jsonb_agg(p), '[]')"
	"          FROM jsonb_array_elements_text($1::jsonb) p"
	"         WHERE p NOT IN (SELECT slug FROM orgs))::text,"
	"       $2::uuid IS NULL OR EXISTS ("
	"         SELECT 1"
	"           FROM events e"
	"          WHERE e.id = $2::uuid"
	"            AND " EV_VISIBLE("e", "$4::uuid", "$5::text") "),"
	"       $3::uuid IS NULL OR EXISTS ("
	"         SELECT 1"
	"           FROM events e"
	"          WHERE e.id = $3::uuid"
	"            AND e.org_id = $4::uuid"
	"            AND (e.rrule IS NOT NULL OR cardinality(e.rdates) > 0)"
	"            AND e.series_id IS NULL),"
	"       (SELECT k.request_hash"
	"          FROM idempotency_keys k"
	"         WHERE k.org_id = $4::uuid"
	"           AND k.key = $6),"
	"       (SELECT coalesce(k.response, " EVENT_JSON "::text)"
	"          FROM idempotency_keys k"
	"          JOIN events e ON e.id = k.event_id"
	"          JOIN orgs o ON o.id = e.org_id"
	"         WHERE k.org_id = $4::uuid"
	"           AND k.key = $6::text),"
	"       (SELECT e.version"
	"          FROM idempotency_keys k"
	"          JOIN events e ON e.id = k.event_id"
	"         WHERE k.org_id = $4::uuid"
	"           AND k.key = $6::text)";
/* clang-format on */

static void write_event(struct evop *op);

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

static void check_refs(struct evop *op)
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
	op_submit(op, sql_refs, 6, p, on_refs);
	free(partners);
}

/* ---- create ---------------------------------------------------------------- */

static const char sql_insert[] =
    "WITH e AS (INSERT INTO events (org_id, uid, " EV_COLUMNS ") "
    "  VALUES ($1, coalesce((SELECT s.uid FROM events s WHERE s.id = $18::uuid), $27::text, "
    "gen_random_uuid()::text || '@liaison'), " EV_VALUES ") "
    "  RETURNING *), "
    " k AS (INSERT INTO idempotency_keys (org_id, key, request_hash, event_id) "
    "  SELECT $1::uuid, $28::text, $29::text, e.id FROM e WHERE $28::text IS NOT NULL) "
    "SELECT (" EVENT_JSON " || jsonb_build_object('conflicts', " EV_CONFLICTS(
        "$1::uuid", "$30::text") "))::text, "
                                 " e.version, e.id FROM e JOIN orgs o ON o.id = e.org_id";

/* An override: written only while its master is at the version it was
 * checked against ($31), whose overrides_rev it bumps, so that a change of
 * the series' occurrences made meanwhile (which checks that) and this
 * write cannot both pass. No row: the series changed. */
/* clang-format off */
static const char sql_insert_override[] =
	"WITH s AS ("
	"  UPDATE events"
	"     SET overrides_rev = overrides_rev + 1"
	"   WHERE id = $18::uuid"
	"     AND org_id = $1::uuid"
	"     AND version = $31::integer"
	"  RETURNING uid), "
	"e AS ("
	"  INSERT INTO events (org_id, uid, " EV_COLUMNS ")"
	"  SELECT $1, coalesce(s.uid, $27::text), " EV_VALUES
	"    FROM s"
	"  RETURNING *), "
	"k AS ("
	"  INSERT INTO idempotency_keys (org_id, key, request_hash, event_id)"
	"  SELECT $1::uuid, $28::text, $29::text, e.id"
	"    FROM e"
	"   WHERE $28::text IS NOT NULL) "
	"SELECT (" EVENT_JSON " || jsonb_build_object("
	"         'conflicts', " EV_CONFLICTS("$1::uuid", "$30::text") "))::text,"
	"       e.version, e.id"
	"  FROM e"
	"  JOIN orgs o ON o.id = e.org_id";
/* clang-format on */

static const char sql_remember[] =
    "UPDATE idempotency_keys SET response = $3::text WHERE org_id = $1::uuid AND key = $2::text";

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
	struct req *r = op->r;
	char loc[64];
	snprintf(loc, sizeof(loc), "/v1/events/%s", PQgetvalue(res, 0, 2));
	req_add_header(r, "Location", loc);
	if (op->idem_key[0]) {
		const char *p[] = {r->who.org_id, op->idem_key, PQgetvalue(res, 0, 0)};
		if (dbpool_query(r->cx->db, sql_remember, 3, p, on_remembered, NULL) != 0) {
			/* Not remembered: a replay rebuilds the answer from the row. */
		}
	}
	reply_event(r, op->occurrence ? 200 : 201, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	evop_free(op);
}

/* $30 and $31: the master's overrides whose occurrence the change takes
 * away, and the orphans it gives one back (series.h), written in the same
 * statement and listed in the answer. $32: the master's overrides_rev as
 * read, so that an override written meanwhile makes this a 412 rather than
 * an override beside an occurrence it no longer names. $33, $34: an
 * override's master and its version as checked, whose overrides_rev this
 * bumps for the same reason. */
/* clang-format off */
static const char sql_update[] =
	"WITH s AS ("
	"  UPDATE events"
	"     SET overrides_rev = overrides_rev + 1"
	"   WHERE $33::uuid IS NOT NULL"
	"     AND id = $33::uuid"
	"     AND version = $34::integer"
	"  RETURNING id), "
	"e AS ("
	"  UPDATE events"
	"     SET (" EV_COLUMNS ") = (" EV_VALUES "),"
	"         version = version + 1,"
	"         updated_at = now(),"
	"         sequence = sequence + CASE WHEN"
	"           (title, description, location, timezone, all_day, start_local, end_local,"
	"            rrule, exdates, rdates, status, url, reminders)"
	"           IS DISTINCT FROM"
	"           ($3, $4, $5, $8, $9::boolean, $10::timestamp, $11::timestamp, $15,"
	"            ARRAY(SELECT jsonb_array_elements_text($16::jsonb))::timestamp[],"
	"            ARRAY(SELECT jsonb_array_elements_text($17::jsonb))::timestamp[], $20, $26,"
	"            ARRAY(SELECT jsonb_array_elements_text($25::jsonb)))"
	"           THEN 1 ELSE 0 END"
	"   WHERE id = $27::uuid"
	"     AND org_id = $1::uuid"
	"     AND version = $28::integer"
	"     AND ($32::integer IS NULL OR overrides_rev = $32::integer)"
	"     AND ($33::uuid IS NULL OR EXISTS (SELECT 1 FROM s))"
	"  RETURNING *), "
	SERIES_ORPHANS("e", "$30", "$31") " "
	"SELECT (" EVENT_JSON " || jsonb_build_object("
	"         'conflicts', " EV_CONFLICTS("$1::uuid", "$29::text") ","
	"         'cancelled_overrides', (SELECT coalesce(jsonb_agg(g.id ORDER BY g.id), '[]')"
	"                                   FROM g),"
	"         'restored_overrides', (SELECT coalesce(jsonb_agg(b.id ORDER BY b.id), '[]')"
	"                                  FROM b)))::text,"
	"       e.version"
	"  FROM e"
	"  JOIN orgs o ON o.id = e.org_id";
/* clang-format on */

static void on_updated(PGresult *res, void *arg)
{
	struct evop *op = arg;
	if (!op_result_ok(op, res))
		return;
	if (PQntuples(res) != 1) {
		/* A cancel of an occurrence that raced another: once more, it
		 * finds the occurrence cancelled. */
		if (op->request && !op->again)
			try_override_again(op);
		else
			op_fail(op, 412, "the event changed meanwhile; read it again");
		return;
	}
	reply_event(op->r, 200, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	evop_free(op);
}

static void write_event(struct evop *op)
{
	struct principal *who = &op->r->who;
	const char *p[34];
	event_params(&op->in, who->org_id, &op->bufs, p);
	if (op->creating) {
		p[26] = op->in.uid;
		p[27] = op->idem_key[0] ? op->idem_key : NULL;
		p[28] = op->body_hash;
		p[29] = who->org_slug;
		p[30] = op->series_version;
		if (op->in.series_id)
			op_submit(op, sql_insert_override, 31, p, on_inserted);
		else
			op_submit(op, sql_insert, 30, p, on_inserted);
	} else {
		char *gone = op->gone ? json_dumps(op->gone, JSON_COMPACT) : NULL;
		char *back = op->back ? json_dumps(op->back, JSON_COMPACT) : NULL;
		p[26] = op->id;
		p[27] = op->version;
		p[28] = who->org_slug;
		p[29] = gone ? gone : "[]";
		p[30] = back ? back : "[]";
		p[31] = op->overrides_rev[0] ? op->overrides_rev : NULL;
		p[32] = op->in.series_id;
		p[33] = op->series_version[0] ? op->series_version : NULL;
		op_submit(op, sql_update, 34, p, on_updated);
		free(gone);
		free(back);
	}
}

static struct evop *evop_new(struct req *r)
{
	struct evop *op = calloc(1, sizeof(*op));
	if (!op)
		reply_problem(r, 500, "out of memory");
	else
		op->r = r;
	return op;
}

/* Validates op->body into op->in; on faults answers 422 and frees op. */
static int validate(struct evop *op, const char *tz)
{
	json_t *errors = json_array();
	if (!errors || event_validate(op->body, tz, &op->in, errors) != 0) {
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
	const char *key = req_header(op->r, "Idempotency-Key");
	if (!key)
		return 0;
	if (!valid_text(key, sizeof(op->idem_key) - 1, 0)) {
		op_fail_field(op, 400, "Idempotency-Key", "must be 1-255 printable characters");
		return -1;
	}
	snprintf(op->idem_key, sizeof(op->idem_key), "%s", key);
	struct evbuffer *in = evhttp_request_get_input_buffer(op->r->ev);
	if (token_hash((const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in),
	               op->body_hash)) {
		op_fail(op, 500, "cannot hash the body");
		return -1;
	}
	return 0;
}

/* ---- overrides ------------------------------------------------------------- */

/* The master of an override ($1) as the caller's org ($2, slug $4) sees
 * it, and the override it may already have for recurrence id $3. */
/* clang-format off */
static const char sql_series[] =
	"SELECT e.version, e.org_id = $2::uuid, o.timezone, " EVENT_COLS ","
	"       (SELECT x.id"
	"          FROM events x"
	"         WHERE x.series_id = e.id"
	"           AND x.recurrence_id = $3::timestamp)"
	"  FROM events e"
	"  JOIN orgs o ON o.id = e.org_id"
	" WHERE e.id = $1::uuid"
	"   AND e.series_id IS NULL"
	"   AND " EV_VISIBLE("e", "$2::uuid", "$4::text");
/* clang-format on */
#define SERIES_OVERRIDE_COL (3 + EVENT_NCOLS)

static void load_change(struct evop *op);

/* What an override does not say, it takes from its series: the whole
 * event but the series' own fields, starting at its recurrence id and
 * lasting as the series' occurrences do. So cancelling one occurrence
 * needs nothing more than {series_id, recurrence_id, status}. */
static json_t *override_body(json_t *master, json_t *body)
{
	static const char *const own[] = {"id",         "org",          "uid",      "rrule",
	                                  "exdates",    "rdates",       "sequence", "created_at",
	                                  "updated_at", "agreement_id", "status"};
	json_t *b = json_deep_copy(master);
	if (!b)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(own); i++)
		json_object_del(b, own[i]);
	int all_day = json_is_true(json_object_get(master, "all_day"));
	const char *start = json_string_value(json_object_get(body, "start"));
	if (!start)
		start = json_string_value(json_object_get(body, "recurrence_id"));
	json_object_set_new(b, "start", start ? json_string(start) : json_null());
	json_object_del(b, "end");
	struct civil ms, me, s;
	const char *mend = json_string_value(json_object_get(master, "end"));
	if (start && mend && !json_object_get(body, "end") &&
	    !civil_parse(json_string_value(json_object_get(master, "start")), all_day, &ms) &&
	    !civil_parse(mend, all_day, &me) && !civil_parse(start, all_day, &s)) {
		char end[CIVIL_LEN];
		struct civil e;
		civil_from_epoch(civil_to_epoch(&s) + civil_to_epoch(&me) - civil_to_epoch(&ms),
		                 &e);
		civil_format(&e, all_day, end);
		json_object_set_new(b, "end", json_string(end));
	}
	json_object_update(b, body);
	return b;
}

/* An occurrence is seen by whom its series is seen (the database keeps
 * that for every writer): an override asking otherwise is refused rather
 * than quietly made what it did not ask for. */
static int audience_differs(json_t *master, json_t *body, const char **field)
{
	json_t *v = json_object_get(body, "visibility");
	if (v && !json_is_null(v) && !json_equal(v, json_object_get(master, "visibility"))) {
		*field = "visibility";
		return 1;
	}
	json_t *p = json_object_get(body, "partners"), *mp = json_object_get(master, "partners");
	if (!p || json_is_null(p))
		return 0;
	size_t i;
	json_t *x;
	int differs = !json_is_array(p);
	json_array_foreach(p, i, x) differs |= jv_index_of(mp, json_string_value(x)) < 0;
	json_array_foreach(mp, i, x) differs |= jv_index_of(p, json_string_value(x)) < 0;
	*field = "partners";
	return differs;
}

static void on_series(PGresult *res, void *arg)
{
	struct evop *op = arg;
	if (!op_result_ok(op, res))
		return;
	/* A series: a rule, or dates of its own (rdates). */
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 1)[0] != 't' ||
	    (PQgetisnull(res, 0, 3 + 12 /* rrule */) &&
	     !strcmp(PQgetvalue(res, 0, 3 + 14 /* rdates */), "{}"))) {
		op_fail_field(op, 422, "series_id", "no recurring event of your org has this id");
		return;
	}
	if (!PQgetisnull(res, 0, SERIES_OVERRIDE_COL)) {
		if (op->occurrence) {
			/* DELETE of an occurrence that has an override: cancel it. */
			snprintf(op->id, sizeof(op->id), "%s",
			         PQgetvalue(res, 0, SERIES_OVERRIDE_COL));
			json_decref(op->body);
			op->body = NULL;
			op->creating = 0;
			op->cancelling = 1;
			load_change(op);
			return;
		}
		char m[160];
		snprintf(m, sizeof(m),
		         "this occurrence has an override already (%s): change that event instead",
		         PQgetvalue(res, 0, SERIES_OVERRIDE_COL));
		op_fail_field(op, 409, "recurrence_id", m);
		return;
	}
	snprintf(op->series_version, sizeof(op->series_version), "%s", PQgetvalue(res, 0, 0));
	op->series = event_json_build(res, 0, 3);
	const char *field = NULL;
	if (op->series && audience_differs(op->series, op->body, &field)) {
		op_fail_field(
		    op, 422, field,
		    "an occurrence is seen by whom its series is seen: change the series, "
		    "or cancel this occurrence and make an event of its own");
		return;
	}
	json_t *merged = op->series ? override_body(op->series, op->body) : NULL;
	if (!merged) {
		op_fail(op, 500, "out of memory");
		return;
	}
	json_decref(op->body);
	op->body = merged;
	char tz[65];
	snprintf(tz, sizeof(tz), "%s", PQgetvalue(res, 0, 2));
	if (validate(op, tz))
		return;
	if (!series_has(op->series, &op->in.recurrence_id, op->in.all_day)) {
		op_fail_field(op, 422, "recurrence_id",
		              "is not an occurrence of the series (not one of its rule's dates, "
		              "an rdate, or an excluded date)");
		return;
	}
	check_refs(op);
}

/* An override's series is read before it is validated; anything else is
 * validated at once. */
static void create_or_override(struct evop *op)
{
	const char *series = json_string_value(json_object_get(op->body, "series_id"));
	const char *rid = json_string_value(json_object_get(op->body, "recurrence_id"));
	struct civil c;
	if (!series || !valid_uuid(series) || !rid ||
	    (civil_parse(rid, 0, &c) && civil_parse(rid, 1, &c))) {
		if (!validate(op, op->r->who.org_tz))
			check_refs(op);
		return;
	}
	if (!op->request && !(op->request = json_deep_copy(op->body))) {
		op_fail(op, 500, "out of memory");
		return;
	}
	char ts[CIVIL_LEN];
	civil_format(&c, 0, ts);
	struct principal *who = &op->r->who;
	const char *p[] = {series, who->org_id, ts, who->org_slug};
	op_submit(op, sql_series, 4, p, on_series);
}

/* The series changed between the check of an override and its write, or a
 * concurrent write gave the occurrence its override first: the request is
 * taken once more from the start, against the series as it is now. */
static void try_override_again(struct evop *op)
{
	json_t *request = json_deep_copy(op->request);
	if (!request) {
		op_fail(op, 500, "out of memory");
		return;
	}
	op->again = 1;
	json_decref(op->body);
	op->body = request;
	json_decref(op->series);
	op->series = NULL;
	json_decref(op->before);
	op->before = NULL;
	json_decref(op->overrides);
	op->overrides = NULL;
	json_decref(op->gone);
	op->gone = NULL;
	json_decref(op->back);
	op->back = NULL;
	event_bufs_free(&op->bufs);
	memset(&op->in, 0, sizeof(op->in));
	op->creating = 1;
	op->cancelling = 0;
	op->id[0] = op->series_version[0] = op->overrides_rev[0] = '\0';
	create_or_override(op);
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

/* ---- read ----------------------------------------------------------------- */

/* Plain columns: the JSON is built here (event_json.c), which costs the
 * database much less than building it there. */
const char events_get_sql[] = "SELECT e.version, e.org_id = $2::uuid, o.timezone, " EVENT_COLS " "
                              "FROM events e JOIN orgs o ON o.id = e.org_id "
                              "WHERE e.id = $1::uuid AND " EV_VISIBLE("e", "$2::uuid", "$3::text");

static void on_get(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res) {
		reply_unavailable(r);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_error(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such event");
		return;
	}
	if (etag_listed(req_header(r, "If-None-Match"), PQgetvalue(res, 0, 0))) {
		req_set_etag(r, PQgetvalue(res, 0, 0));
		reply_empty(r, 304);
		return;
	}
	char *json = event_json_text(res, 0, 3);
	if (!json) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	reply_event(r, 200, json, PQgetvalue(res, 0, 0));
	free(json);
}

/* Ids that are not UUIDs name no event: 404 without asking the database. */
static const char *event_id(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such event");
		return NULL;
	}
	return id;
}

void events_get(struct req *r)
{
	const char *id = event_id(r);
	if (!id)
		return;
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	if (dbpool_query(r->cx->db, events_get_sql, 3, p, on_get, r) != 0)
		reply_unavailable(r);
}

/* ---- patch and cancel ------------------------------------------------------ */

/* The event as stored; for a master, the overrides a change of its
 * occurrences concerns and its overrides_rev; for an override, its master
 * as far as a check of its occurrence and audience needs it. */
/* clang-format off */
static const char sql_load_for_change[] =
	"SELECT e.version, e.org_id = $2::uuid, o.timezone, " EVENT_COLS ","
	"       CASE WHEN e.series_id IS NULL THEN " SERIES_OVERRIDES("e") " END,"
	"       e.overrides_rev,"
	"       (SELECT jsonb_build_object("
	"                 'version', s.version, 'status', s.status, 'timezone', s.timezone,"
	"                 'all_day', s.all_day, 'start', " EV_LOCAL("s.start_local") ","
	"                 'rrule', s.rrule, 'exdates', " EV_LOCAL_LIST("s.exdates") ","
	"                 'rdates', " EV_LOCAL_LIST("s.rdates") ","
	"                 'visibility', s.visibility, 'partners', to_jsonb(s.partners))"
	"          FROM events s"
	"         WHERE s.id = e.series_id)::text"
	"  FROM events e"
	"  JOIN orgs o ON o.id = e.org_id"
	" WHERE e.id = $1::uuid"
	"   AND " EV_VISIBLE("e", "$2::uuid", "$3::text");
/* clang-format on */
enum { CHANGE_OVERRIDES_COL = 3 + EVENT_NCOLS, CHANGE_OVERRIDES_REV_COL, CHANGE_MASTER_COL };

/* Fields that name the event itself: a patch may not move them. */
static int patch_moves_identity(struct evop *op, json_t *current, json_t *patch)
{
	static const char *const fixed[] = {"uid", "series_id", "recurrence_id"};
	for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
		json_t *p = json_object_get(patch, fixed[i]);
		if (p && !json_equal(p, json_object_get(current, fixed[i]))) {
			op_fail_field(op, 422, fixed[i], "cannot be changed; create a new event");
			return 1;
		}
	}
	return 0;
}

/* The same event, members that are null or absent being the same. */
static int same_event(json_t *a, json_t *b)
{
	const char *key;
	json_t *v;
	json_object_foreach(a, key, v)
	{
		json_t *w = json_object_get(b, key);
		if (!json_is_null(v) ? !w || !json_equal(v, w) : w && !json_is_null(w))
			return 0;
	}
	json_object_foreach(b, key, v)
	{
		if (!json_is_null(v) && !json_object_get(a, key))
			return 0;
	}
	return 1;
}

/* Whether the patch changed which occurrences the series has. */
static int series_moved(json_t *before, json_t *after)
{
	static const char *const shape[] = {"start",  "rrule",    "exdates",
	                                    "rdates", "timezone", "all_day"};
	for (size_t i = 0; i < ARRAY_LEN(shape); i++) {
		json_t *a = json_object_get(before, shape[i]),
		       *b = json_object_get(after, shape[i]);
		if (!(a ? b && json_equal(a, b) : !b || json_is_null(b)))
			return 1;
	}
	return 0;
}

/* A patch's dates and zone as the stored event has them: exdates and
 * rdates sorted and once each, the zone by its canonical name, so that the
 * same values sent in another order or under an alias change nothing. */
static void normalise(json_t *ev)
{
	static const char *const lists[] = {"exdates", "rdates"};
	for (size_t k = 0; k < ARRAY_LEN(lists); k++) {
		json_t *a = json_object_get(ev, lists[k]);
		size_t n = json_array_size(a);
		for (size_t i = 1; i < n; i++) /* insertion sort: at most EVENT_MAX_DATES */
			for (size_t j = i; j > 0; j--) {
				const char *x = json_string_value(json_array_get(a, j - 1));
				const char *y = json_string_value(json_array_get(a, j));
				if (!x || !y || strcmp(x, y) <= 0)
					break;
				json_t *t = json_incref(json_array_get(a, j));
				json_array_set(a, j, json_array_get(a, j - 1));
				json_array_set_new(a, j - 1, t);
			}
		for (size_t i = 1; i < json_array_size(a);)
			if (json_equal(json_array_get(a, i), json_array_get(a, i - 1)))
				json_array_remove(a, i);
			else
				i++;
	}
	const char *zone = json_string_value(json_object_get(ev, "timezone"));
	const char *canonical = zone ? tz_canonical(zone) : NULL;
	if (canonical && strcmp(canonical, zone))
		json_object_set_new(ev, "timezone", json_string(canonical));
}

/* For a master whose occurrences the patch changes: the overrides it
 * leaves without one and the orphans it gives one back (series.h). */
static int sort_overrides(struct evop *op)
{
	op->gone = json_array();
	op->back = json_array();
	int was_all_day = json_is_true(json_object_get(op->before, "all_day"));
	return !op->gone || !op->back ||
	       series_sort(&op->in, was_all_day, op->overrides, op->gone, op->back);
}

/* For an override: its audience is its series' (422 otherwise), and it
 * may be live only while it names one of its series' occurrences (a
 * series that moved left it an orphan). 0, or the answer is sent. */
static int check_override(struct evop *op)
{
	const char *field = NULL;
	if (audience_differs(op->series, op->body, &field)) {
		op_fail_field(
		    op, 422, field,
		    "an occurrence is seen by whom its series is seen: change the series, "
		    "or cancel this occurrence and make an event of its own");
		return -1;
	}
	const char *now = json_string_value(json_object_get(op->body, "status"));
	if ((!now || strcmp(now, "cancelled")) &&
	    !series_has(op->series, &op->in.recurrence_id, op->in.all_day)) {
		op_fail_field(op, 422, "recurrence_id",
		              "names no occurrence of its series now (the series moved or changed "
		              "its dates): make a new override of an occurrence it has");
		return -1;
	}
	return 0;
}

/* A change that changes nothing answers the event as it is: the same
 * version and ETag, no webhook, no new reminder plan. */
/* clang-format off */
static const char sql_current[] =
	"SELECT (" EVENT_JSON " || jsonb_build_object("
	"         'conflicts', " EV_CONFLICTS("$2::uuid", "$3::text") "))::text,"
	"       e.version"
	"  FROM events e"
	"  JOIN orgs o ON o.id = e.org_id"
	" WHERE e.id = $1::uuid";
/* clang-format on */

static void on_loaded_for_change(PGresult *res, void *arg)
{
	struct evop *op = arg;
	if (!op_result_ok(op, res))
		return;
	if (PQntuples(res) != 1) {
		op_fail(op, 404, "no such event");
		return;
	}
	if (PQgetvalue(res, 0, 1)[0] != 't') {
		op_fail(op, 403, "only the owner org may change this event");
		return;
	}
	snprintf(op->version, sizeof(op->version), "%s", PQgetvalue(res, 0, 0));
	const char *if_match = req_header(op->r, "If-Match");
	if (if_match && !etag_listed(if_match, op->version)) {
		op_fail(op, 412, "the event has changed since that version (If-Match)");
		return;
	}
	json_t *current = event_json_build(res, 0, 3);
	json_t *patch = op->body;
	op->body = current;
	op->before = current ? json_deep_copy(current) : NULL;
	if (!PQgetisnull(res, 0, CHANGE_OVERRIDES_COL))
		op->overrides = json_loads(PQgetvalue(res, 0, CHANGE_OVERRIDES_COL), 0, NULL);
	if (!PQgetisnull(res, 0, CHANGE_MASTER_COL))
		op->series = json_loads(PQgetvalue(res, 0, CHANGE_MASTER_COL), 0, NULL);
	if (!current || !op->before || (!PQgetisnull(res, 0, CHANGE_MASTER_COL) && !op->series)) {
		json_decref(patch);
		op_fail(op, 500, "cannot read the stored event");
		return;
	}
	if (op->series)
		snprintf(op->series_version, sizeof(op->series_version), "%lld",
		         (long long)json_integer_value(json_object_get(op->series, "version")));
	else
		snprintf(op->overrides_rev, sizeof(op->overrides_rev), "%s",
		         PQgetvalue(res, 0, CHANGE_OVERRIDES_REV_COL));
	if (patch && patch_moves_identity(op, current, patch)) {
		json_decref(patch);
		return;
	}
	/* Server fields sent back are ignored, so they cannot make a change. */
	for (const char *const *f = event_server_fields; patch && *f; f++)
		json_object_del(patch, *f);
	if (op->cancelling) {
		json_object_set_new(current, "status", json_string("cancelled"));
	} else {
		jv_merge_patch(current, patch);
		json_decref(patch);
	}
	normalise(current);
	if (same_event(op->before, current)) {
		const char *p[] = {op->id, op->r->who.org_id, op->r->who.org_slug};
		op_submit(op, sql_current, 3, p, on_updated);
		return;
	}
	/* The stored representation holds server fields; validation skips them. */
	char tz[65];
	snprintf(tz, sizeof(tz), "%s", PQgetvalue(res, 0, 2));
	if (validate(op, tz))
		return;
	if (op->series && check_override(op))
		return;
	if (json_array_size(op->overrides) && series_moved(op->before, current) &&
	    sort_overrides(op)) {
		op_fail(op, 500, "out of memory");
		return;
	}
	if (op->cancelling) {
		write_event(op); /* a cancel names nothing new: no references to check */
		return;
	}
	check_refs(op);
}

static void load_change(struct evop *op)
{
	const char *p[] = {op->id, op->r->who.org_id, op->r->who.org_slug};
	op_submit(op, sql_load_for_change, 3, p, on_loaded_for_change);
}

static void start_change(struct req *r, json_t *patch, int cancelling)
{
	const char *id = event_id(r);
	if (!id) {
		json_decref(patch);
		return;
	}
	struct evop *op = evop_new(r);
	if (!op) {
		json_decref(patch);
		return;
	}
	op->body = patch;
	op->cancelling = cancelling;
	snprintf(op->id, sizeof(op->id), "%s", id);
	load_change(op);
}

void events_patch(struct req *r)
{
	json_t *patch = req_json_body(r, 1);
	if (patch)
		start_change(r, patch, 0);
}

void events_cancel(struct req *r)
{
	start_change(r, NULL, 1);
}

/* DELETE /v1/events/{id}/occurrences/{recurrence_id}: the occurrence's
 * override, cancelled, or a new override that is cancelled. */
void events_cancel_occurrence(struct req *r)
{
	const char *id = event_id(r);
	const char *rid = req_param(r, "recurrence_id");
	if (!id)
		return;
	struct evop *op = evop_new(r);
	if (!op)
		return;
	op->body = json_pack("{s:s, s:s, s:s}", "series_id", id, "recurrence_id", rid ? rid : "",
	                     "status", "cancelled");
	if (!op->body) {
		op_fail(op, 500, "out of memory");
		return;
	}
	op->creating = 1;
	op->occurrence = 1;
	strcpy(op->body_hash, "-");
	create_or_override(op);
}

/* ---- list ------------------------------------------------------------------ */

/* The cursor is "<start epoch>_<event id>" of the last item sent. */
static void cursor_param(struct req *r, struct listq *q, json_t *errors)
{
	const char *cur = req_query(r, "cursor");
	if (!cur)
		return;
	/* Digits as we write them, within the years PostgreSQL's to_timestamp
	 * takes (0001-9999): a crafted 10000000000000 was a 500. */
	const char *us = strchr(cur, '_');
	size_t nd = us ? (size_t)(us - cur) : 0, neg = cur[0] == '-';
	long long t = nd > neg && nd <= 13 && strspn(cur + neg, "0123456789") == nd - neg
	                  ? strtoll(cur, NULL, 10)
	                  : LLONG_MIN;
	char id[40];
	if (strlen(cur) > 80 || t < -62135596800LL || t > 253402300799LL ||
	    strlen(us + 1) >= sizeof(id) || !valid_uuid(strcpy(id, us + 1))) {
		jv_error(errors, "cursor", "not a cursor this server gave out");
		return;
	}
	char num[24];
	snprintf(num, sizeof(num), "%lld", t);
	int a = listq_param(q, num), b = listq_param(q, id);
	evbuffer_add_printf(
	    q->sql, " AND (e.start_utc, e.id) > (to_timestamp($%d::bigint), $%d::uuid)", a, b);
}

struct listwait {
	struct req *r;
	int limit;
	int windowed;
	int64_t from, to;
};

/* Columns 3.. of the list query: what it takes to expand a series. */
#define LIST_SERIES_COLUMNS                                                                        \
	", e.rrule, e.timezone, e.all_day, " EV_LOCAL("e.start_local") ", " EV_LOCAL(              \
	    "coalesce(e.end_local, e.start_local + CASE WHEN e.all_day THEN interval '1 day' "     \
	    "ELSE interval '0' END)") ", " EV_LOCAL_LIST("e.exdates") "::text, " EV_LOCAL_LIST("e" \
	                                                                                       "." \
	                                                                                       "r" \
	                                                                                       "d" \
	                                                                                       "a" \
	                                                                                       "t" \
	                                                                                       "e" \
	                                                                                       "s") "::text"

/* The query keeps rows whose span overlaps the window; a series is listed
 * only when one of its occurrences does. */
static int row_in_window(const struct listwait *lw, PGresult *res, int i)
{
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

static void reply_list(struct req *r, PGresult *res, const struct listwait *lw)
{
	struct evbuffer *b = evbuffer_new();
	int n = PQntuples(res), limit = lw->limit;
	int more = n > limit, sent = 0;
	evbuffer_add(b, "{\"items\":[", 10);
	for (int i = 0; i < n && i < limit; i++) {
		if (!row_in_window(lw, res, i))
			continue; /* the cursor still moves past it */
		if (sent++)
			evbuffer_add(b, ",", 1);
		evbuffer_add(b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	}
	evbuffer_add(b, "],\"next_cursor\":", 16);
	if (more)
		evbuffer_add_printf(b, "\"%s_%s\"}\n", PQgetvalue(res, limit - 1, 1),
		                    PQgetvalue(res, limit - 1, 2));
	else
		evbuffer_add(b, "null}\n", 6);
	size_t len = evbuffer_get_length(b);
	reply_raw(r, 200, "application/json", evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
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
		reply_list(r, res, lw);
	free(lw);
}

/* SELECT ... WHERE <visible> <filters> [<half>] ORDER BY ... LIMIT n */
static void list_half(struct evbuffer *out, const struct listq *q, int me, int slug, int limit,
                      int half)
{
	evbuffer_add_printf(out,
	                    "(SELECT " EVENT_JSON
	                    "::text, extract(epoch FROM e.start_utc)::bigint AS t, "
	                    "e.id " LIST_SERIES_COLUMNS
	                    " FROM events e JOIN orgs o ON o.id = e.org_id WHERE " EV_VISIBLE(
	                        "e", "$%d::uuid", "$%d::text"),
	                    me, slug);
	evbuffer_add_buffer_reference(out, q->sql);
	if (half >= 0)
		filters_lower_bound(q, half, out);
	evbuffer_add_printf(out, " ORDER BY e.start_utc, e.id LIMIT $%d::integer)", limit);
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
		cursor_param(r, q, errors);
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
	if (q->has_from) {
		/* Rows of the first half all precede those of the second. */
		evbuffer_add_printf(sql, "SELECT * FROM (");
		list_half(sql, q, me, slug, limit, 0);
		evbuffer_add_printf(sql, " UNION ALL ");
		list_half(sql, q, me, slug, limit, 1);
		evbuffer_add_printf(sql, ") x ORDER BY t, id LIMIT $%d::integer", limit);
	} else {
		list_half(sql, q, me, slug, limit, -1);
	}
	evbuffer_add(sql, "", 1);
	struct listwait *lw = malloc(sizeof(*lw));
	int rc = -1;
	if (lw) {
		lw->r = r;
		lw->limit = q->limit;
		lw->windowed = q->has_from || q->has_to;
		lw->from = q->has_from ? q->from : INT64_MIN;
		lw->to = q->has_to ? q->to : INT64_MAX;
		rc = dbpool_query_text(r->cx->db, (const char *)evbuffer_pullup(sql, -1), q->n,
		                       q->params, on_list_result, lw);
	}
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0) {
		free(lw);
		reply_unavailable(r);
	}
}
