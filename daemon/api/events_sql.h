/* events_sql.h - the statements of /v1/events (api/events.c,
 * event_change.c, event_read.c) and what event writes share with imports
 * (api/import.c): the columns a write sets and their parameters. Table e
 * is events, o its owner org; the representation is core/event_sql.h. */
#ifndef LIAISON_EVENTS_SQL_H
#define LIAISON_EVENTS_SQL_H

#include "api/instants.h"
#include "api/series.h"
#include "core/event_sql.h"

/* clang-format off */

/* Visits and meetings at the same place whose spans overlap e's, and
 * programme items (sql/013) that name one of the people e names, the
 * first 50 by start (an answer stays bounded however crowded a venue or
 * a calendar). Places compare as liaison_place makes them (trimmed, white
 * space collapsed, lower case), and so do people's names; spans as
 * liaison_busy (an item without an end is busy at its instant: what spans
 * it conflicts); the conditions on places match the partial GiST index
 * events_place (010, 027: a series from its first instant). A clash of people names the person ("person", as e
 * names them) and is looked for only in visits the caller is party to,
 * the only ones whose people it may know.
 *
 * Spans are the indexed search only: where e or a candidate is a series,
 * its span says nothing of the days between its occurrences. Such a
 * candidate ("unsure") carries under "_occ" what expanding it takes
 * (EV_OCC_SIDE), and the list ends with e's own ("_self"); api/conflicts.c
 * keeps those whose occurrences meet e's and drops both keys. Up to
 * EV_CANDIDATES places are read, by start, so that the first 50 real
 * clashes are among them unless more unsure ones come first (a hall
 * with hundreds of series whose spans cover e): a clash after those is
 * not named. Rows after the 50th sure one are never needed. Programme
 * items are single events (visits write no rule), so a clash of people is
 * always sure. */
#define EV_CANDIDATES "500"
#define EV_RECURS(t) "(" t ".rrule IS NOT NULL OR cardinality(" t ".rdates) > 0)"
/* A wall time of row t, and a list of them, in t's form (EV_LOCAL's is
 * e's). */
#define EV_LOCAL_OF(t, col) \
	"to_char(" col ", CASE WHEN " t ".all_day THEN 'YYYY-MM-DD'" \
	"                 ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS' END)"
#define EV_LOCAL_LIST_OF(t, col) \
	"(CASE WHEN cardinality(" col ") = 0 THEN '[]'::jsonb" \
	"      ELSE (SELECT jsonb_agg(" EV_LOCAL_OF(t, "x") " ORDER BY x)" \
	"              FROM unnest(" col ") x) END)"
/* What api/conflicts.c needs of row t to tell when it is busy: its first
 * occurrence's instants (s, t: epoch seconds); for a series also its span
 * (from, to: null without end), what expands it, and the recurrence ids
 * its overrides hold, cancelled or not (a live one is a row of its own,
 * found on its own), with those of also (jsonb array). */
#define EV_OCC_SIDE(t, also) \
	"(jsonb_build_object(" \
	"   's', extract(epoch FROM " t ".start_utc)::bigint," \
	"   't', extract(epoch FROM " t ".end_utc)::bigint)" \
	" || CASE WHEN " EV_RECURS(t) " THEN jsonb_build_object(" \
	"   'from', extract(epoch FROM " t ".first_utc)::bigint," \
	"   'to', CASE WHEN isfinite(" t ".last_end_utc)" \
	"              THEN extract(epoch FROM " t ".last_end_utc)::bigint END," \
	"   'timezone', " t ".timezone," \
	"   'all_day', " t ".all_day," \
	"   'start', " EV_LOCAL_OF(t, t ".start_local") "," \
	"   'end', " EV_LOCAL_OF(t, t ".end_local") "," \
	"   'rrule', " t ".rrule," \
	"   'exdates', " EV_LOCAL_LIST_OF(t, t ".exdates") "," \
	"   'rdates', " EV_LOCAL_LIST_OF(t, t ".rdates") "," \
	"   'overridden', (SELECT coalesce(jsonb_agg(" EV_LOCAL_OF(t, "x.recurrence_id") "), '[]')" \
	"                    FROM events x" \
	"                   WHERE x.series_id = " t ".id" \
	"                     AND " EV_NAMES_AN_OCCURRENCE("x", t) ")" \
	"                 || " also ")" \
	"   ELSE '{}'::jsonb END)"
/* A candidate c's overrides as the statement sees them, and e when it is
 * one of them (an override written by this very statement is not in its
 * snapshot). */
