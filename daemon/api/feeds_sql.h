/* feeds_sql.h - the statements of /v1/feeds (api/feeds.c) and of the feed
 * itself (api/feed_serve.c). f is feeds, s its feed_state (what the last
 * rendering found), e events. */
#ifndef LIAISON_FEEDS_SQL_H
#define LIAISON_FEEDS_SQL_H

#include "api/feed_health_sql.h"
#include "api/filters.h"
#include "api/occurrences_sql.h"
#include "core/event_sql.h"
#include "core/vevents_sql.h"

/* clang-format off */

/* A feed's representation (never its token). */
#define FEED_JSON \
	"jsonb_build_object(" \
	"  'id', f.id," \
	"  'name', f.name," \
	"  'filter', f.filter," \
	"  'alarms', f.alarms," \
	"  'mode', f.mode," \
	"  'past_days', f.past_days," \
	"  'future_days', f.future_days," \
	"  'language', f.language," \
	"  'created_at', " EV_UTC("f.created_at") ")"
/* With what the last rendering found (feed_state s): its size, its number
 * of items, when it was rendered and its bytes last changed; and its
 * health (api/feed_health_sql.h): who fetched it, how often, and what an
 * admin should know, knowing of changes those of its settings and of its
 * rendered bytes (GET /v1/feeds/{id} looks at its items too). */
#define FEED_STATE_JSON \
	"jsonb_build_object(" \
	"  'size_bytes', s.size_bytes," \
	"  'events', s.events," \
	"  'rendered_at', " EV_UTC("s.rendered_at") "," \
	"  'changed_at', " EV_UTC("s.changed_at") ") || " \
	FEED_HEALTH_JSON("greatest(s.changed_at, f.updated_at)")

/* A feed of org $1: name $2, token hash $3, filter $4, alarms $5, window
 * $6 and $7, mode $8, language $9. Orgs named by the filter must exist:
 * the write is skipped otherwise and the answer names the member (orgs or
 * partners). */
#define SQL_FEED_CREATE \
	"WITH " FILTER_MISSING_ORGS("$4") ", " \
	"f AS (" \
	"  INSERT INTO feeds (org_id, name, token_hash, filter, alarms, past_days, future_days," \
	"                     mode, language)" \
	"  SELECT $1::uuid, $2::text, $3::text, $4::jsonb, $5::boolean, $6::integer, $7::integer," \
	"         $8::text, $9::text" \
	"   WHERE (SELECT k FROM missing) IS NULL" \
	"  RETURNING *) " \
	"SELECT (SELECT " FEED_JSON "::text FROM f)," \
	"       (SELECT k FROM missing)"

/* A new token hash $3 for feed $2 of org $1, answered as a create is. */
#define SQL_FEED_ROTATE \
	"WITH f AS (" \
	"  UPDATE feeds" \
	"     SET token_hash = $3::text," \
	"         updated_at = now()" \
	"   WHERE id = $2::uuid" \
	"     AND org_id = $1::uuid" \
	"     AND revoked_at IS NULL" \
	"  RETURNING *) " \
	"SELECT " FEED_JSON "::text, NULL" \
	"  FROM f"

/* The feeds of org $1. */
#define SQL_FEED_LIST \
	"SELECT (" FEED_JSON " || " FEED_STATE_JSON ")::text" \
	"  FROM feeds f" \
	"  LEFT JOIN feed_state s ON s.feed_id = f.id" \
	" WHERE f.org_id = $1::uuid" \
	"   AND f.revoked_at IS NULL" \
	" ORDER BY f.created_at, f.id"

/* A merge patch of feed $1 of org $2, of the members given ($3..: a flag
 * per member, then its value); orgs the filter names must exist, as at
 * creation; a mode $13 (or NULL) must be the feed's (the third column
 * says it is not); $14 and $15 the language. */
