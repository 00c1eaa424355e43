/* agreements.c - /v1/agreements: MOUs and letters of intent. An
 * agreement's milestones and its signing and expiry dates are stored as
 * deadline events (agreement_id, agreement_part), written in the same
 * statement as the agreement, so they reach lists, occurrences, feeds and
 * reminders. Parties play the role that partners play for events. A
 * patch updates those events in place: each date keeps its event (id,
 * UID) while it exists (match_milestones, sql_update), and only the
 * events whose values change are written. */
#include "api/agreements.h"

#include "dbpool.h"
#include "core/agreement_sql.h"
#include "core/event_sql.h"
#include "http/http.h"
#include "api/jsonv.h"
#include "recur.h"
#include "http/context.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MILESTONES 100

#define AG_VISIBLE(me, myslug)                                                                     \
	"(a.visibility = 'network' OR a.org_id = " me " OR " myslug " = ANY(a.parties))"

/* clang-format off */
/* dates: $10 as rows, the deadline events the agreement implies
 * (deadline_row), each with the id of the event it keeps (id_expr, over
 * r), NULL for a new one. */
#define AG_ROWS(id_expr) \
	"dates AS (" \
	"SELECT " id_expr " AS id, r.part, r.title, r.all_day, r.start_local, r.end_local, " \
	" to_timestamp(r.start_utc) AS start_utc, to_timestamp(r.end_utc) AS end_utc, " \
	" ARRAY(SELECT jsonb_array_elements_text(r.reminders)) AS reminders " \
	"FROM jsonb_to_recordset($10::jsonb) AS r(id uuid, part text, title text, " \
	" all_day boolean, start_local timestamp, end_local timestamp, start_utc bigint, " \
	" end_utc bigint, reminders jsonb))"
/* The dates that keep no event become events of agreement a. */
#define AG_INSERT_EVENTS \
	"INSERT INTO events (org_id, uid, kind, title, timezone, all_day, start_local, end_local, " \
	" start_utc, end_utc, last_end_utc, partners, visibility, reminders, agreement_id, " \
	" agreement_part) " \
	"SELECT a.org_id, gen_random_uuid()::text || '@liaison', 'deadline', x.title, a.timezone, " \
	" x.all_day, x.start_local, x.end_local, x.start_utc, x.end_utc, x.end_utc, a.parties, " \
	" a.visibility, x.reminders, a.id, x.part " \
	"FROM a, dates x " \
	"WHERE x.id IS NULL " \
	"RETURNING *"
/* $4's parties, each once, in the order given: a PATCH that sends the
 * parties back as they were compares equal to them. */
#define AG_PARTIES \
	"ARRAY(" \
	"SELECT p " \
	"FROM jsonb_array_elements_text($4::jsonb) WITH ORDINALITY AS t(p, n) " \
	"GROUP BY p " \
	"ORDER BY min(n))"
/* clang-format on */

struct agop {
	struct req *r;
	json_t *body;
	const char *title, *description, *stage, *signed_on, *expires_on, *timezone, *visibility;
	json_t *parties;
	json_t *events; /* the deadline events to write (deadline_row) */
	json_t *stored; /* patch: the milestones as stored, with their event_id */
	int oom;        /* validation ran out of memory: 500, nothing written */
	char id[37], version[16];
};

static void agop_free(struct agop *op)
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

/* Appends row (made by deadline_row) to op's events. A row that is NULL
 * while deadline_row added no error, or that cannot be appended, means
 * memory ran out: the request then fails whole (a date silently left out
 * would cancel its event). */
static void add_row(struct agop *op, json_t *row, size_t errors_before, json_t *errors)
{
	if (!row) {
		if (json_array_size(errors) == errors_before)
			op->oom = 1;
		return;
	}
	if (json_array_append_new(op->events, row))
		op->oom = 1;
}

/* ---- which stored milestone each patched one keeps -------------------------- */

static int same_string(json_t *a, json_t *b)
{
	return json_is_string(a) && json_is_string(b) &&
	       !strcmp(json_string_value(a), json_string_value(b));
}

/* Whether patched milestone m (its row made by deadline_row) is stored
 * milestone s by the rule of pass: 0 the event_id sent back, 1 title and
 * due, 2 title, 3 due. */
