/* feed_rows_sql.h - how a feed (api/feed_serve.c) reads its events: m
 * (feeds_sql.h) and its series' live overrides, ordered by the statement
 * (no f: it would sort and number them again), each row with what a
 * splice needs (api/feed_list.h): its series root and the time it may
 * leave the window, after a first row that says what the rows were read
 * under. A splice reads the same rows of the few families written since
 * (SQL_FEED_TOUCHED). While the VEVENT cache holds little, the stored
 * texts come by a statement of their own beside the list. */
#ifndef LIAISON_FEED_ROWS_SQL_H
#define LIAISON_FEED_ROWS_SQL_H

#include "api/feeds_sql.h"

/* clang-format off */

/* The list's m (feed_select_list_sql): SQL_FEED_EVENTS_SHOWN's, with what
 * says when each may leave the window as time passes (FEED_ENDS). */
#define SQL_FEED_EVENTS_LISTED \
	SQL_FEED_M(VEVENT_STAMP_IN("$%d::text") " AS stamp, " FEED_ENDS("$%d::integer") " AS ends, " \
	           FEED_KEPT " AS kept")

/* As Unix seconds: the row's last end, which leaves a window of past days
 * at ends + past days; and for a cancelled item, the time its 30 days
 * count from (VEVENT_SHOWN). Plain numbers: the thresholds are worked out
 * by api/feed_list.c, where calendar arithmetic on every row (in the
 * session's zone) cost a cold feed of 10,000 events 15 ms of PostgreSQL's
 * time. NULL for a time that comes more than three hours from now: a list
 * is read whole again within FEED_TTL_MS, and only thresholds within two
 * hours of a splice count (most rows then send no number). */
#define FEED_ENDS(past) \
	"CASE WHEN e.last_end_utc < (SELECT now() + interval '3 hours' - " past " * interval '1 day')" \
	"     THEN date_part('epoch', e.last_end_utc) END"
#define FEED_KEPT \
	"CASE WHEN e.status = 'cancelled' AND e.series_id IS NULL" \
	"      AND " FEED_KEPT_FROM " < (SELECT now() + interval '3 hours' - interval '30 days')" \
	"     THEN date_part('epoch', " FEED_KEPT_FROM ") END"
/* As VEVENT_SHOWN counts them: an open series from its cancellation. */
#define FEED_KEPT_FROM \
	"greatest(e.cancelled_at," \
	"         CASE WHEN e.last_end_utc = 'infinity' THEN e.cancelled_at ELSE e.last_end_utc END)"

/* m's events and the live overrides of its series, as
 * SQL_FEED_EVENTS_LIVE, with each override's series root (the row of m it
 * comes with; NULL for m's own rows, their own roots, so that most rows
 * send no second id): x(id, start_utc, stamp, root, ends, kept). */
#define SQL_FEED_LIST_LIVE(in_m) \
	"(SELECT id, start_utc, stamp, NULL::uuid AS root, ends, kept" \
	"   FROM m" \
	" UNION ALL" \
	" SELECT e.id, e.start_utc, " VEVENT_STAMP ", e.series_id, " FEED_ENDS("$%d::integer") ", NULL" \
	"   FROM events e" \
	"  WHERE e.series_id " in_m \
	"    AND e.status <> 'cancelled') x"

/* After feed_select_list_sql (or _splice_sql): the feed's rows (id,
 * stamp, root, start as Unix seconds: a double, exact to the microsecond
 * for any date a feed holds; ends, kept) and a row without an id that says
 * what they were read under: the snapshot (as its stamp), the revisions no
 * row's change_xid tells of (org names, sql/015, and removed events,
 * sql/023) as "names.removed", how far ahead the window reached
 * (FEED_LIST_AHEAD, or NULL), and for a splice which roots it read again
 * (SQL_FEED_SPLICE_ROOTS; NULL for a full list). In no order: feed_list.c
 * puts them in feed order, which m's rows mostly have already. Sorting
 * them here again was 8 ms of a list of 10,000 (EXPLAIN ANALYZE: 31 ms
 * with the sort, 23 ms without). */
#define SQL_FEED_ROWS(in_m) \
	"SELECT x.id, x.stamp, x.root, date_part('epoch', x.start_utc), x.ends, x.kept," \
	"       NULL::text, NULL::text, NULL::text" \
	"  FROM " SQL_FEED_LIST_LIVE(in_m) \
	" UNION ALL " \
	"SELECT NULL, " FEED_SNAPSHOT ", NULL, NULL, NULL, NULL," \
	"       (SELECT rev FROM org_names) || '.' || (SELECT rev FROM events_removed), "
/* A full list's overrides, of all m's series: one pass over the overrides
 * and a hash of m; a splice's few, by index. */
#define FEED_ROWS_IN_M   "IN (SELECT id FROM m)"
#define FEED_SPLICE_IN_M "= ANY(ARRAY(SELECT id FROM m))"
/* The statement's snapshot, as pg_visible_in_snapshot takes it. On a hot
 * standby pg_current_snapshot() lists no transaction in progress (during
 * recovery they are all kept as subtransactions, which it leaves out), so
 * a transaction running there would count as seen: there, everything from
 * xmin on counts as unseen (every xid below it has been replayed). */
#define FEED_SNAPSHOT \
	"(SELECT CASE WHEN pg_is_in_recovery()" \
	"             THEN pg_snapshot_xmin(s) || ':' || pg_snapshot_xmin(s) || ':'" \
	"             ELSE s::text END" \
	"   FROM pg_current_snapshot() s)"