#define SQL_FEED_PATCH \
	"WITH " FILTER_MISSING_ORGS("$6") ", " \
	"f AS (" \
	"  UPDATE feeds" \
	"     SET name = CASE WHEN $3::boolean THEN $4::text ELSE name END," \
	"         filter = CASE WHEN $5::boolean THEN $6::jsonb ELSE filter END," \
	"         alarms = CASE WHEN $7::boolean THEN $8::boolean ELSE alarms END," \
	"         past_days = CASE WHEN $9::boolean THEN $10::integer ELSE past_days END," \
	"         future_days = CASE WHEN $11::boolean THEN $12::integer ELSE future_days END," \
	"         language = CASE WHEN $14::boolean THEN $15::text ELSE language END," \
	"         updated_at = now()" \
	"   WHERE id = $1::uuid" \
	"     AND org_id = $2::uuid" \
	"     AND revoked_at IS NULL" \
	"     AND (SELECT k FROM missing) IS NULL" \
	"     AND mode = coalesce($13::text, mode)" \
	"  RETURNING *), " \
	"other_mode AS (" \
	"  SELECT 1" \
	"    FROM feeds" \
	"   WHERE id = $1::uuid" \
	"     AND org_id = $2::uuid" \
	"     AND revoked_at IS NULL" \
	"     AND mode <> $13::text) " \
	"SELECT (SELECT (" FEED_JSON " || " FEED_STATE_JSON ")::text" \
	"          FROM f" \
	"          LEFT JOIN feed_state s ON s.feed_id = f.id)," \
	"       (SELECT k FROM missing)," \
	"       EXISTS (SELECT 1 FROM other_mode)" \
	" WHERE EXISTS (SELECT 1 FROM f)" \
	"    OR (SELECT k FROM missing) IS NOT NULL" \
	"    OR EXISTS (SELECT 1 FROM other_mode)"


/* Feed $1 of org $2 revoked. */
#define SQL_FEED_DELETE \
	"UPDATE feeds" \
	"   SET revoked_at = now()" \
	" WHERE id = $1::uuid" \
	"   AND org_id = $2::uuid" \
	"   AND revoked_at IS NULL" \
	" RETURNING id"

/* A feed, its window, what it rendered to last (feed_state), its mode,
 * its org's name and its language: the columns api/feed_select.h names
 * (FL_ID...), then the tables. */
#define FEED_LOOKUP_COLS \
	"SELECT f.id," \
	"       f.name," \
	"       f.filter::text," \
	"       f.alarms," \
	"       f.org_id," \
	"       o.slug," \
	"       extract(epoch FROM f.updated_at)::bigint," \
	"       f.past_days," \
	"       f.future_days," \
	"       s.digest," \
	"       floor(extract(epoch FROM s.changed_at))::bigint," \
	"       f.mode," \
	"       o.name," \
	"       f.language"
#define FEED_LOOKUP_FROM \
	"  FROM feeds f" \
	"  JOIN orgs o ON o.id = f.org_id" \
	"  LEFT JOIN feed_state s ON s.feed_id = f.id"
/* The feed of token hash $1. */
#define SQL_FEED_LOOKUP \
	FEED_LOOKUP_COLS \
	FEED_LOOKUP_FROM \
	" WHERE f.token_hash = $1" \
	"   AND f.revoked_at IS NULL"

/* The feed's events, in pieces (feed_serve.c's fetch_events): m, the
 * single events and series the feed shows, with their stamps for the
 * feed's language ($lang), visible to org $me (slug $slug) in the window
 * back to $past days; a series is shown when it is
 * in the window itself, or when one of its live overrides is (a last
 * meeting put off past the series' end, one kept while the series was
 * cancelled). SQL_FEED_AHEAD bounds the window ahead; the filters'
 * conditions follow the overrides' subquery, closed by "))". */