static int same_milestone(int pass, json_t *m, json_t *row, json_t *s)
{
	json_t *due = json_object_get(row, "start_local"), *sdue = json_object_get(s, "due");
	switch (pass) {
	case 0: return same_string(json_object_get(m, "event_id"), json_object_get(s, "event_id"));
	case 1:
		return same_string(json_object_get(m, "title"), json_object_get(s, "title")) &&
		       same_string(due, sdue);
	case 2: return same_string(json_object_get(m, "title"), json_object_get(s, "title"));
	default: return same_string(due, sdue);
	}
}

/* Whether row a comes before row b in time (then title, then position). */
static int row_before(json_t *rows, size_t a, size_t b)
{
	json_t *ra = json_array_get(rows, a), *rb = json_array_get(rows, b);
	json_int_t ta = json_integer_value(json_object_get(ra, "start_utc"));
	json_int_t tb = json_integer_value(json_object_get(rb, "start_utc"));
	if (ta != tb)
		return ta < tb;
	int c = strcmp(json_string_value(json_object_get(ra, "title")),
	               json_string_value(json_object_get(rb, "title")));
	return c ? c < 0 : a < b;
}

/* Gives each row of rows (one per milestone of ms) the event_id of the
 * stored milestone it continues, as "id"; a row left without one is a new
 * milestone, and a stored milestone that no row takes is cancelled. Each
 * pass takes, for every milestone still free in the order sent, the first
 * stored one still free (stored is in time order) that is the same by its
 * rule: the event_id sent back, then title and due, title alone (a moved
 * milestone), due alone (a renamed one). What is left is paired by
 * position in time only when as many are left on both sides, which is
 * what rewriting milestones in place without ids looks like; otherwise
 * nothing says which is which, and the rest are cancelled and created.
 * Returns -1 when memory runs out. */
static int match_milestones(json_t *ms, json_t *rows, json_t *stored)
{
	size_t n = json_array_size(rows), ns = json_array_size(stored);
	int taken[MAX_MILESTONES] = {0}; /* stored one k has been taken */
	int of[MAX_MILESTONES];          /* row i takes stored one of[i], or -1 */
	if (n > MAX_MILESTONES)
		return -1;
	if (ns > MAX_MILESTONES)
		ns = MAX_MILESTONES;
	for (size_t i = 0; i < n; i++)
		of[i] = -1;
	for (int pass = 0; pass < 4; pass++)
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; of[i] < 0 && k < ns; k++)
				if (!taken[k] && same_milestone(pass, json_array_get(ms, i),
				                                json_array_get(rows, i),
				                                json_array_get(stored, k))) {
					of[i] = (int)k;
					taken[k] = 1;
				}
	size_t free_rows = 0, free_stored = 0;
	for (size_t i = 0; i < n; i++)
		free_rows += of[i] < 0;
	for (size_t k = 0; k < ns; k++)
		free_stored += !taken[k];
	for (size_t k = 0; free_rows == free_stored && k < ns; k++) {
		if (taken[k])
			continue;
		size_t first = n;
		for (size_t i = 0; i < n; i++)
			if (of[i] < 0 && (first == n || row_before(rows, i, first)))
				first = i;
		if (first == n)
			break;
		of[first] = (int)k;
		taken[k] = 1;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *id =
		    of[i] < 0 ? NULL : json_object_get(json_array_get(stored, of[i]), "event_id");
		if (json_is_string(id) && json_object_set(json_array_get(rows, i), "id", id))
			return -1;
	}
	return 0;
}

static void check_milestones(struct agop *op, json_t *errors)
{
	json_t *ms = json_object_get(op->body, "milestones");
	if (!ms || json_is_null(ms))
		ms = NULL;
	else if (!json_is_array(ms) || json_array_size(ms) > MAX_MILESTONES) {
		jv_error(errors, "milestones", "must be an array of at most 100 milestones");
		return;
	}
	static const char *const allowed[] = {"title", "due", "reminders", NULL};
	static const char *const ignored[] = {"event_id", NULL};
	json_t *rows = json_array();
	if (!rows) {
		op->oom = 1;
		return;
	}
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
			size_t before = json_array_size(errors);
			json_t *row =
			    deadline_row("milestone", title, due, op->timezone, rem, field, errors);
			if (!row && json_array_size(errors) == before)
				op->oom = 1;
			if (row && json_array_append_new(rows, row))
				op->oom = 1;
		}
	}
	/* With every milestone valid, rows[i] is milestones[i]'s. */
	if (json_array_size(rows) == json_array_size(ms) && !op->oom) {
		if (op->stored && match_milestones(ms, rows, op->stored))
			op->oom = 1;
		if (json_array_extend(op->events, rows))
			op->oom = 1;
	}
	json_decref(rows);
}

