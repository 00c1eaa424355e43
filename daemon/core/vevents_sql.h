/* vevents_sql.h - the SQL of rendered VEVENTs (core/vevents.c): what a
 * VEVENT's text depends on (its stamp), which events feeds show, the rows
 * a rendering takes, and the stored texts (vevent_texts, 008). Shared by
 * the feeds (api/feeds_sql.h) and the warmer (jobs/scheduler_sql.h). */
#ifndef LIAISON_VEVENTS_SQL_H
#define LIAISON_VEVENTS_SQL_H

#include "core/event_sql.h"

/* clang-format off */

/* What a VEVENT's text depends on besides the event's own version: the
 * cancelled occurrences of a series (its EXDATEs; series_sequence counts
 * their changes, sql/009), its agreement, shown in the description, and
 * the names of the orgs it names (org_names.rev counts every rename,
 * sql/015; one row, read once per statement). Rows are stored under this
 * stamp. Most events have no agreement: for them the CASE spares a probe
 * of agreements per row of every feed's first query. */
#define VEVENT_STAMP \
	"e.version || '.' || e.series_sequence || '.' ||" \
	" CASE WHEN e.agreement_id IS NULL THEN 0" \
	"      ELSE coalesce((SELECT a.version FROM agreements a WHERE a.id = e.agreement_id), 0)" \
	" END || '.' ||" \
	" (SELECT n.rev FROM org_names n)"
/* The stamp of e's VEVENT in a feed that asks for language lang (text,
 * NULL for none): an event whose title has a text of its own there
 * (events.titles, sql/013) has "@" added; such a text is kept under
 * "id@lang" (feed_serve.c), apart from the one every other feed shares,
 * and never stored in vevent_texts. */
#define VEVENT_STAMP_IN(lang) \
	VEVENT_STAMP " || liaison_title_stamp(e.titles, " lang ", e.title)"

/* Whether a feed whose window reaches `past` back (an interval) shows e: a
 * cancelled item until 30 days after its last occurrence or its
 * cancellation, whichever is later (an open-ended series: after the
 * cancellation); a cancelled occurrence of a series never as an item of
 * its own, since its master carries it as an EXDATE for good. The bounds
 * are subqueries, computed once: "now() - interval '1 year'" in a filter
 * is worked out again for every row (calendar arithmetic in the session's
 * zone), which cost most of a large feed's scan. */
#define VEVENT_SHOWN(past) \
	"(e.status <> 'cancelled'" \
	" OR (e.series_id IS NULL" \
	"     AND greatest(e.cancelled_at," \
	"                  CASE WHEN e.last_end_utc = 'infinity' THEN e.cancelled_at" \
	"                       ELSE e.last_end_utc END)" \
	"         > (SELECT now() - interval '30 days')))" \
	" AND e.last_end_utc > (SELECT now() - " past ")"
/* The events feeds with the default window show (the background
 * renderer's work). */
#define VEVENT_IN_FEEDS VEVENT_SHOWN("interval '365 days'")

/* The names of the orgs of a slug array (a slug no org has stands for
 * itself), in the order a person looks them up (the array's own order is
 * no one's), as JSON text; NULL for an empty array. */
#define VEVENT_ORG_NAMES(slugs) \
	"CASE WHEN cardinality(" slugs ") > 0" \
	"     THEN (SELECT jsonb_agg(coalesce(p.name, s.slug)" \
	"                            ORDER BY lower(coalesce(p.name, s.slug)), s.slug)" \
	"             FROM unnest(" slugs ") s(slug)" \
	"             LEFT JOIN orgs p ON p.slug = s.slug)::text END"
/* When the names of the orgs of a slug array last changed; NULL for an
 * empty array without a scan of orgs (most events name no partner, and the
 * scan per row was a first render's largest subplan). */
#define VEVENT_NAMED_AT(slugs) \
	"CASE WHEN cardinality(" slugs ") > 0" \
	"     THEN (SELECT max(p.named_at) FROM orgs p WHERE p.slug = ANY(" slugs ")) END"

/* The rows vevents_render takes: id, stamp, the parent's UID, the
 * agreement, what changed the VEVENT besides the event's own row (the
 * number of changes and the last one's time: its series' cancelled
 * occurrences, its agreement, the names of the orgs it names), the
 * series' cancelled occurrences, the series' zone, the owner's name, the
 * partners' and the parties' names, the title in language lang when it
 * differs from the event's (NULL otherwise) (VEVENT_ORG_NAME..VEVENT_TITLE
 * of vevents.h), then EVENT_COLS; a WHERE clause follows. Most events
 * have no parent and are no override: the CASEs spare them the subplans
 * (an index probe set up per row), as VEVENT_STAMP's does for agreements. */
