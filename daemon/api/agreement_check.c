/* agreement_check.c - the validation of an agreement (agreements.c): its
 * fields, its parties, its links, and its dates as the deadline events to
 * write (signed_on, expires_on and each milestone, in the agreement's
 * zone); for a patch, which stored milestone each patched one continues,
 * so that it keeps its event (id, UID). Stages and history are
 * agreement_stages.c's. */
#include "api/agreement_op.h"

#include "api/jsonv.h"
#include "event.h"
#include "http/http.h"
#include "macros.h"
#include "recur.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MILESTONES AG_MAX_MILESTONES

/* ---- validation ------------------------------------------------------------ */

/* One deadline event row for the recordset. */
json_t *ag_deadline_row(const char *part, const char *title, const char *due, const char *tz,
                        json_t *reminders, const char *done_on, const char *field, json_t *errors)
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
	return json_pack("{s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:o, s:s?}", "part", part, "title",
	                 title, "all_day", all_day, "start_local", start, "end_local",
	                 all_day ? json_string(end) : json_null(), "start_utc", (json_int_t)su,
	                 "end_utc", (json_int_t)eu, "reminders",
	                 reminders ? json_incref(reminders) : json_array(), "done_on", done_on);
}

json_t *ag_check_reminders(json_t *m, const char *base, json_t *errors)
{
	json_t *a = json_object_get(m, "reminders");
	if (!a || json_is_null(a))
		return NULL;
	char field[192];
	snprintf(field, sizeof(field), "%s.reminders", base);
	if (!json_is_array(a) || json_array_size(a) > EVENT_MAX_REMINDERS) {
		jv_error(errors, field, "must be an array of at most 10 durations");
		return NULL;
	}
	/* An event's rules (common/event.c): the milestone is one. */
	event_check_triggers(a, field, errors);
	return a;
}

/* Appends row (made by ag_deadline_row) to op's events. A row that is NULL
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

/* Whether patched milestone m (its row made by ag_deadline_row) is stored
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
	static const char *const allowed[] = {"title", "due", "reminders", "done_on", NULL};
	static const char *const ignored[] = {"event_id", "status", NULL};
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
		if (!jv_entry(m, base, allowed, ignored, errors))
			continue;
		snprintf(field, sizeof(field), "%s.title", base);
		const char *title = jv_string_at(m, "title", field, 1, 500, 0, errors);
		snprintf(field, sizeof(field), "%s.due", base);
		const char *due = jv_string_at(m, "due", field, 1, 19, 0, errors);
		json_t *rem = ag_check_reminders(m, base, errors);
		char done_field[192];
		snprintf(done_field, sizeof(done_field), "%s.done_on", base);
		int done_ok = 1;
		const char *done =
		    ag_past_date(op, json_object_get(m, "done_on"), done_field, errors, &done_ok);
		if (title && due && op->timezone && done_ok) {
			size_t before = json_array_size(errors);
			json_t *row = ag_deadline_row("milestone", title, due, op->timezone, rem,
			                              done, field, errors);
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
		        ag_deadline_row("signed", title, op->signed_on, op->timezone, NULL, NULL,
		                        "signed_on", errors),
		        before, errors);
	}
	if (op->expires_on && op->title && op->timezone) {
		date_title(title, sizeof(title), op->title, ": expires");
		size_t before = json_array_size(errors);
		add_row(op,
		        ag_deadline_row("expires", title, op->expires_on, op->timezone, thirty,
		                        NULL, "expires_on", errors),
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

/* The ids that member key ("events", "visits") of the body lists, into
 * *out, each once (the database checks that the caller may see what they
 * name); one and many name them in errors ("an event id", "event ids"). */
static void check_links(struct agop *op, const char *key, const char *one, const char *many,
                        json_t **out, json_t *errors)
{
	json_t *v = json_object_get(op->body, key);
	if (!(*out = json_array())) {
		op->oom = 1;
		return;
	}
	if (!v || json_is_null(v))
		return;
	char msg[64];
	if (!json_is_array(v) || json_array_size(v) > AG_MAX_LINKS) {
		snprintf(msg, sizeof(msg), "must be an array of at most %d %s", AG_MAX_LINKS, many);
		jv_error(errors, key, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "must be %s", one);
	size_t i;
	json_t *id;
	json_array_foreach(v, i, id)
	{
		const char *s = json_string_value(id);
		if (!s || !valid_uuid(s)) {
			char field[32];
			snprintf(field, sizeof(field), "%s[%zu]", key, i);
			jv_error(errors, field, msg);
		} else if (jv_index_of(*out, s) < 0 && json_array_append(*out, id)) {
			op->oom = 1;
		}
	}
}

/* A number of days, 1 to 3650; dflt when absent or null. */
static int check_days(json_t *body, const char *key, int dflt, json_t *errors)
{
	json_t *v = json_object_get(body, key);
	if (!v || json_is_null(v))
		return dflt;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3650) {
		jv_error(errors, key, "must be a whole number of days from 1 to 3650");
		return dflt;
	}
	return (int)json_integer_value(v);
}

/* Today in the agreement's zone; far ahead when the zone is not valid
 * (its fault is named already: no date is refused for being ahead). */
static void set_today(struct agop *op)
{
	struct civil now;
	snprintf(op->today, sizeof(op->today), "9999-12-31");
	if (op->timezone && tz_from_utc(op->timezone, (int64_t)time(NULL), &now) == TZ_OK)
		civil_format(&now, 1, op->today);
}

int ag_validate(struct agop *op, const char *default_tz)
{
	/* clang-format off */
	static const char *const allowed[] = {
	    "title", "description", "parties", "stage", "signed_on", "expires_on", "timezone",
	    "visibility", "history", "events", "visits", "milestones", "dormant_after_days",
	    "expiring_notice_days", NULL};
	static const char *const ignored[] = {
	    "id", "org", "created_at", "updated_at", "signed_event_id", "expires_event_id",
	    "last_activity_on", "dormant", "expiring", NULL};
	/* clang-format on */
	json_t *errors = json_array();
	op->events = json_array();
	jv_known(op->body, allowed, ignored, errors);
	op->title = jv_string(op->body, "title", 1, 500, 0, errors);
	op->description = jv_string(op->body, "description", 0, 20000, 1, errors);
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
	set_today(op);
	check_parties(op, errors);
	check_dates(op, errors);
	ag_check_stages(op, errors);
	check_milestones(op, errors);
	check_links(op, "events", "an event id", "event ids", &op->links, errors);
	check_links(op, "visits", "a visit id", "visit ids", &op->visits, errors);
	op->dormant_days = check_days(op->body, "dormant_after_days", 180, errors);
	op->expiring_days = check_days(op->body, "expiring_notice_days", 90, errors);
	if (errors && !json_array_size(errors))
		ag_follow_up(op, errors);
	if (op->oom || !errors || !op->events) {
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
