/* series.h - one model of a series: a master (rrule, rdates, exdates) and
 * the overrides of its occurrences. Which overrides a change of the
 * master's occurrences leaves without one (they are cancelled and marked
 * orphans) and which it gives one back (restored), and the SQL that
 * applies that in the statement that writes the master; shared by the API
 * (events.c) and imports (import.c). */
#ifndef LIAISON_SERIES_H
#define LIAISON_SERIES_H

#include "event.h"
#include "core/event_sql.h"

#include <jansson.h>

/* clang-format off */
/* A master's overrides that a change of its occurrences concerns, as JSON
 * [{"id", "rid", "orphan"}]: the live ones, those cancelled with their
 * series (they come back with it), and the orphans. m is the master's
 * alias; its all_day is that of the rids. */
#define SERIES_OVERRIDES(m) \
	"(SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"          'id', x.id," \
	"          'rid', to_char(x.recurrence_id, CASE WHEN " m ".all_day THEN 'YYYY-MM-DD'" \
	"                 ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS' END)," \
	"          'orphan', x.orphan_status IS NOT NULL)), '[]')" \
	"   FROM events x" \
	"  WHERE x.series_id = " m ".id" \
	"    AND (x.status <> 'cancelled'" \
	"         OR x.cascade_status IS NOT NULL" \
	"         OR x.orphan_status IS NOT NULL))::text"

/* Every override of master m as JSON [[zone, all_day, start, end, rid]],
 * wall times as YYYY-MM-DDTHH:MM:SS, the end that of its span (an all-day
 * override without one ends a day after its start): what series_hints
 * reads. */
#define SERIES_LOCALS(m) \
	"(SELECT coalesce(jsonb_agg(jsonb_build_array(" \
	"          x.timezone, x.all_day," \
	"          to_char(x.start_local, 'YYYY-MM-DD\"T\"HH24:MI:SS')," \
	"          to_char(coalesce(x.end_local, x.start_local + CASE WHEN x.all_day" \
	"                           THEN interval '1 day' ELSE interval '0' END)," \
	"                  'YYYY-MM-DD\"T\"HH24:MI:SS')," \
	"          to_char(x.recurrence_id, 'YYYY-MM-DD\"T\"HH24:MI:SS'))), '[]')" \
	"   FROM events x" \
	"  WHERE x.series_id = " m ".id)::text"

/* Two CTEs, after one named m that returns the written master: g cancels
 * the overrides listed in gone (a JSON array of ids) and marks them orphans
 * (with the status to give back), b restores the orphans listed in back
 * (cancelled with the series if it is cancelled). Each returns the ids.
 * A change of the series carried to its override: one that stood as its
 * file gave it still does (sql/024). */
#define SERIES_ORPHANS(m, gone, back) \
	"g AS (" \
	"  UPDATE events x" \
	"     SET status = 'cancelled'," \
	"         orphan_status = CASE WHEN x.status <> 'cancelled' THEN x.status" \
	"                         ELSE x.cascade_status END," \
	"         cascade_status = NULL," \
	"         version = x.version + (x.status <> 'cancelled')::int," \
	"         file_version = CASE WHEN x.file_version = x.version" \
	"                        THEN x.version + (x.status <> 'cancelled')::int END," \
	"         sequence = x.sequence + (x.status <> 'cancelled')::int," \
	"         updated_at = CASE WHEN x.status <> 'cancelled' THEN now() ELSE x.updated_at END" \
	"    FROM " m " s" \
	"   WHERE x.series_id = s.id" \
	"     AND x.id = ANY(ARRAY(SELECT jsonb_array_elements_text(" gone "::jsonb))::uuid[])" \
	"     AND x.orphan_status IS NULL" \
	"  RETURNING x.id), " \
	"b AS (" \
	"  UPDATE events x" \
	"     SET status = CASE WHEN s.status = 'cancelled' THEN 'cancelled'" \
	"                  ELSE x.orphan_status END," \
	"         cascade_status = CASE WHEN s.status = 'cancelled' THEN x.orphan_status END," \
	"         orphan_status = NULL," \
	"         version = x.version + (s.status <> 'cancelled')::int," \
	"         file_version = CASE WHEN x.file_version = x.version" \
	"                        THEN x.version + (s.status <> 'cancelled')::int END," \
	"         sequence = x.sequence + (s.status <> 'cancelled')::int," \
	"         updated_at = CASE WHEN s.status <> 'cancelled' THEN now() ELSE x.updated_at END" \
	"    FROM " m " s" \
	"   WHERE x.series_id = s.id" \
	"     AND x.id = ANY(ARRAY(SELECT jsonb_array_elements_text(" back "::jsonb))::uuid[])" \
	"     AND x.orphan_status IS NOT NULL" \
	"  RETURNING x.id)"
/* clang-format on */

/* Sorts overrides (SERIES_OVERRIDES' JSON, rids in the form was_all_day
 * gives) for the series as written now: the ids of those it has no
 * occurrence for go to gone, the orphans it has one for again to back. 0,
 * or -1 when out of memory. */
int series_sort(const struct event_in *series, int was_all_day, json_t *overrides, json_t *gone,
                json_t *back) WUR;

/* The instants of the wall times the overrides (SERIES_LOCALS) of master
 * s may take when s is written (sql/029's liaison.instants): in their own
 * zone and in s's, their start, their end and their recurrence id plus
 * s's length, as the trigger that makes them follow s computes them. A
 * JSON text to free; NULL when out of memory. */
char *series_hints(const struct event_in *s, json_t *locals) WUR;

/* Whether rid is an occurrence of the master given as JSON (the API's
 * representation, or any object with start, all_day, timezone, rrule,
 * exdates and rdates). */
int series_has(json_t *master, const struct civil *rid, int all_day);

#endif
