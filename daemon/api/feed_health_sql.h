/* feed_health_sql.h - the statements of a feed's health: the fetches a
 * worker writes in batches (api/feed_fetches.c), and what
 * GET /v1/feeds and /v1/feeds/{id} (api/feeds.c, api/feed_health.c) say
 * of them. f is feeds, s its feed_state (sql/009, sql/014). */
#ifndef LIAISON_FEED_HEALTH_SQL_H
#define LIAISON_FEED_HEALTH_SQL_H

#include "core/event_sql.h"

/* clang-format off */

/* A batch of fetches, as parallel arrays: token hash $1, number of fetches
 * $2, the last one's time $3 (Unix microseconds), kind of client $4, status $5
 * and bytes $6. A hash is a feed's token or one it had before a rotation;
 * others (unknown tokens) are dropped. Each feed's last fetch per kind of
 * client is kept, a later one winning whichever instance writes first;
 * fetches are counted in ten-minute steps and steps older than two days
 * go. Rows are written in (feed, client) and (feed, step) order, so two
 * instances writing at once take their locks in the same order. */
#define SQL_FEED_FETCHES_WRITE \
	"WITH b AS MATERIALIZED (" \
	"  SELECT coalesce(f.id, t.feed_id) AS feed_id," \
	"         x.fetches," \
	"         to_timestamp(x.at / 1000000.0) AS at," \
	"         x.client," \
	"         x.status," \
	"         x.bytes" \
	"    FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::integer[]," \
	"                $6::bigint[]) AS x (hash, fetches, at, client, status, bytes)" \
	"    LEFT JOIN feeds f ON f.token_hash = x.hash" \
	"    LEFT JOIN feed_old_tokens t ON t.token_hash = x.hash" \
	"   WHERE f.id IS NOT NULL OR t.feed_id IS NOT NULL), " \
	"latest AS (" \
	"  INSERT INTO feed_fetches (feed_id, client, at, status, bytes)" \
	"  SELECT DISTINCT ON (feed_id, client) feed_id, client, at, status, bytes" \
	"    FROM b" \
	"   ORDER BY feed_id, client, at DESC" \
	"  ON CONFLICT (feed_id, client) DO UPDATE" \
	"     SET at = excluded.at," \
	"         status = excluded.status," \
	"         bytes = excluded.bytes" \
	"   WHERE feed_fetches.at <= excluded.at), " \
	"counted AS (" \
	"  INSERT INTO feed_fetch_counts (feed_id, slot, fetches)" \
	"  SELECT feed_id, date_bin('10 minutes', at, timestamptz '2000-01-01 00:00Z'), sum(fetches)" \
	"    FROM b" \
	"   GROUP BY 1, 2" \
	"   ORDER BY 1, 2" \
	"  ON CONFLICT (feed_id, slot) DO UPDATE" \
	"     SET fetches = feed_fetch_counts.fetches + excluded.fetches) " \
	"DELETE FROM feed_fetch_counts" \
	" WHERE feed_id IN (SELECT feed_id FROM b)" \
	"   AND slot < now() - interval '2 days'"

/* The last fetch of feed f by any client, or null. */
#define FEED_LAST_FETCH \
	"(SELECT jsonb_build_object(" \
	"          'at', " EV_UTC("x.at") "," \
	"          'client', x.client," \
	"          'status', x.status," \
	"          'bytes', x.bytes)" \
	"   FROM feed_fetches x" \
	"  WHERE x.feed_id = f.id" \
	"  ORDER BY x.at DESC, x.client" \
	"  LIMIT 1)"

/* Its last fetch by each kind of client that fetched it: {"google": {...}}. */
#define FEED_FETCHED_BY \
	"coalesce((SELECT jsonb_object_agg(x.client, jsonb_build_object(" \
	"                   'at', " EV_UTC("x.at") "," \
	"                   'status', x.status," \
	"                   'bytes', x.bytes))" \
	"            FROM feed_fetches x" \
	"           WHERE x.feed_id = f.id), '{}'::jsonb)"

/* Its fetches in the last 24 hours, counted in ten-minute steps (the steps
 * that began in them). */