#define EV_OCC_ALSO \
	"CASE WHEN e.series_id = c.id AND " EV_NAMES_AN_OCCURRENCE("e", "c") \
	"     THEN jsonb_build_array(" EV_LOCAL_OF("c", "e.recurrence_id") ")" \
	"     ELSE '[]'::jsonb END"
#define EV_PLACE_CONFLICTS(me, myslug) \
	"SELECT jsonb_build_object('id', c.id, 'title', c.title)" \
	"       || CASE WHEN " EV_RECURS("c") " OR " EV_RECURS("e") \
	"               THEN jsonb_build_object('_occ', " EV_OCC_SIDE("c", EV_OCC_ALSO) ")" \
	"               ELSE '{}'::jsonb END AS j," \
	"       c.start_utc, c.id," \
	"       ''::text AS person," \
	"       " EV_RECURS("c") " OR " EV_RECURS("e") " AS unsure" \
	"  FROM events c" \
	" WHERE e.kind IN ('visit', 'meeting')" \
	"   AND e.location IS NOT NULL" \
	"   AND e.status <> 'cancelled'" \
	"   AND liaison_place(e.location) <> ''" \
	"   AND c.kind IN ('visit', 'meeting')" \
	"   AND c.location IS NOT NULL" \
	"   AND c.status <> 'cancelled'" \
	"   AND liaison_place(c.location) = liaison_place(e.location)" \
	"   AND liaison_busy(c.first_utc, c.start_utc, c.end_utc, c.last_end_utc)" \
	"       && liaison_busy(e.first_utc, e.start_utc, e.end_utc, e.last_end_utc)" \
	"   AND c.id <> e.id" \
	"   AND " EV_VISIBLE("c", me, myslug) \
	" ORDER BY c.start_utc, c.id" \
	" LIMIT " EV_CANDIDATES
#define EV_PEOPLE_CONFLICTS(me, myslug) \
	"SELECT jsonb_build_object('id', c.id, 'title', c.title, 'person', d.name), c.start_utc," \
	"       c.id, d.person, false" \
	"  FROM visit_items i" \
	"  JOIN visit_delegates d ON d.visit_id = i.visit_id" \
	"                        AND (d.id = ANY (i.people) OR d.id = i.interpreter)" \
	"  JOIN visit_delegates d2 ON d2.person = d.person" \
	"  JOIN visit_items i2 ON i2.visit_id = d2.visit_id" \
	"                     AND (d2.id = ANY (i2.people) OR d2.id = i2.interpreter)" \
	"  JOIN events c ON c.id = i2.event_id" \
	"  JOIN visits v2 ON v2.id = i2.visit_id" \
	" WHERE i.event_id = e.id" \
	"   AND i.removed_at IS NULL" \
	"   AND e.status <> 'cancelled'" \
	"   AND i2.removed_at IS NULL" \
	"   AND c.status <> 'cancelled'" \
	"   AND c.id <> e.id" \
	"   AND liaison_busy(c.start_utc, c.end_utc, c.last_end_utc)" \
	"       && liaison_busy(e.start_utc, e.end_utc, e.last_end_utc)" \
	"   AND (v2.org_id = " me " OR " myslug " = ANY (v2.partners))" \
	" ORDER BY c.start_utc, c.id, d.person" \
	" LIMIT 50"
/* The candidates in order up to the 50th sure one, then e's "_self" when
 * one is unsure. */
#define EV_CONFLICTS(me, myslug) \
	"(SELECT coalesce(jsonb_agg(c.j ORDER BY c.start_utc, c.id, c.person), '[]')" \
	"        || CASE WHEN bool_or(c.unsure)" \
	"                THEN jsonb_build_array(jsonb_build_object('_self', " \
	                                           EV_OCC_SIDE("e", "'[]'::jsonb") "))" \
	"                ELSE '[]'::jsonb END" \
	"   FROM (SELECT u.*," \
	"                count(*) FILTER (WHERE NOT u.unsure)" \
	"                  OVER (ORDER BY u.start_utc, u.id, u.person" \
	"                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS sure" \
	"           FROM ((" EV_PLACE_CONFLICTS(me, myslug) ")" \
	"                 UNION ALL" \
	"                 (" EV_PEOPLE_CONFLICTS(me, myslug) ")) u) c" \
	"  WHERE c.sure < 50)"

/* The 26 columns every write sets (EV_COLUMNS), from parameters $2..$27
 * ($1: the org id), as event_params() fills them; a statement's own
 * parameters come after them. */
