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

/* The event in row of res, its columns from col on; NULL when out of
 * memory. The text form is what EVENT_JSON::text gives. */
json_t *event_json_build(const PGresult *res, int row, int col) WUR;
char *event_json_text(const PGresult *res, int row, int col) WUR;

#endif
