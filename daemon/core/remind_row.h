/* remind_row.h - an event's reminder plan from a row of the database:
 * the columns both the scheduler's queue (jobs/planner.c) and
 * GET /v1/events/{id}/reminders (api/reminders.c) read, and the walk over
 * its fire times (common/remind.c). */
#ifndef LIAISON_REMIND_ROW_H
#define LIAISON_REMIND_ROW_H

#include "core/event_sql.h"
#include "macros.h"
#include "remind.h"

#include <libpq-fe.h>
#include <stdint.h>

/* The columns of such a row (SCHED_PLAN_CLAIM, SQL_EVENT_PLAN). */
enum {
	P_ID,
	P_TICKET,
	P_VERSION,
	P_STATUS,
	P_RRULE,
	P_TZ,
	P_ALLDAY,
	P_START,
	P_END,
	P_EXDATES,
	P_RDATES,
	P_TRIGGERS,
	P_OVERRIDDEN,
	P_AFTER,
	P_CUTOFF,
	P_NOW
};

/* clang-format off */
/* Columns P_VERSION to P_OVERRIDDEN of event e. */
#define REMIND_ROW_COLUMNS \
	"e.version," \
	"       e.status," \
	"       e.rrule," \
	"       e.timezone," \
	"       e.all_day," \
	"       " EV_LOCAL("e.start_local") "," \
	"       " EV_LOCAL("e.end_local") "," \
	"       " EV_LOCAL_LIST("e.exdates") "::text," \
	"       " EV_LOCAL_LIST("e.rdates") "::text," \
	"       to_jsonb(e.reminders)::text," \
	"       (SELECT coalesce(jsonb_agg(" EV_LOCAL("x.recurrence_id") "), '[]')" \
	"          FROM events x" \
	"         WHERE x.series_id = e.id" \
	"           AND " EV_NAMES_AN_OCCURRENCE("x", "e") ")::text"
/* clang-format on */

/* Calls cb for the fire times after `after` of occurrences before until,
 * of the event in row of res. until_text gets where the plan stops (""
 * when it is complete). On failure (-1), *why says what could not be
 * planned. */
int remind_plan_row(PGresult *res, int row, int64_t after, int64_t until, remind_cb cb, void *arg,
                    char until_text[24], const char **why) WUR;

#endif