#define VEVENT_SELECT_FROM(lang, events) \
	"SELECT e.id," \
	"       " VEVENT_STAMP_IN(lang) "," \
	"       CASE WHEN e.parent_id IS NOT NULL" \
	"            THEN (SELECT p.uid FROM events p WHERE p.id = e.parent_id) END," \
	"       a.title," \
	"       a.stage," \
	"       to_jsonb(a.parties)::text," \
	"       to_char(a.signed_on, 'YYYY-MM-DD')," \
	"       to_char(a.expires_on, 'YYYY-MM-DD')," \
	"       e.series_sequence + coalesce(a.version - 1, 0)," \
	"       " EV_UTC("greatest(e.series_changed_at, a.updated_at, o.named_at," \
	"                           " VEVENT_NAMED_AT("e.partners") "," \
	"                           " VEVENT_NAMED_AT("a.parties") ")") "," \
	"       CASE WHEN e.rrule IS NOT NULL OR cardinality(e.rdates) > 0" \
	"            THEN (SELECT jsonb_agg(" EV_LOCAL("x.recurrence_id") " ORDER BY x.recurrence_id)" \
	"                    FROM events x" \
	"                   WHERE x.series_id = e.id" \
	"                     AND x.status = 'cancelled'" \
	"                     AND " EV_NAMES_AN_OCCURRENCE("x", "e") ")::text END," \
	"       CASE WHEN e.series_id IS NOT NULL" \
	"            THEN (SELECT s.timezone FROM events s WHERE s.id = e.series_id) END," \
	"       o.name," \
	"       " VEVENT_ORG_NAMES("e.partners") "," \
	"       " VEVENT_ORG_NAMES("a.parties") "," \
	"       CASE WHEN e.titles IS NOT NULL AND " lang " IS NOT NULL" \
	"            THEN liaison_title_in(e.titles, " lang ", e.title) END," \
	"       " EVENT_COLS \
	"  FROM " events \
	"  JOIN orgs o ON o.id = e.org_id" \
	"  LEFT JOIN agreements a ON a.id = e.agreement_id "
#define VEVENT_SELECT_IN(lang) VEVENT_SELECT_FROM(lang, "events e")
/* As e, the events of ids (a uuid[]), each found by its key. With
 * "e.id = ANY(ids)" the planner scanned a table of 10,000 events for
 * every 500 of them (its estimate of the array's cost), 5 ms where the
 * lookups take 3 (EXPLAIN ANALYZE of SQL_FEED_MISSING). OFFSET 0 keeps the
 * subquery apart, so that it is looked up for each id. */
#define VEVENT_EVENTS_BY_ID(ids) \
	"unnest(" ids ") AS want(id)" \
	"  CROSS JOIN LATERAL (SELECT * FROM events x WHERE x.id = want.id OFFSET 0) e"
/* The rows for every feed without a language (and the warmer). */
#define VEVENT_SELECT VEVENT_SELECT_IN("NULL::text")

/* Whether e has a stored text, for alarms (a boolean literal) and renderer
 * $n, that is current. */
#define VEVENT_STORED(alarms, renderer) \
	"EXISTS (SELECT 1" \
	"          FROM vevent_texts t" \
	"         WHERE t.event_id = e.id" \
	"           AND t.alarms = " alarms \
	"           AND t.renderer = " renderer \
	"           AND t.stamp = " VEVENT_STAMP ")"

/* Stored texts of events, for a feed: $1 uuid[], $2 alarms, $3 renderer;
 * rows (id, stamp, body, zone, digest in hex or "": VEVENT_TEXT_COLS) for
 * those of the events with a text stored by this renderer. A row whose
 * stamp is not the event's current one is out of date: the caller skips
 * it. "= ANY", not a join with unnest():
 * the planner cannot size unnest() and put a Memoize node over the index
 * scan, which copied every body into its cache, many times slower than
 * the plain index scan. */
#define VEVENT_TEXT_COLS "t.event_id, t.stamp, t.body, t.zone, encode(t.digest, 'hex')"
#define SQL_VEVENTS_LOAD \
	"SELECT " VEVENT_TEXT_COLS \
	"  FROM vevent_texts t" \
	" WHERE t.event_id = ANY($1::uuid[])" \
	"   AND t.alarms = $2" \
	"   AND t.renderer = $3"

/* Rendered texts written: ids $1, stamps $2, zones $3, bodies $4 and
 * their digests in hex $7 (arrays), alarms $5, renderer $6. Sorted by id,
 * so that two instances writing the same rows take their locks in the
 * same order; an event deleted meanwhile is skipped. */
#define SQL_VEVENTS_STORE \
	"INSERT INTO vevent_texts (event_id, alarms, stamp, renderer, zone, body, digest) " \
	"SELECT x.id, $5, x.stamp, $6, x.zone, x.body, decode(x.digest, 'hex')" \
	"  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $7::text[])" \
	"       AS x(id, stamp, zone, body, digest)" \
	"  JOIN events e ON e.id = x.id" \
	" ORDER BY x.id " \
	"ON CONFLICT (event_id, alarms) DO UPDATE" \
	"   SET stamp = excluded.stamp," \
	"       renderer = excluded.renderer," \
	"       zone = excluded.zone," \
	"       body = excluded.body," \
	"       digest = excluded.digest"

/* clang-format on */

#endif
