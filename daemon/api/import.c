/* import.c - POST /v1/events with Content-Type: text/calendar. Each
 * VEVENT (series first, then overrides) is validated like a posted event
 * and upserted on its own, by UID: a new UID is created, a changed one
 * updated (SEQUENCE and version rise), an identical one left alone. Only
 * the properties iCalendar carries are written on update; partners and
 * itinerary links set through the API are kept, and so is visibility,
 * which an import may make private (CLASS) but never public.
 *
 * An override is placed on its master (found by UID, in the database,
 * where the file's series were written just before): its RECURRENCE-ID is
 * restated in the master's wall time, which is what the API and the
 * expansion compare. When there is no master (an invitation to one
 * occurrence), or the RECURRENCE-ID is not one of its occurrences, the
 * override is kept as a single event of its own, under a UID derived from
 * its UID and RECURRENCE-ID, with a warning. An RDATE period whose length
 * is not its event's comes as an override of that occurrence (made by
 * ical_import.c, "synthetic"), and is simply left out if its series was
 * not written.
 *
 * The file is the truth of each series it gives, overrides included: an
 * override that stands as a file gave it (sql/024: file_version) and that
 * this file no longer gives (Google drops one when its change is taken
 * back) is written again as the series gives that occurrence
 * (reset_stale), unless a VEVENT of that UID was refused. Overrides made
 * or changed through the API are liaison's own and stay. The row stays,
 * as every events row does, and follows its series from then on
 * (sql/012). A single event made of an override that could not be one
 * (split_from) is cancelled when the file no longer gives it; so is one
 * made of an override whose series was not known then (orphan_of), once a
 * file gives the series without it. Each file is the truth of what it
 * gives: an invitation to one occurrence imported after its series' file
 * overrides that occurrence, and the series' file imported again takes
 * the override back. */
#include "api/import.h"

#include "dbpool.h"
#include "event.h"
#include "api/event_params.h"
#include "api/import_sql.h"
#include "http/http.h"
#include "ical_import.h"
#include "api/series.h"
#include "http/context.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct import {
	struct req *r;
	json_t *items;
	size_t next;
	json_t *created, *updated, *unchanged, *refused, *warnings;
	/* the item being written */
	json_t *item, *event;
	const char *uid;
	struct event_in in;
	struct event_bufs bufs;
	char series_id[37];
	/* for checking that overrides' RECURRENCE-IDs are occurrences: a long
	 * series with overrides far from its start costs one step for each of
	 * its occurrences before each of them */
	struct recur_budget budget;
	struct ical_walk *walk; /* the last master's occurrences walked so far */
	/* for the overrides the file no longer gives (reset_stale): */
	json_t *series;        /* series id -> its item, for each series written */
	json_t *placed;        /* series id -> {recurrence id: true} the file wrote */
	json_t *refused_uids;  /* UID -> true: a VEVENT of it was refused */
	json_t *singles;       /* UIDs of the single events written of overrides */
	char *series_list;     /* the series to look at, as an array's text */
	char split_from[37];   /* the item is a single event made of an override of it */
	const char *orphan_of; /* ... of an override of this UID, which has no series */
	int reset_asked;
};

static void import_step(struct import *im);

static void import_free(struct import *im)
{
	json_decref(im->items);
	json_decref(im->created);
	json_decref(im->updated);
	json_decref(im->unchanged);
	json_decref(im->refused);
	json_decref(im->warnings);
	event_bufs_free(&im->bufs);
	ical_walk_free(im->walk);
	json_decref(im->series);
	json_decref(im->placed);
	json_decref(im->refused_uids);
	json_decref(im->singles);
	free(im->series_list);
	free(im);
}

static void refuse(struct import *im, const char *uid, json_t *errors)
{
	/* A refused UID's overrides are not taken back (reset_stale), and an
	 * override kept apart is refused under the UID it was given: its
	 * series' UID is recorded too. Unrecorded, none is taken back. */
	const char *own = json_string_value(json_object_get(im->item, "uid"));
	if (json_object_set_new(im->refused_uids, uid ? uid : "", json_true()) ||
	    (own && json_object_set_new(im->refused_uids, own, json_true())))
		im->reset_asked = 1;
	json_array_append_new(im->refused,
	                      json_pack("{s:s, s:o}", "uid", uid ? uid : "", "errors", errors));
}