#define EV_COLUMNS \
	"kind, title, description, location, city, country, timezone, all_day," \
	" start_local, end_local, start_utc, end_utc, last_end_utc, rrule, exdates, rdates," \
	" series_id, recurrence_id, status, visibility, partners, tags, parent_id, reminders, url," \
	" rdates_from"
#define EV_VALUES \
	"$2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::boolean," \
	" $10::timestamp, $11::timestamp," \
	" to_timestamp($12::bigint), to_timestamp($13::bigint)," \
	" CASE WHEN $14::bigint IS NULL THEN 'infinity'::timestamptz" \
	"      ELSE to_timestamp($14::bigint) END," \
	" $15::text," \
	" ARRAY(SELECT jsonb_array_elements_text($16::jsonb))::timestamp[]," \
	" ARRAY(SELECT jsonb_array_elements_text($17::jsonb))::timestamp[]," \
	" $18::uuid, $19::timestamp, $20::text, $21::text," \
	" ARRAY(SELECT DISTINCT jsonb_array_elements_text($22::jsonb))," \
	" ARRAY(SELECT DISTINCT jsonb_array_elements_text($23::jsonb))," \
	" $24::uuid," \
	" ARRAY(SELECT jsonb_array_elements_text($25::jsonb))," \
	" $26::text," \
	" to_timestamp($27::bigint)"
#define EV_NPARAMS 27

/* What a write must confirm first: $1 the partners (JSON) that name no
 * org, whether parent $2 is visible to org $4 (slug $5), whether series
 * $3 is a recurring event of org $4, and for Idempotency-Key $6 the body
 * hash it was first used with, its answer and the event's version. */
#define SQL_EVENT_REFS \
	"SELECT (SELECT coalesce(jsonb_agg(p), '[]')" \
	"          FROM jsonb_array_elements_text($1::jsonb) p" \
	"         WHERE p NOT IN (SELECT slug FROM orgs))::text," \
	"       $2::uuid IS NULL OR EXISTS (" \
	"         SELECT 1" \
	"           FROM events e" \
	"          WHERE e.id = $2::uuid" \
	"            AND " EV_VISIBLE("e", "$4::uuid", "$5::text") ")," \
	"       $3::uuid IS NULL OR EXISTS (" \
	"         SELECT 1" \
	"           FROM events e" \
	"          WHERE e.id = $3::uuid" \
	"            AND e.org_id = $4::uuid" \
	"            AND (e.rrule IS NOT NULL OR cardinality(e.rdates) > 0)" \
	"            AND e.series_id IS NULL)," \
	"       (SELECT k.request_hash" \
	"          FROM idempotency_keys k" \
	"         WHERE k.org_id = $4::uuid" \
	"           AND k.key = $6)," \
	"       (SELECT coalesce(k.response, " EVENT_JSON "::text)" \
	"          FROM idempotency_keys k" \
	"          JOIN events e ON e.id = k.event_id" \
	"          JOIN orgs o ON o.id = e.org_id" \
	"         WHERE k.org_id = $4::uuid" \
	"           AND k.key = $6::text)," \
	"       (SELECT e.version" \
	"          FROM idempotency_keys k" \
	"          JOIN events e ON e.id = k.event_id" \
	"         WHERE k.org_id = $4::uuid" \
	"           AND k.key = $6::text)"

/* After a CTE e that created an event: Idempotency-Key $29 remembered
 * with the body's hash $30, and the answer, the event with its conflicts
 * (for org slug $31), its version and id. */
#define EV_CREATED \
	"k AS (" \
	"  INSERT INTO idempotency_keys (org_id, key, request_hash, event_id)" \
	"  SELECT $1::uuid, $29::text, $30::text, e.id" \
	"    FROM e" \
	"   WHERE $29::text IS NOT NULL) " \
	"SELECT (" EVENT_JSON " || jsonb_build_object(" \
	"         'conflicts', " EV_CONFLICTS("$1::uuid", "$31::text") "))::text," \
	"       e.version," \
	"       e.id" \
	"  FROM e" \
	"  JOIN orgs o ON o.id = e.org_id"

/* A create: the event, its UID the series' (an override), the import's
 * ($28) or a new one, and the Idempotency-Key $29 with the body's hash
 * $30; the answer is the event with its conflicts (for org slug $31). */
#define SQL_EVENT_INSERT \
	"WITH e AS (" \
	"  INSERT INTO events (org_id, uid, " EV_COLUMNS ")" \
	"  VALUES ($1, coalesce((SELECT s.uid FROM events s WHERE s.id = $18::uuid)," \
	"                       $28::text, gen_random_uuid()::text || '@liaison')," \
	"          " EV_VALUES ")" \
	"  RETURNING *), " \
	EV_CREATED

