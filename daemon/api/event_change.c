/* event_change.c - what a change of an event takes before it is written
 * (events.c): a patch or a cancel reads the event as stored, merges the
 * patch, and for a master sorts out which overrides the change leaves
 * without an occurrence or gives one back; an override is first read
 * against its series, whose audience it shares and of whose occurrences
 * it must name one. */
#include "api/events.h"

#include "api/event_op.h"
#include "api/events_sql.h"
#include "api/jsonv.h"
#include "api/series.h"
#include "core/event_json.h"
#include "http/context.h"
#include "http/http.h"
#include "macros.h"
#include "recur.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- overrides ------------------------------------------------------------- */

/* SQL_EVENT_SERIES' column of the override the occurrence has already. */
#define SERIES_OVERRIDE_COL (3 + EVENT_NCOLS)

/* What an override does not say, it takes from its series: the whole
 * event but the series' own fields, starting at its recurrence id and
 * lasting as the series' occurrences do (the first one's exact length).
 * So cancelling one occurrence needs nothing more than {series_id,
 * recurrence_id, status}. */
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
	/* As long as the occurrence it replaces (recur.h's recur_end). */
	char end[CIVIL_LEN];
	if (!json_object_get(body, "end") &&
	    !recur_end_text(json_string_value(json_object_get(master, "timezone")), all_day,
	                    json_string_value(json_object_get(master, "start")),
	                    json_string_value(json_object_get(master, "end")), start, end))
		json_object_set_new(b, "end", json_string(end));
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
void create_or_override(struct evop *op)
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
	op_submit(op, SQL_EVENT_SERIES, 4, p, on_series);
}

/* The series changed between the check of an override and its write, or a
 * concurrent write gave the occurrence its override first: the request is
 * taken once more from the start, against the series as it is now. */
void try_override_again(struct evop *op)
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
	json_decref(op->locals);
	op->locals = NULL;
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

/* ---- patch and cancel ------------------------------------------------------ */

/* The columns of SQL_EVENT_LOAD_FOR_CHANGE after the event's own. */
enum {
	CHANGE_OVERRIDES_COL = 3 + EVENT_NCOLS,
	CHANGE_OVERRIDES_REV_COL,
	CHANGE_MASTER_COL,
	CHANGE_VISIT_COL,
	CHANGE_LOCALS_COL
};

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
int series_moved(json_t *before, json_t *after)
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

/* Whether every member of array a is in array b. */
static int members_in(json_t *a, json_t *b)
{
	size_t i, j;
	json_t *x, *y;
	json_array_foreach(a, i, x)
	{
		int found = 0;
		json_array_foreach(b, j, y) found = found || json_equal(x, y);
		if (!found)
			return 0;
	}
	return 1;
}

/* An agreement's date (a milestone, signed_on, expires_on) is seen by
 * whom its agreement is: its visibility and its partners (the parties)
 * are the agreement's, and its text names the agreement in every feed
 * that shows it, so a date made more visible here would show a private
 * agreement's title to orgs that may not see it. 0, or -1 having
 * answered. */
static int check_agreement_date(struct evop *op, json_t *before, json_t *after)
{
	const char *agreement = json_string_value(json_object_get(before, "agreement_id"));
	static const char *const theirs[] = {"visibility", "partners"};
	for (size_t i = 0; agreement && i < ARRAY_LEN(theirs); i++) {
		json_t *was = json_object_get(before, theirs[i]),
		       *is = json_object_get(after, theirs[i]);
		if (json_is_array(was) && json_is_array(is)
		        ? members_in(was, is) && members_in(is, was)
		        : json_equal(was, is))
			continue;
		char m[200];
		snprintf(m, sizeof(m),
		         "this event is a date of agreement %s, whose %s it has: change it "
		         "through /v1/agreements",
		         agreement, theirs[i]);
		op_fail_field(op, 409, theirs[i], m);
		return -1;
	}
	return 0;
}

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
	if (!PQgetisnull(res, 0, CHANGE_VISIT_COL)) {
		/* A visit's own event or an item of its programme: the visit
		 * writes it (api/visits.c), and would undo a change made here. */
		char m[120];
		snprintf(m, sizeof(m),
		         "this event is part of visit %s: change it through /v1/visits",
		         PQgetvalue(res, 0, CHANGE_VISIT_COL));
		op_fail(op, 409, m);
		return;
	}
	snprintf(op->version, sizeof(op->version), "%s", PQgetvalue(res, 0, 0));
	if (req_if_match_fails(op->r, op->version)) {
		op_fail(op, 412, "the event has changed since that version (If-Match)");
		return;
	}
	json_t *current = event_json_build(res, 0, 3);
	json_t *patch = op->body;
	/* A row stored with two reminders of one length (before they were
	 * refused) is read with the first of each, so that a change or a
	 * cancel that does not send them is not refused for them, and one that
	 * changes nothing still changes nothing; sent, they replace these and
	 * are checked as sent. */
	event_dedupe_triggers(json_object_get(current, "reminders"));
	op->body = current;
	op->before = current ? json_deep_copy(current) : NULL;
	if (!PQgetisnull(res, 0, CHANGE_OVERRIDES_COL))
		op->overrides = json_loads(PQgetvalue(res, 0, CHANGE_OVERRIDES_COL), 0, NULL);
	if (!PQgetisnull(res, 0, CHANGE_MASTER_COL))
		op->series = json_loads(PQgetvalue(res, 0, CHANGE_MASTER_COL), 0, NULL);
	if (!PQgetisnull(res, 0, CHANGE_LOCALS_COL))
		op->locals = json_loads(PQgetvalue(res, 0, CHANGE_LOCALS_COL), 0, NULL);
	if (!current || !op->before || (!PQgetisnull(res, 0, CHANGE_MASTER_COL) && !op->series) ||
	    (!PQgetisnull(res, 0, CHANGE_LOCALS_COL) && !op->locals)) {
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
	if (event_fill_defaults(current, PQgetvalue(res, 0, 2)) != 0) {
		op_fail(op, 500, "out of memory");
		return;
	}
	if (check_agreement_date(op, op->before, current))
		return;
	/* A change that changes nothing answers the event as it is: the same
	 * version and ETag, no webhook, no new reminder plan. */
	if (same_event(op->before, current)) {
		const char *p[] = {op->id, op->r->who.org_id, op->r->who.org_slug};
		op_submit(op, SQL_EVENT_CURRENT, 3, p, op_on_updated);
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

void load_change(struct evop *op)
{
	const char *p[] = {op->id, op->r->who.org_id, op->r->who.org_slug};
	op_submit(op, SQL_EVENT_LOAD_FOR_CHANGE, 3, p, on_loaded_for_change);
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