#define FEED_FETCHES_24H \
	"(SELECT coalesce(sum(c.fetches), 0)" \
	"   FROM feed_fetch_counts c" \
	"  WHERE c.feed_id = f.id" \
	"    AND c.slot >= now() - interval '24 hours')"

/* What an admin should know, in plain words (no "%": statements with
 * this go through printf): over 1 MB (Google Calendar
 * drops a subscription that large without a word), never fetched, and,
 * when the time of the last change is given (changed, an instant or
 * NULL), changed more than 24 hours ago and not fetched since. */
#define FEED_WARNINGS(changed) \
	"(SELECT coalesce(jsonb_agg(w.text ORDER BY w.n), '[]'::jsonb)" \
	"   FROM (SELECT 1 AS n, 'over 1 MB: Google Calendar drops subscriptions this large" \
	" without a word; narrow the filter or the window (past_days, future_days), or serve it" \
	" gzipped' AS text" \
	"          WHERE s.size_bytes > 1048576" \
	"         UNION ALL" \
	"         SELECT 2, 'never fetched: no calendar app has asked for this feed yet; give" \
	" subscribers its subscribe page (its URL without .ics)'" \
	"          WHERE NOT EXISTS (SELECT 1 FROM feed_fetches x WHERE x.feed_id = f.id)" \
	"         UNION ALL" \
	"         SELECT 3, 'changed at ' || " EV_UTC("t.changed") " || ', more than 24 hours" \
	" ago, and not fetched since (last fetch at ' || " EV_UTC("t.fetched") " || '):" \
	" calendar apps that subscribed may have stopped asking for it; Google Calendar polls" \
	" every 8 to 24 hours, and gives up on a feed it could not read'" \
	"           FROM (SELECT " changed " AS changed," \
	"                        (SELECT max(x.at) FROM feed_fetches x WHERE x.feed_id = f.id) AS fetched) t" \
	"          WHERE t.changed > t.fetched" \
	"            AND t.changed < now() - interval '24 hours') w)"

/* A feed's health, changed the time of its last change as far as the
 * answer knows it: the list's knows its settings' and its rendered bytes'
 * (api/feeds_sql.h); GET /v1/feeds/{id} also looks at its items. */
#define FEED_HEALTH_JSON(changed) \
	"jsonb_build_object(" \
	"  'last_fetch', " FEED_LAST_FETCH "," \
	"  'fetched_by', " FEED_FETCHED_BY "," \
	"  'fetches_24h', " FEED_FETCHES_24H "," \
	"  'warnings', " FEED_WARNINGS(changed) ")"

/* Feed $1 of org $2, as feed_select_sql wants it (FEED_LOOKUP_COLS and
 * the others named here are api/feeds_sql.h's, which includes this file). */
#define SQL_FEED_HEALTH_LOOKUP \
	FEED_LOOKUP_COLS \
	FEED_LOOKUP_FROM \
	" WHERE f.id = $1::uuid" \
	"   AND f.org_id = $2::uuid" \
	"   AND f.revoked_at IS NULL"

/* After the feed's selection (the CTEs m and f: feed_select_sql), feed $n
 * as the list gives it, with its warnings made knowing the time of
 * its last change: of its settings, of its rendered bytes (feed_state:
 * an item left it, or aged out), or of an item it shows (the item, the
 * cancelled occurrences of a series, an agreement shown with it). */
#define SQL_FEED_HEALTH_ANSWER \
	"SELECT (" FEED_JSON " || " FEED_STATE_JSON " || jsonb_build_object('warnings', " \
	FEED_WARNINGS("greatest(s.changed_at, f.updated_at, (" \
	"  SELECT max(greatest(e.updated_at, e.series_changed_at," \
	"                      (SELECT a.updated_at FROM agreements a WHERE a.id = e.agreement_id)))" \
	"    FROM events e" \
	"   WHERE e.id IN (SELECT sel.id FROM f sel)))") "))::text" \
	"  FROM feeds f" \
	"  LEFT JOIN feed_state s ON s.feed_id = f.id" \
	" WHERE f.id = $%d::uuid"

/* clang-format on */

#endif