/* An override: written only while its master is at the version it was
 * checked against ($32), whose overrides_rev it bumps, so that a change of
 * the series' occurrences made meanwhile (which checks that) and this
 * write cannot both pass. No row: the series changed. */
#define SQL_EVENT_INSERT_OVERRIDE \
	"WITH s AS (" \
	"  UPDATE events" \
	"     SET overrides_rev = overrides_rev + 1" \
	"   WHERE id = $18::uuid" \
	"     AND org_id = $1::uuid" \
	"     AND version = $32::integer" \
	"  RETURNING uid), " \
	"e AS (" \
	"  INSERT INTO events (org_id, uid, " EV_COLUMNS ")" \
	"  SELECT $1, coalesce(s.uid, $28::text), " EV_VALUES \
	"    FROM s" \
	"  RETURNING *), " \
	EV_CREATED

/* The answer of an idempotent create, for a replay. */
#define SQL_EVENT_REMEMBER \
	"UPDATE idempotency_keys" \
	"   SET response = $3::text" \
	" WHERE org_id = $1::uuid" \
	"   AND key = $2::text"

/* A patch or a cancel of event $28 of org $1 at version $29. $31 and $32:
 * the master's overrides whose occurrence the change takes away, and the
 * orphans it gives one back (series.h), written in the same statement and
 * listed in the answer. $33: the master's overrides_rev as read, so that
 * an override written meanwhile makes this a 412 rather than an override
 * beside an occurrence it no longer names. $34, $35: an override's master
 * and its version as checked, whose overrides_rev this bumps for the same
 * reason (not when the override itself has moved on since it was read:
 * that write is lost, and taken again, api/write_again.c, without a bump
 * each time). $36: for a master whose zone or length changes, the instants its
 * overrides may take as they follow it (series_hints, sql/029), set for
 * the trigger that moves them. */
#define SQL_EVENT_UPDATE \
	"WITH s AS (" \
	"  UPDATE events" \
	"     SET overrides_rev = overrides_rev + 1" \
	"   WHERE $34::uuid IS NOT NULL" \
	"     AND id = $34::uuid" \
	"     AND version = $35::integer" \
	"     AND EXISTS (SELECT 1 FROM events o WHERE o.id = $28::uuid AND o.version = $29::integer)" \
	"  RETURNING id), " \
	"e AS (" \
	"  UPDATE events" \
	"     SET (" EV_COLUMNS ") = (" EV_VALUES ")," \
	"         version = version + 1," \
	"         updated_at = now()," \
	"         sequence = sequence + CASE WHEN" \
	"           (title, description, location, timezone, all_day, start_local, end_local," \
	"            rrule, exdates, rdates, status, url, reminders)" \
	"           IS DISTINCT FROM" \
	"           ($3, $4, $5, $8, $9::boolean, $10::timestamp, $11::timestamp, $15," \
	"            ARRAY(SELECT jsonb_array_elements_text($16::jsonb))::timestamp[]," \
	"            ARRAY(SELECT jsonb_array_elements_text($17::jsonb))::timestamp[], $20, $26," \
	"            ARRAY(SELECT jsonb_array_elements_text($25::jsonb)))" \
	"           THEN 1 ELSE 0 END" \
	"   WHERE id = $28::uuid" \
	"     AND org_id = $1::uuid" \
	"     AND version = $29::integer" \
	"     AND ($33::integer IS NULL OR overrides_rev = $33::integer)" \
	"     AND ($34::uuid IS NULL OR EXISTS (SELECT 1 FROM s))" \
	"     AND " INSTANTS_SET("$36") \
	"  RETURNING *), " \
	SERIES_ORPHANS("e", "$31", "$32") " " \
	"SELECT (" EVENT_JSON " || jsonb_build_object(" \
	"         'conflicts', " EV_CONFLICTS("$1::uuid", "$30::text") "," \
	"         'cancelled_overrides', (SELECT coalesce(jsonb_agg(g.id ORDER BY g.id), '[]')" \
	"                                   FROM g)," \
	"         'restored_overrides', (SELECT coalesce(jsonb_agg(b.id ORDER BY b.id), '[]')" \
	"                                  FROM b)))::text," \
	"       e.version" \
	"  FROM e" \
	"  JOIN orgs o ON o.id = e.org_id"

/* The master of an override ($1) as the caller's org ($2, slug $4) sees
 * it, and the override it may already have for recurrence id $3. */
