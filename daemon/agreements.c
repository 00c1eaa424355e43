/* agreements.c - /v1/agreements: MOUs and letters of intent. An
 * agreement's milestones and its signing and expiry dates are stored as
 * deadline events (agreement_id, agreement_part), written in the same
 * statement as the agreement, so they reach lists, occurrences, feeds and
 * reminders. Parties play the role that partners play for events. */
#include "agreements.h"

#include "dbpool.h"
#include "agreement_sql.h"
#include "event_sql.h"
#include "http.h"
#include "jsonv.h"
#include "recur.h"
#include "server.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MILESTONES 100

#define AG_VISIBLE(me, myslug)                                                                     \
	"(a.visibility = 'network' OR a.org_id = " me " OR " myslug " = ANY(a.parties))"

/* Deadline events from $10 (a JSON recordset), for agreement a. */
#define AG_INSERT_EVENTS                                                                           \
	"INSERT INTO events (org_id, uid, kind, title, timezone, all_day, start_local, "           \
	"end_local, "                                                                              \
	"start_utc, end_utc, last_end_utc, partners, visibility, reminders, agreement_id, "        \
	"agreement_part) SELECT a.org_id, gen_random_uuid()::text || '@liaison', 'deadline', "     \
	"x.title, a.timezone, x.all_day, x.start_local, x.end_local, to_timestamp(x.start_utc), "  \
	"to_timestamp(x.end_utc), to_timestamp(x.end_utc), a.parties, a.visibility, "              \
	"ARRAY(SELECT jsonb_array_elements_text(x.reminders)), a.id, x.part FROM a, "              \
	"jsonb_to_recordset($10::jsonb) AS x(part text, title text, all_day boolean, "             \
	"start_local timestamp, end_local timestamp, start_utc bigint, end_utc bigint, "           \
	"reminders jsonb) RETURNING *"

struct agop {
	struct req *r;
	json_t *body;
	const char *title, *description, *stage, *signed_on, *expires_on, *timezone, *visibility;
	json_t *parties;
	json_t *events; /* the deadline events to write */
	char id[37], version[16];
	int replace_events; /* patch: the derived events changed */
	json_t *old_events; /* patch: what they were */
};