/* "<title><suffix>", the title cut at a character (and marked so) when
 * the whole would not fit the 500 characters of an event's title; out
 * holds at least the 500 bytes of an agreement's title and 32 more. */
static void date_title(char *out, size_t size, const char *title, const char *suffix)
{
	size_t room = 500 - strlen(suffix), len = 0, chars = 0;
	while (title[len] && chars < room) {
		size_t k = utf8_seq((const unsigned char *)title + len);
		if (!k)
			break;
		len += k;
		chars++;
	}
	if (title[len] && len > 0) {
		/* Cut: the last character gives way to an ellipsis. */
		while (len > 0 && ((unsigned char)title[--len] & 0xC0) == 0x80)
			;
		snprintf(out, size, "%.*s\xe2\x80\xa6%s", (int)len, title, suffix); /* U+2026 */
	} else {
		snprintf(out, size, "%.*s%s", (int)len, title, suffix);
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
	/* These rows carry no id: the statement finds their events by part. */
	char title[560];
	json_t *thirty = json_pack("[s]", "-P30D");
	if (!thirty) {
		op->oom = 1;
		return;
	}
	if (op->signed_on && op->title && op->timezone) {
		date_title(title, sizeof(title), op->title, ": signed");
		size_t before = json_array_size(errors);
		add_row(op,
		        deadline_row("signed", title, op->signed_on, op->timezone, NULL,
		                     "signed_on", errors),
		        before, errors);
	}
	if (op->expires_on && op->title && op->timezone) {
		date_title(title, sizeof(title), op->title, ": expires");
		size_t before = json_array_size(errors);
		add_row(op,
		        deadline_row("expires", title, op->expires_on, op->timezone, thirty,
		                     "expires_on", errors),
		        before, errors);
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
	if (op->oom || !errors) {
		struct req *r = op->r;
		json_decref(errors);
		agop_free(op);
		reply_problem(r, 500, "out of memory");
		return -1;
	}
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

/* clang-format off */
static const char sql_create[] =
	"WITH " AG_MISSING ", "
	AG_ROWS("NULL::uuid") ", "
	"a AS ("
	"INSERT INTO agreements (org_id, title, description, parties, stage, signed_on, "
	" expires_on, timezone, visibility) "
	"SELECT $1::uuid, $2::text, $3::text, " AG_PARTIES ", $5::text, $6::date, $7::date, "
	" $8::text, $9::text "
	"WHERE (SELECT p FROM missing) IS NULL "
	"RETURNING *), "
	"m AS (" AG_INSERT_EVENTS ") "
	AG_ANSWER("m");

/* A patch writes only what changes. dates keeps the event each date
 * continues: a milestone's is the one C matched (still live, of this
 * agreement), signed_on's and expires_on's the one of their part, the
 * live one or else the last cancelled, which comes back (same UID). ch is
 * every event of the agreement whose row would change: a kept one takes
 * its date's values (and is confirmed again if it was cancelled), one no
 * date keeps is cancelled, all take the parties and visibility; shown
 * says whether a calendar shows the change (SEQUENCE), as for events. The
 * agreement's version moves only when it or one of its events changes,
 * so a patch that changes nothing writes no event, sends no webhook and
 * keeps the ETag. The UPDATE of events runs even when ch is empty: its
 * statement trigger (006) tells feeds to render again, which an agreement
 * change needs, its title and stage being shown in its dates'
 * DESCRIPTION (the VEVENT's stamp carries the agreement's version). */
static const char sql_update[] =
	"WITH " AG_MISSING ", "
	"ps AS (SELECT " AG_PARTIES " AS parties), "
	AG_ROWS("CASE WHEN r.part = 'milestone' THEN ("
	        "SELECT e.id "
	        "FROM events e "
	        "WHERE e.id = r.id AND e.agreement_id = $11::uuid "
	        " AND e.agreement_part = 'milestone' AND e.status <> 'cancelled'"
	        ") ELSE ("
	        "SELECT e.id "
	        "FROM events e "
	        "WHERE e.agreement_id = $11::uuid AND e.agreement_part = r.part "
	        "ORDER BY e.status = 'cancelled', e.updated_at DESC "
	        "LIMIT 1) END") ", "
	"ch AS ("
	"SELECT e.id, v.*, "
	" (v.title, v.timezone, v.all_day, v.start_local, v.end_local, v.reminders, v.status) "
	" IS DISTINCT FROM "
	" (e.title, e.timezone, e.all_day, e.start_local, e.end_local, e.reminders, e.status) "
	" AS shown "
	"FROM events e "
	"CROSS JOIN ps "
	"LEFT JOIN dates x ON x.id = e.id "
	"CROSS JOIN LATERAL (SELECT "
	" coalesce(x.title, e.title) AS title, "
	" CASE WHEN x.id IS NULL THEN e.timezone ELSE $8::text END AS timezone, "
	" coalesce(x.all_day, e.all_day) AS all_day, "
	" coalesce(x.start_local, e.start_local) AS start_local, "
	" CASE WHEN x.id IS NULL THEN e.end_local ELSE x.end_local END AS end_local, "
	" coalesce(x.start_utc, e.start_utc) AS start_utc, "
	" coalesce(x.end_utc, e.end_utc) AS end_utc, "
	" coalesce(x.end_utc, e.last_end_utc) AS last_end_utc, "
	" coalesce(x.reminders, e.reminders) AS reminders, "
	" CASE WHEN x.id IS NULL THEN 'cancelled' "
	"  WHEN e.status = 'cancelled' THEN 'confirmed' "
	"  ELSE e.status END AS status, "
	" ps.parties AS partners, "
	" $9::text AS visibility) v "
	"WHERE e.agreement_id = $11::uuid "
	" AND (v.title, v.timezone, v.all_day, v.start_local, v.end_local, v.start_utc, "
	"  v.end_utc, v.last_end_utc, v.reminders, v.status, v.partners, v.visibility) "
	" IS DISTINCT FROM "
	" (e.title, e.timezone, e.all_day, e.start_local, e.end_local, e.start_utc, "
	"  e.end_utc, e.last_end_utc, e.reminders, e.status, e.partners, e.visibility)), "
	"changed AS ("
	"SELECT (g.title, g.description, g.parties, g.stage, g.signed_on, g.expires_on, "
	"  g.timezone, g.visibility) "
	" IS DISTINCT FROM "
	" ($2::text, $3::text, ps.parties, $5::text, $6::date, $7::date, $8::text, $9::text) "
	" OR EXISTS (SELECT 1 FROM ch) "
	" OR EXISTS (SELECT 1 FROM dates WHERE dates.id IS NULL) AS yes "
	"FROM agreements g, ps "
	"WHERE g.id = $11::uuid), "
	"a AS ("
	"UPDATE agreements g "
	"SET title = $2::text, description = $3::text, parties = ps.parties, stage = $5::text, "
	" signed_on = $6::date, expires_on = $7::date, timezone = $8::text, "
	" visibility = $9::text, version = g.version + changed.yes::integer, "
	" updated_at = CASE WHEN changed.yes THEN now() ELSE g.updated_at END "
	"FROM ps, changed "
	"WHERE g.id = $11::uuid AND g.org_id = $1::uuid AND g.version = $12::integer "
	" AND (SELECT p FROM missing) IS NULL "
	"RETURNING g.*), "
	"u AS ("
	"UPDATE events e "
	"SET title = ch.title, timezone = ch.timezone, all_day = ch.all_day, "
	" start_local = ch.start_local, end_local = ch.end_local, start_utc = ch.start_utc, "
	" end_utc = ch.end_utc, last_end_utc = ch.last_end_utc, reminders = ch.reminders, "
	" status = ch.status, partners = ch.partners, visibility = ch.visibility, "
	" cancelled_at = CASE WHEN ch.status = 'cancelled' THEN coalesce(e.cancelled_at, now()) END, "
	" sequence = e.sequence + ch.shown::integer, version = e.version + 1, updated_at = now() "
	"FROM ch, a "
	"WHERE e.id = ch.id "
	"RETURNING e.*), "
	"m AS (" AG_INSERT_EVENTS "), "
	"cur AS ("
	"SELECT * FROM u "
	"UNION ALL "
	"SELECT * FROM m "
	"UNION ALL "
	"SELECT e.* "
	"FROM events e "
	"WHERE e.agreement_id = $11::uuid AND e.id NOT IN (SELECT id FROM u)) "
	AG_ANSWER("cur");
/* clang-format on */

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
	             ? dbpool_query(op->r->cx->db, creating ? sql_create : sql_update,
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
	if (id && dbpool_query(r->cx->db, sql_get, 3, p, on_get, r) != 0)
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
	if (dbpool_query(r->cx->db, sql_list, 2, p, on_list, r) != 0)
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
	if (dbpool_query(r->cx->db, sql_get, 3, p, on_loaded, op) != 0)
		ag_fail(op, 503, NULL);
}