#define SQL_EVENT_SERIES \
	"SELECT e.version, e.org_id = $2::uuid, o.timezone, " EVENT_COLS "," \
	"       (SELECT x.id" \
	"          FROM events x" \
	"         WHERE x.series_id = e.id" \
	"           AND x.recurrence_id = $3::timestamp)" \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.id = $1::uuid" \
	"   AND e.series_id IS NULL" \
	"   AND " EV_VISIBLE("e", "$2::uuid", "$4::text")

/* The event as stored; for a master, the overrides a change of its
 * occurrences concerns and its overrides_rev; for an override, its master
 * as far as a check of its occurrence and audience needs it; the visit
 * whose event it is (sql/013), which alone may change it. */
#define SQL_EVENT_LOAD_FOR_CHANGE \
	"SELECT e.version, e.org_id = $2::uuid, o.timezone, " EVENT_COLS "," \
	"       CASE WHEN e.series_id IS NULL THEN " SERIES_OVERRIDES("e") " END," \
	"       e.overrides_rev," \
	"       (SELECT jsonb_build_object(" \
	"                 'version', s.version, 'status', s.status, 'timezone', s.timezone," \
	"                 'all_day', s.all_day, 'start', " EV_LOCAL("s.start_local") "," \
	"                 'rrule', s.rrule, 'exdates', " EV_LOCAL_LIST("s.exdates") "," \
	"                 'rdates', " EV_LOCAL_LIST("s.rdates") "," \
	"                 'visibility', s.visibility, 'partners', to_jsonb(s.partners))" \
	"          FROM events s" \
	"         WHERE s.id = e.series_id)::text," \
	"       e.visit_id," \
	"       CASE WHEN e.series_id IS NULL THEN " SERIES_LOCALS("e") " END" \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.id = $1::uuid" \
	"   AND " EV_VISIBLE("e", "$2::uuid", "$3::text")

/* A change that changes nothing answers the event as it is. */
#define SQL_EVENT_CURRENT \
	"SELECT (" EVENT_JSON " || jsonb_build_object(" \
	"         'conflicts', " EV_CONFLICTS("$2::uuid", "$3::text") "))::text," \
	"       e.version" \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.id = $1::uuid"

/* An event by id for a caller ($1 id, $2 org id, $3 org slug), as plain
 * columns: the JSON is built in C (core/event_json.c), which costs the
 * database much less than building it there. Before them, what keeping
 * the answer for other callers takes (core/rowcache.h): its owner's id
 * and its partners comma-separated, NULL when one is not a slug (then it
 * is not kept: EV_VISIBLE's test could not be made on that list). */
#define SQL_EVENT_GET \
	"SELECT e.version," \
	"       e.org_id," \
	"       CASE WHEN cardinality(e.partners) = 0 THEN ''" \
	"            WHEN array_to_string(e.partners, ',') ~ '^[a-z0-9-]+(,[a-z0-9-]+)*$'" \
	"            THEN array_to_string(e.partners, ',') END," \
	"       " EVENT_COLS \
	"  FROM events e" \
	"  JOIN orgs o ON o.id = e.org_id" \
	" WHERE e.id = $1::uuid" \
	"   AND " EV_VISIBLE("e", "$2::uuid", "$3::text")

/* One half of a list (event_read.c): the events visible to org $me (slug
 * $slug) with the representation, the cursor's columns and what it takes
 * to expand a series (columns 3..); the filters' conditions follow, then
 * LIST_ORDER. */
#define SQL_EVENT_LIST_HALF \
	"(SELECT " EVENT_JSON "::text," \
	"        extract(epoch FROM e.start_utc)::bigint AS t," \
	"        e.id," \
	"        e.rrule," \
	"        e.timezone," \
	"        e.all_day," \
	"        " EV_LOCAL("e.start_local") "," \
	"        " EV_LOCAL("coalesce(e.end_local, e.start_local + CASE WHEN e.all_day" \
	"                            THEN interval '1 day' ELSE interval '0' END)") "," \
	"        " EV_LOCAL_LIST("e.exdates") "::text," \
	"        " EV_LOCAL_LIST("e.rdates") "::text" \
	"   FROM events e" \
	"   JOIN orgs o ON o.id = e.org_id" \
	"  WHERE " EV_VISIBLE("e", "$%d::uuid", "$%d::text")
#define SQL_EVENT_LIST_ORDER " ORDER BY e.start_utc, e.id LIMIT $%d::integer)"

/* clang-format on */

#endif