static void agop_free(struct agop *op)
{
	json_decref(op->body);
	json_decref(op->events);
	json_decref(op->old_events);
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

/* ---- validation ------------------------------------------------------------ */

/* One deadline event row for the recordset. */
static json_t *deadline_row(const char *part, const char *title, const char *due, const char *tz,
                            json_t *reminders, const char *field, json_t *errors)
{
	struct civil s;
	int all_day = strlen(due) == 10;
	int64_t su, eu;
	if (civil_parse(due, all_day, &s)) {
		jv_error(errors, field, "must be a date (YYYY-MM-DD) or a local date-time");
		return NULL;
	}
	enum tz_result tr = tz_to_utc(tz, &s, &su);
	if (tr == TZ_GAP && !all_day) {
		jv_error(errors, field, "does not exist in the agreement's time zone (DST gap)");
		return NULL;
	}
	if (tr == TZ_UNKNOWN)
		return NULL;
	struct civil e = s;
	char start[CIVIL_LEN], end[CIVIL_LEN];
	civil_format(&s, all_day, start);
	eu = su;
	if (all_day) {
		civil_add_days(&e, 1);
		if (tz_to_utc(tz, &e, &eu) == TZ_UNKNOWN)
			eu = su + 86400;
	}
	civil_format(&e, all_day, end);
	return json_pack("{s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:o}", "part", part, "title", title,
	                 "all_day", all_day, "start_local", start, "end_local",
	                 all_day ? json_string(end) : json_null(), "start_utc", (json_int_t)su,
	                 "end_utc", (json_int_t)eu, "reminders",
	                 reminders ? json_incref(reminders) : json_array());
}

static json_t *check_reminders(json_t *m, const char *base, json_t *errors)
{
	json_t *a = json_object_get(m, "reminders");
	if (!a || json_is_null(a))
		return NULL;
	char field[192];
	snprintf(field, sizeof(field), "%s.reminders", base);
	if (!json_is_array(a) || json_array_size(a) > 10) {
		jv_error(errors, field, "must be an array of at most 10 durations");
		return NULL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		int64_t secs;
		snprintf(field, sizeof(field), "%s.reminders[%zu]", base, i);
		if (!json_is_string(v) || ical_duration_parse(json_string_value(v), &secs) ||
		    secs > 0 || secs < -400LL * 86400)
			jv_error(errors, field,
			         "must be a negative RFC 5545 duration such as -P7D");
	}
	return a;
}

static void check_milestones(struct agop *op, json_t *errors)
{
	json_t *ms = json_object_get(op->body, "milestones");
	if (!ms || json_is_null(ms))
		return;
	if (!json_is_array(ms) || json_array_size(ms) > MAX_MILESTONES) {
		jv_error(errors, "milestones", "must be an array of at most 100 milestones");
		return;
	}
	static const char *const allowed[] = {"title", "due", "reminders", NULL};
	static const char *const ignored[] = {"event_id", NULL};
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		char base[48], field[192];
		snprintf(base, sizeof(base), "milestones[%zu]", i);
		if (!json_is_object(m)) {
			jv_error(errors, base, "must be an object");
			continue;
		}
		json_t *unknown = json_array();
		jv_known(m, allowed, ignored, unknown);
		size_t k;
		json_t *u;
		json_array_foreach(unknown, k, u)
		{
			snprintf(field, sizeof(field), "%s.%s", base,
			         json_string_value(json_object_get(u, "field")));
			jv_error(errors, field, "unknown field");
		}
		json_decref(unknown);
		snprintf(field, sizeof(field), "%s.title", base);
		const char *title = jv_string_at(m, "title", field, 1, 500, 0, errors);
		snprintf(field, sizeof(field), "%s.due", base);
		const char *due = jv_string_at(m, "due", field, 1, 19, 0, errors);
		json_t *rem = check_reminders(m, base, errors);
		if (title && due && op->timezone) {
			json_t *row =
			    deadline_row("milestone", title, due, op->timezone, rem, field, errors);
			if (row)
				json_array_append_new(op->events, row);
		}
	}
}

static void check_dates(struct agop *op, json_t *errors)
{
	static const char *const keys[] = {"signed_on", "expires_on"};
	const char **out[] = {&op->signed_on, &op->expires_on};
	for (int i = 0; i < 2; i++) {
		*out[i] = jv_string(op->body, keys[i], 0, 10, 0, errors);
		struct civil c;
		if (*out[i] && civil_parse(*out[i], 1, &c)) {
			jv_error(errors, keys[i], "must be a date, YYYY-MM-DD");
			*out[i] = NULL;
		}
	}
	if (op->signed_on && op->expires_on && strcmp(op->expires_on, op->signed_on) < 0)
		jv_error(errors, "expires_on", "must not be before signed_on");
	char title[560];
	json_t *thirty = json_pack("[s]", "-P30D");
	if (op->signed_on && op->title && op->timezone) {
		snprintf(title, sizeof(title), "%s: signed", op->title);
		json_array_append_new(op->events,
		                      deadline_row("signed", title, op->signed_on, op->timezone,
		                                   NULL, "signed_on", errors));
	}
	if (op->expires_on && op->title && op->timezone) {
		snprintf(title, sizeof(title), "%s: expires", op->title);
		json_array_append_new(op->events,
		                      deadline_row("expires", title, op->expires_on, op->timezone,
		                                   thirty, "expires_on", errors));
	}
	json_decref(thirty);
}