static void refuse_one(struct import *im, const char *field, const char *message)
{
	json_t *errors = json_array();
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
	refuse(im, im->uid, errors);
}

/* The item's warnings, under the UID it was written with. */
static void add_warnings(struct import *im, json_t *list)
{
	size_t i;
	json_t *w;
	json_array_foreach(list, i, w)
	{
		json_array_append_new(im->warnings,
		                      json_pack("{s:s, s:O, s:O}", "uid", im->uid ? im->uid : "",
		                                "field", json_object_get(w, "field"), "message",
		                                json_object_get(w, "message")));
	}
}

/* A warning of the import's own about an override. */
static void warn_rid(struct import *im, const char *uid, const char *msg)
{
	json_array_append_new(im->warnings, json_pack("{s:s, s:s, s:s}", "uid", uid ? uid : "",
	                                              "field", "recurrence_id", "message", msg));
}

/* An override the file no longer gives that stays as it is (reset_stale). */
static void left_as_it_is(struct import *im, const char *why)
{
	const char *rid =
	    json_string_value(json_object_get(json_object_get(im->item, "rid"), "local"));
	char msg[300];
	snprintf(msg, sizeof(msg),
	         "the file gives no override of the occurrence at %s any more, but it %s: it "
	         "was left as it is",
	         rid ? rid : "?", why);
	warn_rid(im, im->uid, msg);
}

static void finish(struct import *im)
{
	struct req *r = im->r;
	json_t *body =
	    json_pack("{s:O, s:O, s:O, s:O, s:O}", "created", im->created, "updated", im->updated,
	              "unchanged", im->unchanged, "refused", im->refused, "warnings", im->warnings);
	import_free(im);
	if (!body)
		reply_problem(r, 500, "out of memory");
	else
		reply_json(r, 200, body);
}

static void fail_unavailable(struct import *im)
{
	struct req *r = im->r;
	import_free(im);
	reply_unavailable(r);
}

/* A database outage ends the import; what was written stays written, each
 * VEVENT being whole on its own, and a retry finds those unchanged. */
static int step_result(struct import *im, PGresult *res)
{
	if (!res) {
		fail_unavailable(im);
		return 0;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		refuse_one(im, "uid",
		           !strcmp(db_sqlstate(res), "23505")
		               ? "conflicts with an event of this UID"
		               : "the database refused this event");
		return -1;
	}
	return 1;
}

/* A series the file changed: its overrides whose occurrence it took away
 * are cancelled (orphans), the orphans it gives one back are restored, as
 * a PATCH through the API does (series.h, SQL_IMPORT_SETTLE). */

