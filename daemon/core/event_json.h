/* event_json.h - an event's JSON representation built in C from plain
 * columns (EVENT_COLS in event_sql.h): the object EVENT_JSON builds in
 * SQL, with the keys in jsonb's order, so the bytes are the same. Reading
 * plain columns costs PostgreSQL far less than building jsonb. */
#ifndef LIAISON_EVENT_JSON_H
#define LIAISON_EVENT_JSON_H

#include "macros.h"

#include <jansson.h>
#include <libpq-fe.h>

/* Columns EVENT_COLS yields, starting at col. */
#define EVENT_NCOLS 29
/* The columns of EVENT_COLS, in order. */
enum {
	EVENT_C_ID,
	EVENT_C_ORG,
	EVENT_C_KIND,
	EVENT_C_TITLE,
	EVENT_C_DESCRIPTION,
	EVENT_C_LOCATION,
	EVENT_C_CITY,
	EVENT_C_COUNTRY,
	EVENT_C_TIMEZONE,
	EVENT_C_ALL_DAY,
	EVENT_C_START,
	EVENT_C_END,
	EVENT_C_RRULE,
	EVENT_C_EXDATES,
	EVENT_C_RDATES,
	EVENT_C_SERIES_ID,
	EVENT_C_RECURRENCE_ID,
	EVENT_C_UID,
	EVENT_C_STATUS,
	EVENT_C_VISIBILITY,
	EVENT_C_PARTNERS,
	EVENT_C_TAGS,
	EVENT_C_PARENT_ID,
	EVENT_C_AGREEMENT_ID,
	EVENT_C_REMINDERS,
	EVENT_C_URL,
	EVENT_C_SEQUENCE,
	EVENT_C_CREATED_AT,
	EVENT_C_UPDATED_AT
};

/* The event in row of res, its columns from col on; NULL when out of
 * memory. The text form is what EVENT_JSON::text gives. */
json_t *event_json_build(const PGresult *res, int row, int col) WUR;
char *event_json_text(const PGresult *res, int row, int col) WUR;

#endif
