/* occurrences_sql.h - the pieces of GET /v1/occurrences' query
 * (api/occurrences.c), put together with the filters' conditions. */
#ifndef LIAISON_OCCURRENCES_SQL_H
#define LIAISON_OCCURRENCES_SQL_H

#include "core/event_sql.h"

/* clang-format off */

/* The columns of a candidate (OCC_ID..OCC_RDATES below), its title given
 * as title (a free/busy feed's reads none). */
#define OCC_COLUMNS OCC_COLUMNS_TITLED("e.title")
#define OCC_COLUMNS_TITLED(title) \
	"e.id," \
	" e.series_id," \
	" " EV_LOCAL("e.recurrence_id") "," \
	" " title "," \
	" e.kind," \
	" e.status," \
	" e.timezone," \
	" e.all_day," \
	" " EV_LOCAL("e.start_local") "," \
	" " EV_LOCAL("e.end_local") "," \
	" e.rrule," \
	" " EV_LOCAL_LIST("e.exdates") "::text," \
	" " EV_LOCAL_LIST("e.rdates") "::text"

/* clang-format on */
enum occ_column {
	OCC_ID,
	OCC_SERIES,
	OCC_RID,
	OCC_TITLE,
	OCC_KIND,
	OCC_STATUS,
	OCC_TZ,
	OCC_ALLDAY,
	OCC_START,
	OCC_END,
	OCC_RRULE,
	OCC_EXDATES,
	OCC_RDATES,
	OCC_NCOLS
};
/* clang-format off */

/* Within "WITH cand AS (...": one half of the candidates (series that
 * started before the window and still run, and those that start in it:
 * two index-friendly halves), visible to org $me (slug $slug); the
 * filters' conditions, the half's bound and its LIMIT follow. */
#define SQL_OCC_CANDIDATES \
	"(SELECT e.*" \
	"   FROM events e" \
	"   JOIN orgs o ON o.id = e.org_id" \
	"  WHERE e.series_id IS NULL" \
	"    AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text")

/* And series whose occurrence an override moved into the window (from
 * $from), though the series itself is not in it (a last meeting put off
 * past the series' end, a first one brought forward): the filters apply
 * to the override, which is seen by whom its series is. */
#define SQL_OCC_MOVED_IN \
	" UNION ALL (" \
	"  SELECT s.*" \
	"    FROM events s" \
	"   WHERE s.id IN (" \
	"     SELECT e.series_id" \
	"       FROM events e" \
	"       JOIN orgs o ON o.id = e.org_id" \
	"      WHERE e.series_id IS NOT NULL" \
	"        AND e.status <> 'cancelled'" \
	"        AND e.last_end_utc > to_timestamp($%d::bigint)" \
	"        AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text")

/* Then (after the filters) each candidate once, and its overrides. */
#define SQL_OCC_ROWS \
	"      LIMIT %d))), " \
	"c AS (" \
	"  SELECT DISTINCT ON (id) *" \
	"    FROM cand) " \
	"SELECT " OCC_COLUMNS \
	"  FROM c e " \
	"UNION ALL " \
	"SELECT " OCC_COLUMNS \
	"  FROM events e" \
	" WHERE e.series_id IN (SELECT id FROM c)"

/* clang-format on */

#endif
