/* feed_rows_sql.h - how a feed (api/feed_serve.c) reads its events: the
 * rows of f (feed_select.h), but ordered by the statement rather than
 * numbered, with f itself left unreferenced (PostgreSQL then never
 * evaluates it). f materialises m once more, sorts it again and numbers
 * it by a window: as much work again as selecting m, once per rendering,
 * and a rendering follows every write under a mixed load. Same rows, same
 * order; the position is the row's. While the VEVENT cache holds little,
 * the stored texts come by a statement of their own beside it. */
#ifndef LIAISON_FEED_ROWS_SQL_H
#define LIAISON_FEED_ROWS_SQL_H

#include "api/feeds_sql.h"

/* clang-format off */

/* After feed_select_sql: SQL_FEED_EVENTS_LIVE's rows, id and stamp, in
 * feed order. */
#define SQL_FEED_ROWS_ORDERED \
	"SELECT x.id, x.stamp" \
	"  FROM " SQL_FEED_EVENTS_LIVE \
	" ORDER BY x.start_utc, x.id"

/* feed_select_ids_sql's m: SQL_FEED_EVENTS_SHOWN's events without their
 * stamps (the language is theirs only: me, slug, past), then, after the
 * filters, SQL_FEED_IDS_LIMITED: at most as many, in no order (a feed of
 * more gets some of their texts, the others rendered). It should select
 * what SQL_FEED_EVENTS_SHOWN does; the list is SQL_FEED_EVENTS_SHOWN's,
 * so a difference would only cost renders, never bytes. */
#define SQL_FEED_IDS_SHOWN \
	"WITH m AS MATERIALIZED (" \
	"  SELECT e.id, e.start_utc, NULL::text AS stamp" \
	"    FROM events e" \
	"    JOIN orgs o ON o.id = e.org_id" \
	"   WHERE e.series_id IS NULL" \
	"     AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text") \
	"     AND ((" VEVENT_SHOWN("$%d::integer * interval '1 day'")
#define SQL_FEED_IDS_LIMITED \
	"   LIMIT 50000) "

/* After feed_select_ids_sql: the stored texts, for alarms $n and renderer
 * $m, of SQL_FEED_EVENTS_LIVE's events, as rows (id, stamp, body, zone) in
 * no order; a text whose stamp is not its event's is out of date (the
 * caller skips it). Sent beside the list (SQL_FEED_ROWS_ORDERED) on
 * another connection when the VEVENT cache holds little: each statement
 * selects m, and the two run side by side, where one statement bringing
 * the list and the texts ran for both. "= ANY" for the reason SQL_VEVENTS_LOAD gives. */
#define SQL_FEED_TEXTS_LIVE \
	"SELECT t.event_id, t.stamp, t.body, t.zone" \
	"  FROM vevent_texts t" \
	" WHERE t.event_id = ANY(ARRAY(SELECT x.id FROM " SQL_FEED_EVENTS_LIVE "))" \
	"   AND t.alarms = $%d::boolean" \
	"   AND t.renderer = $%d::text"

/* clang-format on */

#endif