#define SQL_FEED_EVENTS_SHOWN "WITH " SQL_FEED_M(VEVENT_STAMP_IN("$%d::text") " AS stamp")
/* m with columns cols after id and start_utc (their parameters first). */
#define SQL_FEED_M(cols) \
	"m AS MATERIALIZED (" \
	"  SELECT e.id, e.start_utc, " cols \
	"    FROM events e" \
	"    JOIN orgs o ON o.id = e.org_id" \
	"   WHERE e.series_id IS NULL" \
	"     AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text") \
	"     AND ((" VEVENT_SHOWN("$%d::integer * interval '1 day'")
#define SQL_FEED_AHEAD(t) \
	" AND " t ".first_utc < (SELECT now() + $%d::integer * interval '1 day')"
#define SQL_FEED_EVENTS_OVERRIDDEN \
	"          ) OR (e.rrule IS NOT NULL OR cardinality(e.rdates) > 0) AND e.id IN (" \
	"            SELECT x.series_id" \
	"              FROM events x" \
	"             WHERE x.series_id IS NOT NULL" \
	"               AND x.status <> 'cancelled'" \
	"               AND x.last_end_utc > (SELECT now() - $%d::integer * interval '1 day')"
/* m's events and the live overrides of its series (a cancelled one is its
 * master's EXDATE): x(id, start_utc, stamp). */
#define SQL_FEED_EVENTS_LIVE \
	"(SELECT id, start_utc, stamp" \
	"   FROM m" \
	" UNION ALL" \
	" SELECT e.id, e.start_utc, " VEVENT_STAMP \
	"   FROM events e" \
	"  WHERE e.series_id IN (SELECT id FROM m)" \
	"    AND e.status <> 'cancelled') x"
/* Then f: those numbered in feed order; the statement goes on with more of
 * its own (a SELECT, or more common table expressions). */
#define SQL_FEED_EVENTS_ORDERED \
	"   ORDER BY e.start_utc, e.id" \
	"   LIMIT 50000), " \
	"f AS MATERIALIZED (" \
	"  SELECT x.id, x.stamp, NULL::text AS body, NULL::text AS zone," \
	"         row_number() OVER (ORDER BY x.start_utc, x.id) AS pos" \
	"    FROM " SQL_FEED_EVENTS_LIVE ") "
/* The events a feed lacks, to render ($1: their ids; $2 the feed's
 * language, or NULL). */
#define SQL_FEED_MISSING VEVENT_SELECT_FROM("$2::text", VEVENT_EVENTS_BY_ID("$1::uuid[]"))

/* What a rendering of feed $1 found: its digest $2, size $3, number of
 * events $4, and since when $5. The first writer of a digest keeps its
 * time, so instances that render the same change agree on it. */
#define SQL_FEED_STATE \
	"INSERT INTO feed_state (feed_id, digest, size_bytes, events, changed_at, rendered_at)" \
	"     VALUES ($1::uuid, $2::text, $3::bigint, $4::integer, to_timestamp($5::bigint), now())" \
	" ON CONFLICT (feed_id) DO UPDATE" \
	"        SET digest = excluded.digest," \
	"            size_bytes = excluded.size_bytes," \
	"            events = excluded.events," \
	"            changed_at = excluded.changed_at," \
	"            rendered_at = excluded.rendered_at" \
	"      WHERE feed_state.digest <> excluded.digest"

/* The same for a feed whose body says when its content last changed (a
 * VFREEBUSY's DTSTAMP): $2 is its content's digest, and the database says
 * since when, so that every instance writes the same bytes: the second
 * the content first appeared (now, or the second after the last change if
 * that took this one), as Unix seconds. No row when this digest is there
 * already (another instance wrote it first): SQL_FEED_STATE_SINCE. */
