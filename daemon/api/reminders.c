/* reminders.c - GET /v1/events/{id}/reminders: an event's coming fire
 * times, planned as the scheduler plans them (core/remind_row.c), for any
 * key that may see the event. A stored event that cannot be planned is a
 * 422 naming its field. */
#include "api/reminders.h"

#include "api/filters.h"
#include "api/jsonv.h"
#include "api/reminders_sql.h"
#include "clock.h"
#include "core/remind_row.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

#define REMINDERS_DEFAULT 100
#define REMINDERS_MAX     1000
#define HORIZON_S         (400LL * 86400) /* as far as the scheduler plans */

struct firelist {
	json_t *items;
};

static int on_fire(const struct remind_fire *f, void *arg)
{
	struct firelist *fl = arg;
	char fire[21], os[21], oe[21];
	rfc3339_utc(f->fire_at, fire);
	rfc3339_utc(f->occ_start, os);
	rfc3339_utc(f->occ_end, oe);
	json_t *o =
	    json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:I}", "fire_at", fire, "trigger",
	              f->trigger, "occurrence", "start", f->start_local, "end", f->end_local,
	              "start_utc", os, "end_utc", oe, "t", (json_int_t)f->fire_at);
	return o && json_array_append_new(fl->items, o) == 0 ? 0 : -1;
}

static int by_fire_time(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "t"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "t"));
	return x < y ? -1 : x > y;
}

static void on_event_plan(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such event");
		return;
	}
	size_t limit =
	    (size_t)filters_int_param(r, "limit", 1, REMINDERS_MAX, REMINDERS_DEFAULT, NULL);
	struct firelist fl = {json_array()};
	int64_t now = strtoll(PQgetvalue(res, 0, P_NOW), NULL, 10);
	char until[24];
	const char *why = "out of memory";
	if (!fl.items ||
	    remind_plan_row(res, 0, now, now + HORIZON_S, on_fire, &fl, until, &why) != 0) {
		json_decref(fl.items);
		if (!strcmp(why, "out of memory")) {
			reply_problem(r, 500, "out of memory");
			return;
		}
		/* A stored event that cannot be planned (a rule libical cannot
		 * step, say): the event is what is wrong, and the caller is told
		 * which of its fields. */
		json_t *errors = json_array();
		jv_error(errors,
		         strstr(why, "reminder") ? "reminders"
		         : strstr(why, "start")  ? "start"
		                                 : "rrule",
		         why);
		reply_problem_fields(r, 422,
		                     "this event's reminders cannot be computed; change the "
		                     "field named to plan them",
		                     errors);
		return;
	}
	size_t n = json_array_size(fl.items);
	json_t **v = malloc((n ? n : 1) * sizeof(*v));
	json_t *items = json_array();
	if (!v || !items) {
		free(v);
		json_decref(items);
		json_decref(fl.items);
		reply_problem(r, 500, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(fl.items, i);
	qsort(v, n, sizeof(*v), by_fire_time);
	for (size_t i = 0; i < n && i < limit; i++) {
		json_object_del(v[i], "t");
		json_array_append(items, v[i]);
	}
	free(v);
	json_decref(fl.items);
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}

void events_reminders(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such event");
		return;
	}
	json_t *errors = json_array();
	filters_int_param(r, "limit", 1, REMINDERS_MAX, REMINDERS_DEFAULT, errors);
	if (json_array_size(errors)) {
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	const char *p[] = {id, r->who.org_id, r->who.org_slug};
	if (dbpool_query(r->cx->db_read, SQL_EVENT_PLAN, 3, p, on_event_plan, r) != 0)
		reply_unavailable(r);
}