static void on_settled(PGresult *res, void *arg)
{
	struct import *im = arg;
	if (!res) {
		fail_unavailable(im);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		refuse_one(im, "rrule", "the series' overrides could not be checked against it");
	import_step(im);
}

static void on_overrides(PGresult *res, void *arg)
{
	struct import *im = arg;
	if (!res) {
		fail_unavailable(im);
		return;
	}
	json_t *list = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
	                   ? json_loads(PQgetvalue(res, 0, 0), 0, NULL)
	                   : NULL;
	json_t *gone = json_array(), *back = json_array();
	int rc = list && gone && back ? series_sort(&im->in, im->in.all_day, list, gone, back) : -1;
	char *g = rc == 0 ? json_dumps(gone, JSON_COMPACT) : NULL;
	char *b = rc == 0 ? json_dumps(back, JSON_COMPACT) : NULL;
	int sent = 0;
	if (g && b && (json_array_size(gone) || json_array_size(back))) {
		const char *p[] = {im->series_id, g, b};
		if (dbpool_query(im->r->cx->db, SQL_IMPORT_SETTLE, 3, p, on_settled, im) != 0) {
			free(g);
			free(b);
			json_decref(list);
			json_decref(gone);
			json_decref(back);
			fail_unavailable(im);
			return;
		}
		sent = 1;
	} else if (rc != 0) {
		refuse_one(im, "rrule", "the series' overrides could not be checked against it");
	}
	free(g);
	free(b);
	json_decref(list);
	json_decref(gone);
	json_decref(back);
	if (!sent)
		import_step(im);
}

/* What the file wrote, for reset_stale: its series, and the occurrences
 * it gave an override of. */
static void note_written(struct import *im)
{
	if (im->split_from[0] || im->orphan_of) {
		/* Unrecorded, it would be cancelled: none is, this time. */
		if (!im->uid || json_array_append_new(im->singles, json_string(im->uid)))
			im->reset_asked = 1;
	} else if (im->in.series_id) {
		const char *rid = json_string_value(json_object_get(im->event, "recurrence_id"));
		json_t *set = json_object_get(im->placed, im->in.series_id);
		if (!set && json_object_set_new(im->placed, im->in.series_id, set = json_object()))
			set = NULL;
		/* Unrecorded, it would be taken back: none is, this time. */
		if (!set || !rid || json_object_set_new(set, rid, json_true()))
			im->reset_asked = 1;
	} else if (im->in.rrule || json_array_size(im->in.rdates)) {
		(void)json_object_set(im->series, im->series_id, im->item); /* else not reset */
	}
}

/* An override of series item at rid as the series gives that occurrence:
 * the series' fields, starting at rid and lasting as its occurrences do. */
static json_t *series_occurrence(json_t *series, const char *rid)
{
	json_t *ev = json_deep_copy(json_object_get(series, "event"));
	const char *uid = json_string_value(json_object_get(series, "uid"));
	if (!ev || !uid) {
		json_decref(ev);
		return NULL;
	}
	int all_day = json_is_true(json_object_get(ev, "all_day"));
	char end[CIVIL_LEN];
	json_object_del(ev, "rrule");
	json_object_del(ev, "rdates");
	json_object_del(ev, "exdates");
	if (recur_end_text(json_string_value(json_object_get(ev, "timezone")), all_day,
	                   json_string_value(json_object_get(ev, "start")),
	                   json_string_value(json_object_get(ev, "end")), rid, end))
		json_object_del(ev, "end");
	else if (json_object_set_new(ev, "end", json_string(end))) {
		json_decref(ev);
		return NULL;
	}
	/* Without its own start it would be written at the series' first. */
	if (json_object_set_new(ev, "start", json_string(rid))) {
		json_decref(ev);
		return NULL;
	}
	char msg[200];
	snprintf(msg, sizeof(msg),
	         "the file gives no override of the occurrence at %s any more: it is the "
	         "series' occurrence again",
	         rid);
	/* "synthetic": left out, not kept apart, when it is no occurrence. */
	return json_pack("{s:s, s:o, s:[], s:[{s:s, s:s}], s:i, s:{s:s, s:b}, s:s, s:b, s:b}",
	                 "uid", uid, "event", ev, "errors", "warnings", "field", "recurrence_id",
	                 "message", msg, "sequence", 0, "rid", "local", rid, "date", all_day,
	                 "single_uid", "", "synthetic", 1, "reset", 1);
}

/* Overrides of the file's series that the file does not give (the
 * organiser took a change back; Google then drops the override): each is
 * written again as its series gives that occurrence, at the end of the
 * items, unless a VEVENT of its UID was refused (the file's own override
 * may be among them). */
static void on_stale(PGresult *res, void *arg)
{
	struct import *im = arg;
	if (!res) {
		fail_unavailable(im);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		warn_rid(im, NULL,
		         "overrides the file no longer gives could not be looked up: they "
		         "were left as they are");
		import_step(im);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *sid = PQgetvalue(res, i, 0), *rid = PQgetvalue(res, i, 1);
		json_t *series = json_object_get(im->series, sid);
		const char *uid = json_string_value(json_object_get(series, "uid"));
		if (!series || !uid || json_object_get(im->refused_uids, uid) ||
		    json_object_get(json_object_get(im->placed, sid), rid))
			continue;
		json_t *item = series_occurrence(series, rid);
		if (!item || json_array_append_new(im->items, item)) {
			warn_rid(im, uid,
			         "out of memory: an override the file no longer gives was left "
			         "as it is");
			break;
		}
	}
	if (PQntuples(res) == ICAL_IMPORT_MAX_VEVENTS)
		warn_rid(im, NULL,
		         "the file's series have more overrides than one import takes back: "
		         "import the file again for the rest");
	import_step(im);
}

/* The single events made of overrides the file no longer gives: cancelled
 * (SQL_IMPORT_SPLIT_GONE); then the overrides (SQL_IMPORT_STALE). */
static void on_split_gone(PGresult *res, void *arg)
{
	struct import *im = arg;
	if (!res) {
		fail_unavailable(im);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		warn_rid(im, NULL,
		         "events made of overrides the file no longer gives could not be looked "
		         "up: they were left as they are");
	for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
		json_array_append_new(im->updated, json_string(PQgetvalue(res, i, 0)));
		warn_rid(im, PQgetvalue(res, i, 1),
		         PQgetisnull(res, i, 2)
		             ? "the file no longer gives the override this event was made of: it "
		               "is cancelled"
		             : "the file gives the series of the override this event was made "
		               "of: the occurrence is the series' (as the file gives it), and "
		               "this event is cancelled");
	}
	char most[16];
	snprintf(most, sizeof(most), "%d", ICAL_IMPORT_MAX_VEVENTS);
	const char *p[] = {im->series_list, most};
	if (dbpool_query(im->r->cx->db, SQL_IMPORT_STALE, 2, p, on_stale, im) != 0)
		fail_unavailable(im);
}

/* 0 when the look-up was sent. */
static int reset_stale(struct import *im)
{
	im->reset_asked = 1;
	struct evbuffer *ids = evbuffer_new();
	const char *sid;
	json_t *v;
	int ok = ids != NULL, n = 0;
	json_object_foreach(im->series, sid, v)
	{
		/* A refused VEVENT of the UID may be the override the database holds. */
		const char *uid = json_string_value(json_object_get(v, "uid"));
		if (!uid || json_object_get(im->refused_uids, uid))
			continue;
		if (ok && db_array_add(ids, sid))
			ok = 0;
		n++;
	}
	im->series_list = ok && n ? db_array_end(ids) : NULL;
	if (ids)
		evbuffer_free(ids);
	if (!n)
		return -1;
	struct evbuffer *uids = evbuffer_new();
	size_t i;
	ok = uids != NULL;
	json_array_foreach(im->singles, i, v)
	{
		if (ok && db_array_add(uids, json_string_value(v)))
			ok = 0;
	}
	char *singles = ok ? db_array_end(uids) : NULL;
	if (uids)
		evbuffer_free(uids);
	if (!singles || !im->series_list) {
		free(singles);
		warn_rid(im, NULL,
		         "out of memory: overrides the file no longer gives were left as they are");
		return -1;
	}
	char most[16];
	snprintf(most, sizeof(most), "%d", ICAL_IMPORT_MAX_VEVENTS);
	const char *p[] = {im->series_list, singles, most};
	int rc = dbpool_query(im->r->cx->db, SQL_IMPORT_SPLIT_GONE, 3, p, on_split_gone, im);
	free(singles);
	if (rc != 0) {
		fail_unavailable(im);
		return 1;
	}
	return 0;
}

static void on_written(PGresult *res, void *arg)
{
	struct import *im = arg;
	int ok = step_result(im, res);
	if (ok == 0)
		return;
	int settle = 0;
	if (ok > 0 && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 1), "visit")) {
		/* An event of a visit (sql/013): the visit writes it. */
		refuse_one(im, "uid", "is an event of a visit: change it through /v1/visits");
	} else if (ok > 0 && PQntuples(res) == 1) {
		const char *what = PQgetvalue(res, 0, 1);
		json_t *list = !strcmp(what, "created")   ? im->created
		               : !strcmp(what, "updated") ? im->updated
		                                          : im->unchanged;
		json_array_append_new(list, json_string(PQgetvalue(res, 0, 0)));
		/* An override already reset is not news. */
		if (list != im->unchanged || !json_is_true(json_object_get(im->item, "reset")))
			add_warnings(im, json_object_get(im->item, "warnings"));
		settle = !strcmp(what, "updated") && !im->in.series_id &&
		         (im->in.rrule || json_array_size(im->in.rdates));
		snprintf(im->series_id, sizeof(im->series_id), "%s", PQgetvalue(res, 0, 0));
		note_written(im);
	} else if (ok > 0) {
		refuse_one(im, "uid", "an event with this UID could not be written");
	}
	if (settle) {
		const char *p[] = {im->series_id};
		if (dbpool_query(im->r->cx->db, SQL_IMPORT_OVERRIDES_OF, 1, p, on_overrides, im) !=
		    0)
			fail_unavailable(im);
		return;
	}
	import_step(im);
}

