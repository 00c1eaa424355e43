/* import.c - POST /v1/events with Content-Type: text/calendar. Each
 * VEVENT (series first, then overrides) is validated like a posted event
 * and upserted on its own, by UID: a new UID is created, a changed one
 * updated (SEQUENCE and version rise), an identical one left alone. Only
 * the properties iCalendar carries are written on update; partners,
 * visibility and itinerary links set through the API are kept. */
#include "import.h"

#include "dbpool.h"
#include "event.h"
#include "event_params.h"
#include "event_sql.h"
#include "http.h"
#include "ical_import.h"
#include "server.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The columns an import owns. */
#define ICS_COLUMNS                                                                                \
	"(kind, title, description, location, timezone, all_day, start_local, end_local, "         \
	"start_utc, end_utc, last_end_utc, rrule, exdates, rdates, status, tags, reminders, url)"
#define ICS_EXCLUDED                                                                               \
	"(EXCLUDED.kind, EXCLUDED.title, EXCLUDED.description, EXCLUDED.location, "                \
	"EXCLUDED.timezone, EXCLUDED.all_day, EXCLUDED.start_local, EXCLUDED.end_local, "          \
	"EXCLUDED.start_utc, EXCLUDED.end_utc, EXCLUDED.last_end_utc, EXCLUDED.rrule, "            \
	"EXCLUDED.exdates, EXCLUDED.rdates, EXCLUDED.status, EXCLUDED.tags, EXCLUDED.reminders, "  \
	"EXCLUDED.url)"
#define ICS_CURRENT                                                                                \
	"(events.kind, events.title, events.description, events.location, events.timezone, "       \
	"events.all_day, events.start_local, events.end_local, events.start_utc, events.end_utc, " \
	"events.last_end_utc, events.rrule, events.exdates, events.rdates, events.status, "        \
	"events.tags, events.reminders, events.url)"
#define ICS_UPDATE                                                                                 \
	"DO UPDATE SET " ICS_COLUMNS " = " ICS_EXCLUDED ", version = events.version + 1, "         \
	"sequence = events.sequence + 1, updated_at = now(), cancelled_at = CASE WHEN "            \
	"EXCLUDED.status = 'cancelled' THEN coalesce(events.cancelled_at, now()) END "             \
	"WHERE " ICS_CURRENT " IS DISTINCT FROM " ICS_EXCLUDED                                     \
	" RETURNING id, xmax = 0 AS created"
#define ICS_ANSWER(unchanged_where)                                                                \
	"SELECT id::text, CASE WHEN created THEN 'created' ELSE 'updated' END FROM up UNION ALL "  \
	"SELECT id::text, 'unchanged' FROM events WHERE " unchanged_where                          \
	" AND NOT EXISTS (SELECT 1 FROM up)"

static const char sql_series[] =
    "WITH up AS (INSERT INTO events (org_id, uid, " EV_COLUMNS
    ") VALUES ($1::uuid, $27::text, " EV_VALUES
    ") ON CONFLICT (org_id, uid) WHERE series_id IS NULL " ICS_UPDATE
    ") " ICS_ANSWER("org_id = $1::uuid AND uid = $27::text AND series_id IS NULL");

static const char sql_override[] =
    "WITH up AS (INSERT INTO events (org_id, uid, " EV_COLUMNS
    ") VALUES ($1::uuid, $27::text, " EV_VALUES
    ") ON CONFLICT (series_id, recurrence_id) WHERE series_id IS NOT NULL " ICS_UPDATE
    ") " ICS_ANSWER("series_id = $18::uuid AND recurrence_id = $19::timestamp");

static const char sql_series_of[] =
    "SELECT id FROM events WHERE org_id = $1::uuid AND uid = $2::text AND series_id IS NULL "
    "AND rrule IS NOT NULL";

struct import {
	struct req *r;
	json_t *items;
	size_t next;
	json_t *created, *updated, *unchanged, *refused;
	/* the item being written */
	json_t *event;
	const char *uid;
	struct event_in in;
	struct event_bufs bufs;
	char series_id[37];
};

static void import_step(struct import *im);

static void import_free(struct import *im)
{
	json_decref(im->items);
	json_decref(im->created);
	json_decref(im->updated);
	json_decref(im->unchanged);
	json_decref(im->refused);
	event_bufs_free(&im->bufs);
	free(im);
}

static void refuse(struct import *im, const char *uid, json_t *errors)
{
	json_array_append_new(im->refused,
	                      json_pack("{s:s, s:o}", "uid", uid ? uid : "", "errors", errors));
}

static void refuse_one(struct import *im, const char *field, const char *message)
{
	json_t *errors = json_array();
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
	refuse(im, im->uid, errors);
}

static void finish(struct import *im)
{
	struct req *r = im->r;
	json_t *body = json_pack("{s:O, s:O, s:O, s:O}", "created", im->created, "updated",
	                         im->updated, "unchanged", im->unchanged, "refused", im->refused);
	import_free(im);
	reply_json(r, 200, body);
}

