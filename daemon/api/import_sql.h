/* import_sql.h - the statements of iCalendar imports (api/import.c):
 * an upsert by UID of a series or an override, writing only the columns
 * iCalendar carries, and the settling of a changed series' overrides. */
#ifndef LIAISON_IMPORT_SQL_H
#define LIAISON_IMPORT_SQL_H

#include "api/events_sql.h"
#include "api/instants.h"
#include "api/series.h"

/* clang-format off */

/* An event of a visit (sql/013) is the visit's to write: the upsert
 * leaves it alone, and the answer says 'visit' for it (import.c refuses
 * the VEVENT), so re-importing an export of the org's own feed cannot
 * rewrite a visit's items round the visit. */

/* The columns an import owns. Visibility is written only towards
 * private: CLASS:PRIVATE or CONFIDENTIAL makes an event private, a file
 * without it keeps what the API set. */
#define ICS_COLUMNS \
	"(kind, title, description, location, timezone, all_day, start_local, end_local," \
	" start_utc, end_utc, last_end_utc, rrule, exdates, rdates, status, tags, reminders, url," \
	" visibility)"
#define ICS_EXCLUDED \
	"(EXCLUDED.kind, EXCLUDED.title, EXCLUDED.description, EXCLUDED.location," \
	" EXCLUDED.timezone, EXCLUDED.all_day, EXCLUDED.start_local, EXCLUDED.end_local," \
	" EXCLUDED.start_utc, EXCLUDED.end_utc, EXCLUDED.last_end_utc, EXCLUDED.rrule," \
	" EXCLUDED.exdates, EXCLUDED.rdates, EXCLUDED.status, EXCLUDED.tags, EXCLUDED.reminders," \
	" EXCLUDED.url," \
	" CASE WHEN EXCLUDED.visibility = 'private' THEN 'private'" \
	"      ELSE events.visibility END)"
#define ICS_CURRENT \
	"(events.kind, events.title, events.description, events.location, events.timezone," \
	" events.all_day, events.start_local, events.end_local, events.start_utc, events.end_utc," \
	" events.last_end_utc, events.rrule, events.exdates, events.rdates, events.status," \
	" events.tags, events.reminders, events.url, events.visibility)"
#define ICS_UPDATE(also) \
	"DO UPDATE" \
	"   SET " ICS_COLUMNS " = " ICS_EXCLUDED "," \
	"       rdates_from = EXCLUDED.rdates_from," \
	"       " also \
	"       version = events.version + 1," \
	"       sequence = events.sequence + 1," \
	"       updated_at = now()," \
	"       cancelled_at = CASE WHEN EXCLUDED.status = 'cancelled'" \
	"                           THEN coalesce(events.cancelled_at, now()) END" \
	" WHERE " ICS_CURRENT " IS DISTINCT FROM " ICS_EXCLUDED \
	"   AND events.visit_id IS NULL" \
	" RETURNING id, xmax = 0 AS created"
#define ICS_ANSWER(unchanged_where) \
	"SELECT id::text, CASE WHEN created THEN 'created' ELSE 'updated' END" \
	"  FROM up " \
	"UNION ALL " \
	"SELECT id::text, CASE WHEN visit_id IS NULL THEN 'unchanged' ELSE 'visit' END" \
	"  FROM events" \
	" WHERE " unchanged_where \
	"   AND NOT EXISTS (SELECT 1 FROM up)"

/* A series (or single event) of org $1 by UID $28, with EV_VALUES. A
 * series (a rule or RDATEs, $15 $17) takes over the single events made of
 * its overrides before it was known (orphan_of, sql/026): they become
 * made of one of its overrides (split_from), and this file cancels those
 * it does not give (SQL_IMPORT_SPLIT_GONE). Not a visit's event, which
 * the upsert leaves alone. $29: the instants its overrides may take as
 * they follow it (series_hints of SQL_IMPORT_LOCALS, sql/029), or NULL. */
#define SQL_IMPORT_SERIES \
	"WITH up AS (" \
	"  INSERT INTO events (org_id, uid, " EV_COLUMNS ")" \
	"  SELECT $1::uuid, $28::text, " EV_VALUES \
	"   WHERE " INSTANTS_SET("$29") \
	"  ON CONFLICT (org_id, uid) WHERE series_id IS NULL " ICS_UPDATE("") "), " \
	"adopt AS (" \
	"  UPDATE events o" \
	"     SET split_from = s.id" \
	"    FROM (SELECT id FROM up" \
	"          UNION ALL" \
	"          SELECT id" \
	"            FROM events" \
	"           WHERE org_id = $1::uuid" \
	"             AND uid = $28::text" \
	"             AND series_id IS NULL" \
	"             AND visit_id IS NULL" \
	"             AND NOT EXISTS (SELECT 1 FROM up)) s" \
	"   WHERE o.org_id = $1::uuid" \
	"     AND o.orphan_of = $28::text" \
	"     AND o.split_from IS NULL" \
	"     AND ($15::text IS NOT NULL OR coalesce(jsonb_array_length($17::jsonb), 0) > 0)) " \
	ICS_ANSWER("org_id = $1::uuid AND uid = $28::text AND series_id IS NULL")

/* An override of series $18 at recurrence id $19; $29 whether it stands
 * as its file gives it (sql/024: file_version), which one found so
 * already is marked (mark: the upsert leaves it alone). */