static void check_parties(struct agop *op, json_t *errors)
{
	json_t *p = json_object_get(op->body, "parties");
	if (!p || json_is_null(p))
		return;
	if (!json_is_array(p) || json_array_size(p) > 50) {
		jv_error(errors, "parties", "must be an array of at most 50 org slugs");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(p, i, v)
	{
		if (!json_is_string(v) || !valid_slug(json_string_value(v))) {
			char field[32];
			snprintf(field, sizeof(field), "parties[%zu]", i);
			jv_error(errors, field, "must be an org slug");
		}
	}
	op->parties = p;
}

static int ag_validate(struct agop *op, const char *default_tz)
{
	static const char *const allowed[] = {"title",      "description", "parties",  "stage",
	                                      "signed_on",  "expires_on",  "timezone", "visibility",
	                                      "milestones", NULL};
	static const char *const ignored[] = {
	    "id", "org", "created_at", "updated_at", "signed_event_id", "expires_event_id", NULL};
	static const char *const stages[] = {"intent",  "drafting", "signed",
	                                     "renewal", "expired",  "terminated"};
	json_t *errors = json_array();
	op->events = json_array();
	jv_known(op->body, allowed, ignored, errors);
	op->title = jv_string(op->body, "title", 1, 500, 0, errors);
	op->description = jv_string(op->body, "description", 0, 20000, 1, errors);
	op->stage = jv_string(op->body, "stage", 1, 16, 0, errors);
	int ok = 0;
	for (size_t i = 0; op->stage && i < ARRAY_LEN(stages); i++)
		ok |= !strcmp(op->stage, stages[i]);
	if (op->stage && !ok)
		jv_error(errors, "stage",
		         "must be intent, drafting, signed, renewal, expired or terminated");
	op->visibility = jv_string(op->body, "visibility", 0, 16, 0, errors);
	if (!op->visibility)
		op->visibility = "network";
	if (strcmp(op->visibility, "network") && strcmp(op->visibility, "private"))
		jv_error(errors, "visibility", "must be network or private");
	op->timezone = jv_string(op->body, "timezone", 0, 64, 0, errors);
	if (!op->timezone)
		op->timezone = default_tz;
	if (!(op->timezone = tz_canonical(op->timezone)))
		jv_error(errors, "timezone", "unknown IANA time zone");
	check_parties(op, errors);
	check_dates(op, errors);
	check_milestones(op, errors);
	if (json_array_size(errors)) {
		struct req *r = op->r;
		agop_free(op);
		reply_problem_fields(r, 422, "the agreement is not valid", errors);
		return -1;
	}
	json_decref(errors);
	return 0;
}

/* ---- writes ---------------------------------------------------------------- */

/* A party that names no org stops the write inside the statement; the
 * answer row then reports it (column 3) with no agreement (column 0). */
#define AG_MISSING                                                                                 \
	"missing AS (SELECT min(p) AS p FROM jsonb_array_elements_text($4::jsonb) p "              \
	"WHERE p NOT IN (SELECT slug FROM orgs))"
#define AG_ANSWER(src)                                                                             \
	"SELECT x.j, x.version, x.id, (SELECT p FROM missing) FROM (SELECT 1) one LEFT JOIN "      \
	"(SELECT " AG_JSON(src) " AS j, a.version, a.id FROM a JOIN orgs o ON o.id = a.org_id) x " \
	                        "ON true"

static const char sql_create[] =
    "WITH " AG_MISSING ", "
    "a AS (INSERT INTO agreements (org_id, title, description, parties, stage, signed_on, "
    " expires_on, timezone, visibility) SELECT $1::uuid, $2::text, $3::text, "
    " ARRAY(SELECT DISTINCT jsonb_array_elements_text($4::jsonb)), $5::text, $6::date, $7::date, "
    " $8::text, $9::text WHERE (SELECT p FROM missing) IS NULL RETURNING *), "
    "m AS (" AG_INSERT_EVENTS ") " AG_ANSWER("m");

static const char sql_update[] =
    "WITH " AG_MISSING ", "
    "a AS (UPDATE agreements SET title = $2::text, description = $3::text, "
    " parties = ARRAY(SELECT DISTINCT jsonb_array_elements_text($4::jsonb)), stage = $5::text, "
    " signed_on = $6::date, expires_on = $7::date, timezone = $8::text, visibility = $9::text, "
    " version = version + 1, updated_at = now() "
    " WHERE id = $11::uuid AND org_id = $1::uuid AND version = $12::integer "
    " AND (SELECT p FROM missing) IS NULL RETURNING *), "
    "old AS (UPDATE events e SET status = 'cancelled', cancelled_at = now(), "
    " sequence = e.sequence + 1, version = e.version + 1, updated_at = now() FROM a "
    " WHERE $13::boolean AND e.agreement_id = a.id AND e.status <> 'cancelled' RETURNING e.id), "
    "kept AS (UPDATE events e SET partners = a.parties, visibility = a.visibility, "
    " version = e.version + 1, updated_at = now() FROM a "
    " WHERE NOT $13::boolean AND e.agreement_id = a.id RETURNING e.*), "
    "m AS (" AG_INSERT_EVENTS " ), "
    "cur AS (SELECT * FROM m WHERE $13::boolean UNION ALL SELECT * FROM kept) " AG_ANSWER("cur");

static void on_written(PGresult *res, void *arg);

static void ag_write(struct agop *op, int creating)
{
	struct principal *who = &op->r->who;
	char *parties = op->parties ? json_dumps(op->parties, JSON_COMPACT) : NULL;
	char *events =
	    creating || op->replace_events ? json_dumps(op->events, JSON_COMPACT) : strdup("[]");
	const char *p[] = {who->org_id,
	                   op->title,
	                   op->description,
	                   parties ? parties : "[]",
	                   op->stage,
	                   op->signed_on,
	                   op->expires_on,
	                   op->timezone,
	                   op->visibility,
	                   events ? events : "[]",
	                   op->id,
	                   op->version,
	                   op->replace_events ? "true" : "false"};
	int rc = events ? dbpool_query(op->r->w->db, creating ? sql_create : sql_update,
	                               creating ? 10 : 13, p, on_written, op)
	                : -1;
	free(parties);
	free(events);
	if (rc != 0)
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
	if (r->who.role < ROLE_EDITOR) {
		reply_problem(r, 403, "your key's role does not allow changes");
		return NULL;
	}
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

static const char sql_get[] =
    "SELECT " AG_JSON("events") ", a.version, a.org_id = $2::uuid, a.timezone "
                                "FROM agreements a JOIN orgs o ON o.id = a.org_id WHERE a.id = "
                                "$1::uuid AND " AG_VISIBLE("$2::uuid", "$3::text");

static const char sql_list[] = "SELECT " AG_JSON(
    "events") " FROM agreements a JOIN orgs o ON o.id = a.org_id "
              "WHERE " AG_VISIBLE("$1::uuid", "$2::text") " ORDER BY a.created_at, a.id LIMIT 1000";

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
	if (id && dbpool_query(r->w->db, sql_get, 3, p, on_get, r) != 0)
		reply_unavailable(r);
}

static void on_list(PGresult *res, void *arg)
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
	json_t *items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
	reply_json(r, 200, json_pack("{s:o, s:n}", "items", items, "next_cursor"));
}

