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

/* The candidates, by id: "WITH early AS " and "late AS " each followed
 * by this, the filters' conditions and the half's bound: series that started
 * before $lo (the window's start, or the cursor's time when it is later)
 * and still run there, and the events that start from $lo on in the
 * window (two index-friendly halves), visible to org $me (slug $slug),
 * with no join (a join with orgs was a fifth of the statement's planning
 * and running: pgbench -M simple over 1,000,000 events);
 * the filters' conditions and the half's bound and LIMIT follow. The
 * second half is the first %d by start only: no occurrence starts before
 * its event, so the occurrences that start before the last of them are
 * all known, and a page seldom needs more (the horizon below says how far
 * that is; more are asked for when the page is not full by then). */
#define SQL_OCC_CANDIDATES \
	"(SELECT e.*" \
	"   FROM events e" \
	"  WHERE e.series_id IS NULL" \
	"    AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text")
#define SQL_OCC_BEFORE_LO \
	" AND e.first_utc < to_timestamp($%d::bigint)" \
	" AND tstzrange(e.first_utc, e.last_end_utc, '[]') @> to_timestamp($%d::bigint)" \
	" AND e.last_end_utc >= to_timestamp($%d::bigint)" \
	" LIMIT %d), "
#define SQL_OCC_FROM_LO \
	" AND e.first_utc >= to_timestamp($%d::bigint)" \
	" ORDER BY e.first_utc, e.id" \
	" LIMIT %d), "

/* And series whose occurrence an override moved into the window (from
 * $from), though the series itself is not in it (a last meeting put off
 * past the series' end, a first one brought forward): the filters apply
 * to the override, which is seen by whom its series is. */
#define SQL_OCC_MOVED_IN \
	"moved AS (" \
	"  SELECT e.series_id AS id" \
	"    FROM events e" \
	"   WHERE e.series_id IS NOT NULL" \
	"     AND e.status <> 'cancelled'" \
	"     AND e.last_end_utc > to_timestamp($%d::bigint)" \
	"     AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text")

/* Then (after the filters) each candidate once (the halves are apart;
 * a series moved in may be in one of them), and its overrides; those that
 * start in the window first (they are expanded in this order, and a
 * long-running series is likelier to spend the budget); each row
 * ends with the horizon: the start (Unix seconds) of the last event of
 * the second half when it was cut at its LIMIT (%d), else NULL. */
#define SQL_OCC_ROWS \
	"      LIMIT %d), " \
	"hz AS (" \
	"  SELECT CASE WHEN count(*) >= %d" \
	"              THEN extract(epoch FROM max(first_utc))::bigint END AS h" \
	"    FROM late) " \
	"SELECT " OCC_COLUMNS ", hz.h" \
	"  FROM late e" \
	" CROSS JOIN hz " \
	"UNION ALL " \
	"SELECT " OCC_COLUMNS ", hz.h" \
	"  FROM early e" \
	" CROSS JOIN hz " \
	"UNION ALL " \
	"SELECT " OCC_COLUMNS ", hz.h" \
	"  FROM events e" \
	" CROSS JOIN hz" \
	" WHERE e.id IN (SELECT id FROM moved)" \
	"   AND e.id NOT IN (SELECT id FROM early)" \
	"   AND e.id NOT IN (SELECT id FROM late) " \
	"UNION ALL " \
	"SELECT " OCC_COLUMNS ", NULL" \
	"  FROM events e" \
	" WHERE e.series_id IN (" \
	"       SELECT id FROM early" \
	"       UNION ALL SELECT id FROM late" \
	"       UNION ALL SELECT id FROM moved)"

/* clang-format on */

#endif