/* A master, once its overrides' wall times are read: written with the
 * instants they may take as they follow it (sql/029). */
static void on_locals(PGresult *res, void *arg)
{
	struct import *im = arg;
	if (!res) {
		fail_unavailable(im);
		return;
	}
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	json_t *locals =
	    ok && PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	char *hints = json_array_size(locals) ? series_hints(&im->in, locals) : NULL;
	if (!ok || (PQntuples(res) == 1 && !locals) || (json_array_size(locals) && !hints)) {
		json_decref(locals);
		refuse_one(im, "uid", "an event with this UID could not be written");
		import_step(im);
		return;
	}
	json_decref(locals);
	const char *p[EV_NPARAMS + 2];
	event_params(&im->in, im->r->who.org_id, &im->bufs, p);
	p[EV_NPARAMS + 0] = im->uid;
	p[EV_NPARAMS + 1] = hints;
	int rc = dbpool_query(im->r->cx->db, SQL_IMPORT_SERIES, EV_NPARAMS + 2, p, on_written, im);
	free(hints);
	if (rc != 0)
		fail_unavailable(im);
}

/* Validates the event (an override with its series_id and recurrence_id
 * set) and writes it; 0 when a query was sent. */
static int write_item(struct import *im)
{
	json_t *errors = json_array();
	json_object_set_new(im->event, "uid", json_string(im->uid));
	event_bufs_free(&im->bufs);
	int reset = json_is_true(json_object_get(im->item, "reset"));
	if (!errors || event_validate(im->event, im->r->who.org_tz, &im->in, errors) != 0 ||
	    event_countable(&im->in, errors)) {
		if (reset) { /* not the file's: said, not refused */
			left_as_it_is(im, "could not be written as its series gives it");
			json_decref(errors);
			return -1;
		}
		refuse(im, im->uid, errors ? errors : json_array());
		return -1;
	}
	json_decref(errors);
	if (!im->in.series_id && !im->split_from[0] && !im->orphan_of) {
		/* A master: its overrides follow it at the daemon's instants. */
		const char *p[] = {im->r->who.org_id, im->uid};
		if (dbpool_query(im->r->cx->db, SQL_IMPORT_LOCALS, 2, p, on_locals, im) != 0) {
			fail_unavailable(im);
			return 1;
		}
		return 0;
	}
	/* An override, as its file gives it (sql/024) or not; a single event
	 * made of an override; one of an override with no series yet. */
	const char *p[EV_NPARAMS + 2];
	event_params(&im->in, im->r->who.org_id, &im->bufs, p);
	p[EV_NPARAMS + 0] = im->uid;
	const char *sql = SQL_IMPORT_ORPHAN;
	p[EV_NPARAMS + 1] = im->orphan_of;
	if (im->in.series_id) {
		sql = SQL_IMPORT_OVERRIDE;
		p[EV_NPARAMS + 1] = reset ? "f" : "t";
	} else if (im->split_from[0]) {
		sql = SQL_IMPORT_SPLIT;
		p[EV_NPARAMS + 1] = im->split_from;
	}
	if (dbpool_query(im->r->cx->db, sql, EV_NPARAMS + 2, p, on_written, im) != 0) {
		fail_unavailable(im);
		return 1;
	}
	return 0;
}