#define SQL_FEED_STATE_DATED \
	"INSERT INTO feed_state (feed_id, digest, size_bytes, events, changed_at, rendered_at)" \
	"     VALUES ($1::uuid, $2::text, $3::bigint, $4::integer," \
	"             date_trunc('second', statement_timestamp()), now())" \
	" ON CONFLICT (feed_id) DO UPDATE" \
	"        SET digest = excluded.digest," \
	"            size_bytes = excluded.size_bytes," \
	"            events = excluded.events," \
	"            changed_at = greatest(excluded.changed_at," \
	"                                  feed_state.changed_at + interval '1 second')," \
	"            rendered_at = excluded.rendered_at" \
	"      WHERE feed_state.digest <> excluded.digest" \
	" RETURNING floor(extract(epoch FROM changed_at))::bigint"
#define SQL_FEED_STATE_SINCE \
	"SELECT floor(extract(epoch FROM changed_at))::bigint" \
	"  FROM feed_state" \
	" WHERE feed_id = $1::uuid" \
	"   AND digest = $2::text"

/* A free/busy feed's rows (api/feed_freebusy.c): the series and single
 * events whose time counts, and their overrides, as /v1/occurrences reads
 * them (OCC_COLUMNS, without titles), each with whether it passes the
 * feed's filter (an override moved to another venue is not that venue's
 * time). What counts: what the whole network may see, and the feed's own
 * org's private items ($me); never another org's private item, even one
 * the feed's org may see as a partner: the URL is made to be handed out,
 * and two orgs' free/busy side by side must not tell a private meeting
 * between them. Cancelled items and deadlines (a due date is not time
 * taken) do not count. The window is [$from, $to) in Unix seconds; each
 * piece of the filter's conditions (filters_feed_sql) follows the piece
 * named for it. */
#define FREEBUSY_COUNTS(t) \
	"(" t ".visibility = 'network' OR " t ".org_id = $%d::uuid)" \
	" AND " t ".status <> 'cancelled'" \
	" AND " t ".kind <> 'deadline'" \
	" AND tstzrange(" t ".first_utc, " t ".last_end_utc, '[]')" \
	"     && tstzrange(to_timestamp($%d::bigint), to_timestamp($%d::bigint))"
/* Series and single events in the window (me, from, to; conditions); the
 * window's test is events_span's (027), so the GiST index can serve it. */
#define SQL_FREEBUSY_SERIES \
	"WITH cand AS (" \
	"  (SELECT e.*" \
	"     FROM events e" \
	"     JOIN orgs o ON o.id = e.org_id" \
	"    WHERE e.series_id IS NULL" \
	"      AND " FREEBUSY_COUNTS("e")
/* and series with an override in it (a limit; me, from, to; conditions) */
#define SQL_FREEBUSY_MOVED_IN \
	"    LIMIT %d)" \
	"  UNION ALL" \
	"  (SELECT s.*" \
	"     FROM events s" \
	"    WHERE s.status <> 'cancelled'" \
	"      AND s.id IN (" \
	"        SELECT e.series_id" \
	"          FROM events e" \
	"          JOIN orgs o ON o.id = e.org_id" \
	"         WHERE e.series_id IS NOT NULL" \
	"           AND " FREEBUSY_COUNTS("e")
/* then the rows, each once, with its overrides (a limit; conditions,
 * SQL_FREEBUSY_OVERRIDES, conditions, SQL_FREEBUSY_END). */
#define SQL_FREEBUSY_ROWS \
	"         LIMIT %d))), " \
	"c AS (" \
	"  SELECT DISTINCT ON (id) *" \
	"    FROM cand) " \
	"SELECT " OCC_COLUMNS_TITLED("NULL::text") "," \
	"       (true"
#define SQL_FREEBUSY_OVERRIDES \
	"       )" \
	"  FROM c e" \
	"  JOIN orgs o ON o.id = e.org_id " \
	"UNION ALL " \
	"SELECT " OCC_COLUMNS_TITLED("NULL::text") "," \
	"       (true"
#define SQL_FREEBUSY_END \
	"       )" \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.series_id IN (SELECT id FROM c)"

/* clang-format on */

#endif