/* A database outage ends the import; what was written stays written, each
 * VEVENT being whole on its own, and a retry finds those unchanged. */
static int step_result(struct import *im, PGresult *res)
{
	if (!res) {
		struct req *r = im->r;
		import_free(im);
		reply_unavailable(r);
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

static void on_written(PGresult *res, void *arg)
{
	struct import *im = arg;
	int ok = step_result(im, res);
	if (ok == 0)
		return;
	if (ok > 0 && PQntuples(res) == 1) {
		const char *what = PQgetvalue(res, 0, 1);
		json_t *list = !strcmp(what, "created")   ? im->created
		               : !strcmp(what, "updated") ? im->updated
		                                          : im->unchanged;
		json_array_append_new(list, json_string(PQgetvalue(res, 0, 0)));
	} else if (ok > 0) {
		refuse_one(im, "uid", "an event with this UID could not be written");
	}
	import_step(im);
}

static void write_item(struct import *im)
{
	const char *p[27];
	event_params(&im->in, im->r->who.org_id, &im->bufs, p);
	p[26] = im->uid;
	const char *sql = sql_series;
	if (im->series_id[0]) {
		p[17] = im->series_id;
		p[18] = im->bufs.rid;
		sql = sql_override;
	}
	if (dbpool_query(im->r->w->db, sql, 27, p, on_written, im) != 0) {
		struct req *r = im->r;
		import_free(im);
		reply_unavailable(r);
	}
}

static void on_series(PGresult *res, void *arg)
{
	struct import *im = arg;
	int ok = step_result(im, res);
	if (ok == 0)
		return;
	if (ok > 0 && PQntuples(res) == 1) {
		snprintf(im->series_id, sizeof(im->series_id), "%s", PQgetvalue(res, 0, 0));
		im->in.series_id = im->series_id;
		write_item(im);
		return;
	}
	if (ok > 0)
		refuse_one(im, "recurrence_id", "no recurring event with this UID to override");
	import_step(im);
}

/* Validates the next item; overrides are checked without their series,
 * whose id is looked up by UID before the write. */
static int prepare_item(struct import *im, json_t *item)
{
	im->event = json_object_get(item, "event");
	im->uid = json_string_value(json_object_get(item, "uid"));
	json_t *errors = json_object_get(item, "errors");
	if (json_array_size(errors)) {
		refuse(im, im->uid, json_incref(errors));
		return -1;
	}
	json_t *rid = json_incref(json_object_get(im->event, "recurrence_id"));
	json_object_del(im->event, "recurrence_id");
	json_object_set_new(im->event, "uid", json_string(im->uid));
	errors = json_array();
	event_bufs_free(&im->bufs);
	im->series_id[0] = '\0';
	if (event_validate(im->event, im->r->who.org_tz, &im->in, errors) != 0) {
		refuse(im, im->uid, errors);
		json_decref(rid);
		return -1;
	}
	json_decref(errors);
	if (rid) {
		if (civil_parse(json_string_value(rid), im->in.all_day, &im->in.recurrence_id)) {
			json_decref(rid);
			refuse_one(im, "recurrence_id", "not a date-time");
			return -1;
		}
		im->in.has_recurrence_id = 1;
		civil_format(&im->in.recurrence_id, im->in.all_day, im->bufs.rid);
		json_object_set(im->event, "recurrence_id", rid);
		json_decref(rid);
		return 1;
	}
	return 0;
}

static void import_step(struct import *im)
{
	while (im->next < json_array_size(im->items)) {
		json_t *item = json_array_get(im->items, im->next++);
		int kind = prepare_item(im, item);
		if (kind < 0)
			continue;
		if (kind == 0) {
			write_item(im);
			return;
		}
		const char *p[] = {im->r->who.org_id, im->uid};
		if (dbpool_query(im->r->w->db, sql_series_of, 2, p, on_series, im) != 0) {
			struct req *r = im->r;
			import_free(im);
			reply_unavailable(r);
		}
		return;
	}
	finish(im);
}

/* Series before their overrides, whatever the order in the file. */
static json_t *series_first(json_t *items)
{
	json_t *out = json_array();
	for (int pass = 0; pass < 2; pass++) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			int is_override =
			    json_object_get(json_object_get(it, "event"), "recurrence_id") != NULL;
			if (is_override == pass)
				json_array_append(out, it);
		}
	}
	json_decref(items);
	return out;
}

void import_calendar(struct req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	const char *text = (const char *)evbuffer_pullup(in, -1);
	char err[160];
	json_t *items = ical_import_parse(text ? text : "", len, r->who.org_tz, err, sizeof(err));
	if (!items) {
		reply_problem(r, 400, err);
		return;
	}
	struct import *im = calloc(1, sizeof(*im));
	if (!im) {
		json_decref(items);
		reply_problem(r, 500, "out of memory");
		return;
	}
	im->r = r;
	im->items = series_first(items);
	im->created = json_array();
	im->updated = json_array();
	im->unchanged = json_array();
	im->refused = json_array();
	import_step(im);
}