static json_t *loads(const char *s)
{
	json_t *a = json_loads(s, 0, NULL);
	return a ? a : json_array();
}

/* An override given in UTC takes its series' zone: the same instants. */
static void restate_in(json_t *ev, const char *zone)
{
	const char *from = json_string_value(json_object_get(ev, "timezone"));
	if (!from || json_is_true(json_object_get(ev, "all_day")))
		return;
	static const char *const keys[] = {"start", "end"};
	char out[2][CIVIL_LEN];
	for (int i = 0; i < 2; i++) {
		const char *v = json_string_value(json_object_get(ev, keys[i]));
		struct civil c;
		int64_t u;
		out[i][0] = '\0';
		if (!v)
			continue;
		if (civil_parse(v, 0, &c) || tz_to_utc(from, &c, &u) != TZ_OK ||
		    tz_from_utc(zone, u, &c) != TZ_OK)
			return;
		civil_format(&c, 0, out[i]);
	}
	for (int i = 0; i < 2; i++)
		if (out[i][0])
			json_object_set_new(ev, keys[i], json_string(out[i]));
	json_object_set_new(ev, "timezone", json_string(zone));
}

/* An override that cannot be one: a single event of its own. */
static void stand_alone(struct import *im, const char *why)
{
	const char *single = json_string_value(json_object_get(im->item, "single_uid"));
	const char *rid =
	    json_string_value(json_object_get(json_object_get(im->item, "rid"), "local"));
	char msg[600];
	snprintf(msg, sizeof(msg),
	         "RECURRENCE-ID %s of UID %.255s %s: kept as a single event with a UID of its own",
	         rid ? rid : "?", im->uid ? im->uid : "", why);
	json_array_append_new(json_object_get(im->item, "warnings"),
	                      json_pack("{s:s, s:s}", "field", "recurrence_id", "message", msg));
	im->uid = single;
	json_object_del(im->event, "series_id");
	json_object_del(im->event, "recurrence_id");
}