/* How far ahead the window reached, as Unix seconds (not a timestamp's
 * text, which DateStyle and TimeZone shape). */
#define FEED_LIST_AHEAD "date_part('epoch', (SELECT now() + $%d::integer * interval '1 day'))::text"
/* NULL, so that the list is read whole, when the database is behind the
 * snapshot $snap (its transactions all completed, the next id is past
 * them): put back to an earlier state of itself (a storage snapshot
 * restored, a standby promoted before it had every commit), it hands out
 * again ids that $snap has seen, and what they write would be taken for
 * seen. Once it has handed out as many again it cannot be told from the
 * same history; FEED_TTL_MS bounds the harm then. Not on a standby, whose
 * snapshot lags the primary's whatever happened (it learns of ids only
 * as it replays them): there the read floor (readfloor.h) keeps a splice
 * from going back. */
#define SQL_FEED_SPLICE_ROOTS \
	"(SELECT CASE WHEN pg_is_in_recovery()" \
	"               OR pg_snapshot_xmax($%d::pg_snapshot) <= pg_snapshot_xmax(pg_current_snapshot())" \
	"             THEN count(*) || ':' || coalesce(array_agg(root)::text, '{}') END" \
	"   FROM r)"
/* m's end in a list or a splice: no f. */
#define SQL_FEED_M_END \
	"   ORDER BY e.start_utc, e.id" \
	"   LIMIT 50000) "

/* A splice (feed_select_splice_sql) reads again, as m's roots r, the
 * families of the events and agreements written by what snapshot $snap
 * did not see, of the roots $near (whose thresholds come), and, for a
 * window that reaches ahead, of the events whose start it has reached
 * since $ahead. m and the overrides' subquery then keep to r. It runs by
 * its generic plan (feed_serve.c), where $snap's xmin is not known: the
 * bound below the current snapshot's xmax, true of every row it sees,
 * makes change_xid a range, which PostgreSQL then guesses holds a few
 * rows (0.5 %) rather than a third (EXPLAIN EXECUTE over 1,000,000
 * events: 3,332 rows guessed against 222,140; the index either way). */
#define FEED_CHANGED_SINCE(t) \
	t ".change_xid >= pg_snapshot_xmin($%d::pg_snapshot)" \
	" AND " t ".change_xid < pg_snapshot_xmax(pg_current_snapshot())" \
	" AND NOT pg_visible_in_snapshot(" t ".change_xid, $%d::pg_snapshot)"
#define SQL_FEED_TOUCHED \
	"r AS MATERIALIZED (" \
	"  SELECT coalesce(e.series_id, e.id) AS root" \
	"    FROM events e" \
	"   WHERE " FEED_CHANGED_SINCE("e") \
	"  UNION" \
	"  SELECT coalesce(e.series_id, e.id)" \
	"    FROM events e" \
	"   WHERE e.agreement_id = ANY(ARRAY(" \
	"           SELECT a.id" \
	"             FROM agreements a" \
	"            WHERE " FEED_CHANGED_SINCE("a") "))" \
	"  UNION" \
	"  SELECT unnest($%d::uuid[])"
#define SQL_FEED_ENTERED \
	"  UNION" \
	"  SELECT coalesce(e.series_id, e.id)" \
	"    FROM events e" \
	"   WHERE e.first_utc >= to_timestamp($%d::float8)" \
	"     AND e.first_utc < (SELECT now() + $%d::integer * interval '1 day')"
/* More than this many roots touched: the feed is read in full (the
 * statement's figure is the same). "= ANY", so that the few rows are found
 * by index, not by a scan of every event joined to r. */
#define FEED_SPLICE_MAX 2000
#define FEED_STR(x)     #x
#define FEED_XSTR(x)    FEED_STR(x)
#define SQL_FEED_IN_TOUCHED(t) \
	" AND " t " = ANY(ARRAY(SELECT root FROM r))" \
	" AND (SELECT count(*) FROM r) <= " FEED_XSTR(FEED_SPLICE_MAX)

/* feed_select_ids_sql's m: SQL_FEED_EVENTS_SHOWN's events without their
 * stamps (the language is theirs only: me, slug, past), then, after the
 * filters, SQL_FEED_IDS_LIMITED: at most as many, in no order (a feed of
 * more gets some of their texts, the others rendered). It should select
 * what SQL_FEED_EVENTS_SHOWN does; the list is SQL_FEED_EVENTS_SHOWN's,
 * so a difference would only cost renders, never bytes. */
#define SQL_FEED_IDS_SHOWN "WITH " SQL_FEED_M("NULL::text AS stamp")
#define SQL_FEED_IDS_LIMITED \
	"   LIMIT 50000) "

/* After feed_select_ids_sql: the stored texts, for alarms $n and renderer
 * $m, of SQL_FEED_EVENTS_LIVE's events, as rows (VEVENT_TEXT_COLS) in
 * no order; a text whose stamp is not its event's is out of date (the
 * caller skips it). Sent beside the list (SQL_FEED_ROWS) on
 * another connection when the VEVENT cache holds little: each statement
 * selects m, and the two run side by side, where one statement bringing
 * the list and the texts ran for both. "= ANY" for the reason SQL_VEVENTS_LOAD gives. */
#define SQL_FEED_TEXTS_LIVE \
	"SELECT " VEVENT_TEXT_COLS \
	"  FROM vevent_texts t" \
	" WHERE t.event_id = ANY(ARRAY(SELECT x.id FROM " SQL_FEED_EVENTS_LIVE "))" \
	"   AND t.alarms = $%d::boolean" \
	"   AND t.renderer = $%d::text"

/* clang-format on */

#endif