#define SQL_IMPORT_OVERRIDE \
	"WITH up AS (" \
	"  INSERT INTO events (org_id, uid, file_version, " EV_COLUMNS ")" \
	"  VALUES ($1::uuid, $28::text, CASE WHEN $29::boolean THEN 1 END, " EV_VALUES ")" \
	"  ON CONFLICT (series_id, recurrence_id) WHERE series_id IS NOT NULL " \
	ICS_UPDATE("file_version = CASE WHEN $29::boolean THEN events.version + 1 END,") "), " \
	"mark AS (" \
	"  UPDATE events" \
	"     SET file_version = CASE WHEN $29::boolean THEN version END" \
	"   WHERE series_id = $18::uuid" \
	"     AND recurrence_id = $19::timestamp" \
	"     AND visit_id IS NULL" \
	"     AND file_version IS DISTINCT FROM CASE WHEN $29::boolean THEN version END" \
	"     AND NOT EXISTS (SELECT 1 FROM up)) " \
	ICS_ANSWER("series_id = $18::uuid AND recurrence_id = $19::timestamp")

/* A single event made of an override: as SQL_IMPORT_SERIES, standing as
 * its file gives it (sql/024: file_version), column col ($29, of type
 * type) naming what it was to override, and column other cleared. */
#define IMPORT_SINGLE_OF(col, type, other) \
	"WITH up AS (" \
	"  INSERT INTO events (org_id, uid, " col ", file_version, " EV_COLUMNS ")" \
	"  VALUES ($1::uuid, $28::text, $29::" type ", 1, " EV_VALUES ")" \
	"  ON CONFLICT (org_id, uid) WHERE series_id IS NULL " \
	ICS_UPDATE(col " = $29::" type ", " other " = NULL, file_version = events.version + 1,") "), " \
	"mark AS (" \
	"  UPDATE events" \
	"     SET " col " = $29::" type "," \
	"         " other " = NULL," \
	"         file_version = version" \
	"   WHERE org_id = $1::uuid" \
	"     AND uid = $28::text" \
	"     AND series_id IS NULL" \
	"     AND visit_id IS NULL" \
	"     AND (file_version IS DISTINCT FROM version" \
	"          OR " col " IS DISTINCT FROM $29::" type \
	"          OR " other " IS NOT NULL)" \
	"     AND NOT EXISTS (SELECT 1 FROM up)) " \
	ICS_ANSWER("org_id = $1::uuid AND uid = $28::text AND series_id IS NULL")

/* Of an override of series $29 that cannot be one (of the other kind, or
 * no occurrence of it; sql/024). */
#define SQL_IMPORT_SPLIT IMPORT_SINGLE_OF("split_from", "uuid", "orphan_of")

/* Of an override of UID $29, of which there is no series yet (sql/026). */
#define SQL_IMPORT_ORPHAN IMPORT_SINGLE_OF("orphan_of", "text", "split_from")

/* The master of an override (org $1, UID $2): what it takes to expand it. */
#define SQL_IMPORT_MASTER \
	"SELECT e.id," \
	"       e.timezone," \
	"       e.all_day," \
	"       " EV_LOCAL("e.start_local") "," \
	"       e.rrule," \
	"       " EV_LOCAL_LIST("e.exdates") "::text," \
	"       " EV_LOCAL_LIST("e.rdates") "::text" \
	"  FROM events e" \
	" WHERE e.org_id = $1::uuid" \
	"   AND e.uid = $2::text" \
	"   AND e.series_id IS NULL"

/* The wall times of the overrides of org $1's master with UID $2
 * (SERIES_LOCALS); no row when there is no such master. */
#define SQL_IMPORT_LOCALS \
	"SELECT " SERIES_LOCALS("e") \
	"  FROM events e" \
	" WHERE e.org_id = $1::uuid" \
	"   AND e.uid = $2::text" \
	"   AND e.series_id IS NULL"

/* The overrides of series $1 that a change of its occurrences concerns,
 * and the statement that cancels those listed in $2 and restores those
 * listed in $3. */
#define SQL_IMPORT_OVERRIDES_OF \
	"SELECT " SERIES_OVERRIDES("e") \
	"  FROM events e" \
	" WHERE e.id = $1::uuid"

#define SQL_IMPORT_SETTLE \
	"WITH e AS (" \
	"  SELECT *" \
	"    FROM events" \
	"   WHERE id = $1::uuid), " \
	SERIES_ORPHANS("e", "$2", "$3") " " \
	"SELECT (SELECT count(*) FROM g), (SELECT count(*) FROM b)"

/* The overrides of the series $1 (an array) that stand as a file gave
 * them (sql/024), at most $2: series id and recurrence id, as the import
 * places RECURRENCE-IDs (EV_LOCAL). */
#define SQL_IMPORT_STALE \
	"SELECT e.series_id," \
	"       " EV_LOCAL("e.recurrence_id") \
	"  FROM events e" \
	" WHERE e.series_id = ANY ($1::uuid[])" \
	"   AND e.file_version = e.version" \
	"   AND e.visit_id IS NULL" \
	" ORDER BY e.series_id, e.recurrence_id" \
	" LIMIT $2::integer"

/* The single events made of overrides of the series $1 (an array) that
 * stand as a file gave them and that this import did not write (UIDs $2):
 * cancelled, at most $3, and no longer the file's; with the series' UID
 * of those made before the series was known (sql/026). */
#define SQL_IMPORT_SPLIT_GONE \
	"UPDATE events" \
	"   SET status = 'cancelled'," \
	"       version = version + 1," \
	"       sequence = sequence + 1," \
	"       updated_at = now()," \
	"       file_version = NULL" \
	" WHERE id IN (SELECT id" \
	"                FROM events" \
	"               WHERE split_from = ANY ($1::uuid[])" \
	"                 AND file_version = version" \
	"                 AND status <> 'cancelled'" \
	"                 AND visit_id IS NULL" \
	"                 AND uid <> ALL ($2::text[])" \
	"               LIMIT $3::integer)" \
	" RETURNING id::text, uid, orphan_of"

/* clang-format on */

#endif