static void on_master(PGresult *res, void *arg)
{
	struct import *im = arg;
	int ok = step_result(im, res);
	if (ok == 0)
		return;
	if (ok < 0) {
		import_step(im);
		return;
	}
	int synthetic = json_is_true(json_object_get(im->item, "synthetic"));
	if (PQntuples(res) != 1) {
		if (synthetic) { /* its series was refused: nothing to override */
			import_step(im);
			return;
		}
		/* The file that gives its series takes it over (sql/026). */
		im->orphan_of = im->uid;
		stand_alone(im, "has no event in the file or in liaison to override");
	} else {
		int override_all_day = json_is_true(json_object_get(im->event, "all_day"));
		json_t *ex = loads(PQgetvalue(res, 0, 5)), *rd = loads(PQgetvalue(res, 0, 6));
		struct ical_master m = {PQgetvalue(res, 0, 0),
		                        PQgetvalue(res, 0, 1),
		                        PQgetvalue(res, 0, 2)[0] == 't',
		                        PQgetvalue(res, 0, 3),
		                        PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4),
		                        ex,
		                        rd};
		char rid[CIVIL_LEN];
		int placed = ical_import_place_rid(&m, json_object_get(im->item, "rid"),
		                                   override_all_day, rid, im->walk, &im->budget);
		if (placed == -2 && json_is_true(json_object_get(im->item, "reset"))) {
			json_decref(ex);
			json_decref(rd);
			left_as_it_is(im, "could not be checked against its series (the file's "
			                  "series are too long)");
			import_step(im);
			return;
		}
		if (placed == -2) {
			json_decref(ex);
			json_decref(rd);
			refuse_one(
			    im, "recurrence_id",
			    "the file's series are too long to check that this RECURRENCE-ID "
			    "is one of their occurrences");
			import_step(im);
			return;
		}
		if (placed == 0) {
			snprintf(im->series_id, sizeof(im->series_id), "%s", PQgetvalue(res, 0, 0));
			json_object_set_new(im->event, "series_id", json_string(im->series_id));
			json_object_set_new(im->event, "recurrence_id", json_string(rid));
			if (json_is_true(json_object_get(im->item, "utc_times")))
				restate_in(im->event, m.timezone);
		} else if (synthetic) {
			json_decref(ex);
			json_decref(rd);
			import_step(im);
			return;
		} else {
			stand_alone(
			    im, override_all_day != m.all_day
			            ? "does not match its series (one has dates, the other times)"
			            : "is not an occurrence of its series");
			/* The next version of the file may no longer give it. */
			snprintf(im->split_from, sizeof(im->split_from), "%s", m.id);
		}
		json_decref(ex);
		json_decref(rd);
	}
	if (write_item(im) < 0)
		import_step(im);
}

