/* feed_page_sql.h - the statements of a feed's subscribe page
 * (api/feed_page.c): the feed, then its items of the coming weeks, chosen
 * by the feed's own selection (api/feed_select.c). */
#ifndef LIAISON_FEED_PAGE_SQL_H
#define LIAISON_FEED_PAGE_SQL_H

#include "api/feeds_sql.h"
#include "api/occurrences_sql.h"

/* clang-format off */

/* The feed of token hash $1 as the feed itself reads it, and its owner's
 * zone and name (FL_NCOLS and the next column). */
#define SQL_FEED_PAGE_LOOKUP \
	FEED_LOOKUP_COLS "," \
	"       o.timezone," \
	"       o.name" \
	FEED_LOOKUP_FROM \
	" WHERE f.token_hash = $1" \
	"   AND f.revoked_at IS NULL"

/* After the feed's selection (the CTEs m and f): w, the events of m that
 * have an occurrence in [$from, $to) (Unix seconds), or one of whose live
 * overrides does, at most $max of them; then w's events and all their
 * overrides, cancelled ones too (the page shows a cancelled occurrence as
 * cancelled), with OCC_COLUMNS first (api/occ_expand.h) and the page's
 * own after them (PC_DESCRIPTION...; the partners by name, a JSON
 * array, or NULL). */
#define FEED_PAGE_COLUMNS \
	OCC_COLUMNS "," \
	" e.description," \
	" e.location," \
	" e.city," \
	" e.country," \
	" o.name," \
	" e.url," \
	" " VEVENT_ORG_NAMES("e.partners")
#define SQL_FEED_PAGE_ITEMS \
	", w AS MATERIALIZED (" \
	"  SELECT e.id" \
	"    FROM events e" \
	"   WHERE e.id IN (SELECT id FROM m)" \
	"     AND (e.first_utc < to_timestamp($%d::bigint)" \
	"          AND e.last_end_utc > to_timestamp($%d::bigint)" \
	"          OR EXISTS (SELECT 1" \
	"                       FROM events x" \
	"                      WHERE x.series_id = e.id" \
	"                        AND x.status <> 'cancelled'" \
	"                        AND x.first_utc < to_timestamp($%d::bigint)" \
	"                        AND x.last_end_utc > to_timestamp($%d::bigint)))" \
	"   ORDER BY e.first_utc, e.id" \
	"   LIMIT %d) " \
	"SELECT " FEED_PAGE_COLUMNS \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.id IN (SELECT id FROM w) " \
	"UNION ALL " \
	"SELECT " FEED_PAGE_COLUMNS \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.series_id IN (SELECT id FROM w)"

/* clang-format on */

#endif