void agreements_list(struct req *r)
{
	const char *p[] = {r->who.org_id, r->who.org_slug};
	if (dbpool_query(r->w->db, sql_list, 2, p, on_list, r) != 0)
		reply_unavailable(r);
}

/* ---- patch ----------------------------------------------------------------- */

/* The deadline events an agreement implies, without their ids. */
static json_t *derived(json_t *ag)
{
	json_t *out = json_pack(
	    "{s:O?, s:O?, s:O?, s:O?, s:[]}", "title", json_object_get(ag, "title"), "signed_on",
	    json_object_get(ag, "signed_on"), "expires_on", json_object_get(ag, "expires_on"),
	    "timezone", json_object_get(ag, "timezone"), "milestones");
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(ag, "milestones"), i, m)
	{
		json_t *c = json_deep_copy(m);
		json_object_del(c, "event_id");
		if (!json_object_get(c, "reminders"))
			json_object_set_new(c, "reminders", json_array());
		json_array_append_new(json_object_get(out, "milestones"), c);
	}
	return out;
}

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
	json_t *before = derived(current);
	jv_merge_patch(current, op->body);
	json_decref(op->body);
	op->body = current;
	json_t *after = derived(current);
	op->replace_events = !json_equal(before, after);
	json_decref(before);
	json_decref(after);
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
	if (dbpool_query(r->w->db, sql_get, 3, p, on_loaded, op) != 0)
		ag_fail(op, 503, NULL);
}