/* Starts the next item; 0 when a query was sent, -1 when it was refused
 * at once. */
static int start_item(struct import *im, json_t *item)
{
	im->item = item;
	im->event = json_object_get(item, "event");
	im->uid = json_string_value(json_object_get(item, "uid"));
	im->series_id[0] = '\0';
	im->split_from[0] = '\0';
	im->orphan_of = NULL;
	json_t *errors = json_object_get(item, "errors");
	if (json_array_size(errors) || !im->event) {
		refuse(im, im->uid, json_incref(errors ? errors : json_array()));
		return -1;
	}
	if (!json_object_get(item, "rid"))
		return write_item(im);
	const char *p[] = {im->r->who.org_id, im->uid};
	if (dbpool_query(im->r->cx->db, SQL_IMPORT_MASTER, 2, p, on_master, im) != 0) {
		fail_unavailable(im);
		return 1;
	}
	return 0;
}

static void import_step(struct import *im)
{
	while (im->next < json_array_size(im->items)) {
		int rc = start_item(im, json_array_get(im->items, im->next++));
		if (rc > 0)
			return; /* im is gone */
		if (rc == 0)
			return; /* a query is on its way */
	}
	if (!im->reset_asked && reset_stale(im) >= 0)
		return; /* asked, or im is gone */
	finish(im);
}

/* Series before their overrides, whatever the order in the file. */
static json_t *series_first(json_t *items)
{
	json_t *out = json_array();
	for (int pass = 0; out && pass < 2; pass++) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			int is_override = json_object_get(it, "rid") != NULL;
			if (is_override == pass)
				json_array_append(out, it);
		}
	}
	json_decref(items);
	return out;
}

/* A Content-Type that says the text is Latin-1 or Windows-1252. */
static int says_cp1252(const char *ct)
{
	const char *cs = ct ? strcasestr(ct, "charset=") : NULL;
	if (!cs)
		return 0;
	cs += 8;
	if (*cs == '"')
		cs++;
	static const char *const names[] = {"windows-1252", "cp1252", "iso-8859-1",
	                                    "iso8859-1",    "latin1", "latin-1"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (!strncasecmp(cs, names[i], strlen(names[i])))
			return 1;
	return 0;
}

void import_calendar(struct req *r)
{
	size_t len;
	const char *text = req_body(r, &len);
	char err[160];
	struct import *im = calloc(1, sizeof(*im));
	json_t *file_warnings = json_array();
	if (!text || !im || !file_warnings) {
		free(im);
		json_decref(file_warnings);
		reply_problem(r, 500, "out of memory");
		return;
	}
	json_t *items = ical_import_parse_ex(text, len, r->who.org_tz,
	                                     says_cp1252(req_header(r, "Content-Type")),
	                                     file_warnings, err, sizeof(err));
	if (!items) {
		free(im);
		json_decref(file_warnings);
		reply_problem(r, strcmp(err, "out of memory") ? 400 : 500, err);
		return;
	}
	im->r = r;
	recur_budget_init(&im->budget, ICAL_BUDGET_STEPS, ICAL_BUDGET_MS);
	im->walk = ical_walk_new();
	im->items = series_first(items);
	im->created = json_array();
	im->updated = json_array();
	im->unchanged = json_array();
	im->refused = json_array();
	im->warnings = file_warnings;
	im->series = json_object();
	im->placed = json_object();
	im->refused_uids = json_object();
	im->singles = json_array();
	if (!im->items || !im->created || !im->updated || !im->unchanged || !im->refused ||
	    !im->walk || !im->series || !im->placed || !im->refused_uids || !im->singles) {
		import_free(im);
		reply_problem(r, 500, "out of memory");
		return;
	}
	import_step(im);
}
