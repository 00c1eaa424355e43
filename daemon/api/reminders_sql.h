/* reminders_sql.h - the SQL of GET /v1/events/{id}/reminders. */
#ifndef LIAISON_REMINDERS_SQL_H
#define LIAISON_REMINDERS_SQL_H

#include "core/event_sql.h"
#include "core/remind_row.h"

/* clang-format off */
/* One visible event ($1, for org $2 with slug $3) in the columns of
 * remind_row.h. */
#define SQL_EVENT_PLAN \
	"SELECT e.id," \
	"       0," \
	"       " REMIND_ROW_COLUMNS "," \
	"       0," \
	"       0," \
	"       extract(epoch FROM now())::bigint" \
	"  FROM events e" \
	" WHERE e.id = $1::uuid" \
	"   AND " EV_VISIBLE("e", "$2::uuid", "$3::text")
/* clang-format on */

#endif
