/* agreements_sql.h - the statements of /v1/agreements (api/agreements.c).
 * An agreement's dates are deadline events written in the same statement
 * as the agreement, and so are its links and, for a create, its
 * Idempotency-Key; the answer is then read with SQL_AGREEMENT_GET (its
 * representation is core/agreement_sql.h). In the writes, a is the
 * agreement written and the parameters are: $1 the caller's org, $2..$9
 * the agreement's fields, $10 its dates as JSON rows (agreement_check.c),
 * $11 its history, $12 the ids of the events it links to (JSON), $13
 * dormant_after_days, $14 expiring_notice_days, $15 the caller's slug;
 * for a create $16 the Idempotency-Key and $17 the body's hash, for a
 * patch $16 its id and $17 its version as read; $18 the ids of the
 * visits it links to (JSON). */
#ifndef LIAISON_AGREEMENTS_SQL_H
#define LIAISON_AGREEMENTS_SQL_H

#include "core/agreement_sql.h"
#include "core/visit_sql.h"

/* clang-format off */

/* Who may see agreement a: me is the caller's org id, myslug its slug. */
#define AG_VISIBLE(me, myslug) \
	"(a.visibility = 'network'" \
	" OR a.org_id = " me \
	" OR " myslug " = ANY(a.parties))"

/* dates: $10 as rows, the deadline events the agreement implies
 * (deadline_row), each with the id of the event it keeps (id_expr, over
 * r), NULL for a new one. */
#define AG_ROWS(id_expr) \
	"dates AS (" \
	"SELECT " id_expr " AS id, r.part, r.title, r.all_day, r.start_local, r.end_local, " \
	" to_timestamp(r.start_utc) AS start_utc, to_timestamp(r.end_utc) AS end_utc, " \
	" ARRAY(SELECT jsonb_array_elements_text(r.reminders)) AS reminders, r.done_on " \
	"FROM jsonb_to_recordset($10::jsonb) AS r(id uuid, part text, title text, " \
	" all_day boolean, start_local timestamp, end_local timestamp, start_utc bigint, " \
	" end_utc bigint, reminders jsonb, done_on date))"
/* Whether date x of a terminated agreement is taken by the termination:
 * it lies ahead (or was taken already, expr). Taken dates are cancelled
 * and marked suspended; they come back when the stage leaves
 * terminated. */
#define AG_TAKEN(taken) \
	"($5::text = 'terminated' AND (x.start_utc > now() OR " taken "))"
/* The dates that keep no event become events of agreement a. */
#define AG_INSERT_EVENTS \
	"INSERT INTO events (org_id, uid, kind, title, timezone, all_day, start_local, end_local, " \
	" start_utc, end_utc, last_end_utc, partners, visibility, reminders, agreement_id, " \
	" agreement_part, status, cancelled_at, agreement_done_on, agreement_suspended) " \
	"SELECT a.org_id, gen_random_uuid()::text || '@liaison', 'deadline', x.title, a.timezone, " \
	" x.all_day, x.start_local, x.end_local, x.start_utc, x.end_utc, x.end_utc, a.parties, " \
	" a.visibility, x.reminders, a.id, x.part, " \
	" CASE WHEN " AG_TAKEN("false") " THEN 'cancelled' ELSE 'confirmed' END, " \
	" CASE WHEN " AG_TAKEN("false") " THEN now() END, " \
	" x.done_on, " AG_TAKEN("false") " " \
	"FROM a, dates x " \
	"WHERE x.id IS NULL " \
	"RETURNING *"
/* $4's parties, each once, in the order given: a PATCH that sends the
 * parties back as they were compares equal to them. */
#define AG_PARTIES \
	"ARRAY(" \
	"SELECT p " \
	"FROM jsonb_array_elements_text($4::jsonb) WITH ORDINALITY AS t(p, n) " \
	"GROUP BY p " \
	"ORDER BY min(n))"

/* A party that names no org, or a linked event or visit the caller may
 * not see, stops the write inside the statement; the answer row then
 * reports it (columns 2, 3 and 4: the first such of each) with no
 * agreement (column 0). */
#define AG_MISSING \
	"missing AS (" \
	"  SELECT min(p) AS p" \
	"    FROM jsonb_array_elements_text($4::jsonb) p" \
	"   WHERE p NOT IN (SELECT slug FROM orgs)), " \
	"badlink AS (" \
	"  SELECT min(t.n) - 1 AS n" \
	"    FROM jsonb_array_elements_text($12::jsonb) WITH ORDINALITY AS t(id, n)" \
	"   WHERE NOT EXISTS (SELECT 1" \
	"                       FROM events e" \
	"                      WHERE e.id = t.id::uuid" \
	"                        AND " EV_VISIBLE("e", "$1::uuid", "$15::text") ")), " \
	"badvisit AS (" \
	"  SELECT min(t.n) - 1 AS n" \
	"    FROM jsonb_array_elements_text($18::jsonb) WITH ORDINALITY AS t(id, n)" \
	"   WHERE NOT EXISTS (SELECT 1" \
	"                       FROM visits v" \
	"                      WHERE v.id = t.id::uuid" \
	"                        AND " VISIT_VISIBLE("$1::uuid", "$15::text") "))"
#define AG_WRITABLE \
	"(SELECT p FROM missing) IS NULL AND (SELECT n FROM badlink) IS NULL" \
	" AND (SELECT n FROM badvisit) IS NULL"
#define AG_ANSWER \
	"SELECT (SELECT id FROM a)," \
	"       (SELECT version FROM a)," \
	"       (SELECT p FROM missing)," \
	"       (SELECT n FROM badlink)," \
	"       (SELECT n FROM badvisit)"

#define SQL_AGREEMENT_CREATE \
	"WITH " AG_MISSING ", " \
	AG_ROWS("NULL::uuid") ", " \
	"a AS (" \
	"INSERT INTO agreements (org_id, title, description, parties, stage, signed_on, " \
	" expires_on, timezone, visibility, history, dormant_after_days, expiring_notice_days) " \
	"SELECT $1::uuid, $2::text, $3::text, " AG_PARTIES ", $5::text, $6::date, $7::date, " \
	" $8::text, $9::text, $11::jsonb, $13::integer, $14::integer " \
	"WHERE " AG_WRITABLE " " \
	"RETURNING *), " \
	"m AS (" AG_INSERT_EVENTS "), " \
	"l AS (" \
	"INSERT INTO agreement_links (agreement_id, kind, event_id) " \
	"SELECT a.id, 'event', t.id::uuid " \
	"FROM a, jsonb_array_elements_text($12::jsonb) AS t(id) " \
	"ON CONFLICT DO NOTHING), " \
	"lv AS (" \
	"INSERT INTO agreement_links (agreement_id, kind, visit_id) " \
	"SELECT a.id, 'visit', t.id::uuid " \
	"FROM a, jsonb_array_elements_text($18::jsonb) AS t(id) " \
	"ON CONFLICT DO NOTHING), " \
	"k AS (" \
	"INSERT INTO agreement_idempotency_keys (org_id, key, request_hash, agreement_id) " \
	"SELECT $1::uuid, $16::text, $17::text, a.id " \
	"FROM a " \
	"WHERE $16::text IS NOT NULL) " \
	AG_ANSWER

/* A patch writes only what changes. dates keeps the event each date
 * continues: a milestone's is the one C matched (still one of its dates,
 * of this agreement), signed_on's and expires_on's the one of their part,
 * the one kept or else the last cancelled, which comes back (same UID).
 * ch is every event of the agreement whose row would change: a kept one
 * takes its date's values (and is confirmed again if it was cancelled,
 * unless a termination takes it), one no date keeps is cancelled, all
 * take the parties and visibility; shown says whether a calendar shows
 * the change (SEQUENCE), as for events. ladd and lgone are the links to
 * events to make and to drop (only among the events the caller may see: a
 * link to an event hidden from it stays), vadd and vgone those to visits
 * (likewise). The agreement's version moves only when
 * it, one of its events or one of its links changes, so a patch that
 * changes nothing writes no event, sends no webhook and keeps the ETag.
 * The UPDATE of events runs even when ch is empty: its statement trigger
 * (006) tells feeds to render again, which an agreement change needs, its
 * title and stage being shown in its dates' DESCRIPTION (the VEVENT's
 * stamp carries the agreement's version). */
#define SQL_AGREEMENT_UPDATE \
	"WITH " AG_MISSING ", " \
	"ps AS (SELECT " AG_PARTIES " AS parties), " \
	AG_ROWS("CASE WHEN r.part = 'milestone' THEN (" \
	"SELECT e.id " \
	"FROM events e " \
	"WHERE e.id = r.id AND e.agreement_id = $16::uuid " \
	" AND e.agreement_part = 'milestone' AND " AG_KEPT \
	") ELSE (" \
	"SELECT e.id " \
	"FROM events e " \
	"WHERE e.agreement_id = $16::uuid AND e.agreement_part = r.part " \
	"ORDER BY NOT " AG_KEPT ", e.updated_at DESC " \
	"LIMIT 1) END") ", " \
	"ch AS (" \
	"SELECT e.id, v.*, " \
	" (v.title, v.timezone, v.all_day, v.start_local, v.end_local, v.reminders, v.status) " \
	" IS DISTINCT FROM " \
	" (e.title, e.timezone, e.all_day, e.start_local, e.end_local, e.reminders, e.status) " \
	" AS shown " \
	"FROM events e " \
	"CROSS JOIN ps " \
	"LEFT JOIN dates x ON x.id = e.id " \
	"CROSS JOIN LATERAL (SELECT " \
	" coalesce(x.title, e.title) AS title, " \
	" CASE WHEN x.id IS NULL THEN e.timezone ELSE $8::text END AS timezone, " \
	" coalesce(x.all_day, e.all_day) AS all_day, " \
	" coalesce(x.start_local, e.start_local) AS start_local, " \
	" CASE WHEN x.id IS NULL THEN e.end_local ELSE x.end_local END AS end_local, " \
	" coalesce(x.start_utc, e.start_utc) AS start_utc, " \
	" coalesce(x.end_utc, e.end_utc) AS end_utc, " \
	" coalesce(x.end_utc, e.last_end_utc) AS last_end_utc, " \
	" coalesce(x.reminders, e.reminders) AS reminders, " \
	" CASE WHEN x.id IS NULL THEN 'cancelled' " \
	"  WHEN " AG_TAKEN("e.agreement_suspended") " THEN 'cancelled' " \
	"  WHEN e.status = 'cancelled' THEN 'confirmed' " \
	"  ELSE e.status END AS status, " \
	" ps.parties AS partners, " \
	" $9::text AS visibility, " \
	" x.done_on AS done_on, " \
	" x.id IS NOT NULL AND " AG_TAKEN("e.agreement_suspended") " AS suspended) v " \
	"WHERE e.agreement_id = $16::uuid " \
	" AND (v.title, v.timezone, v.all_day, v.start_local, v.end_local, v.start_utc, " \
	"  v.end_utc, v.last_end_utc, v.reminders, v.status, v.partners, v.visibility, " \
	"  v.done_on, v.suspended) " \
	" IS DISTINCT FROM " \
	" (e.title, e.timezone, e.all_day, e.start_local, e.end_local, e.start_utc, " \
	"  e.end_utc, e.last_end_utc, e.reminders, e.status, e.partners, e.visibility, " \
	"  e.agreement_done_on, e.agreement_suspended)), " \
	"ladd AS (" \
	"SELECT DISTINCT t.id::uuid AS id " \
	"FROM jsonb_array_elements_text($12::jsonb) AS t(id) " \
	"WHERE NOT EXISTS (SELECT 1 FROM agreement_links l " \
	" WHERE l.agreement_id = $16::uuid AND l.kind = 'event' AND l.event_id = t.id::uuid)), " \
	"lgone AS (" \
	"SELECT l.event_id AS id " \
	"FROM agreement_links l " \
	"JOIN events e ON e.id = l.event_id " \
	"WHERE l.agreement_id = $16::uuid AND l.kind = 'event' " \
	" AND " EV_VISIBLE("e", "$1::uuid", "$15::text") " " \
	" AND l.event_id NOT IN (SELECT t.id::uuid FROM jsonb_array_elements_text($12::jsonb) AS t(id))), " \
	"vadd AS (" \
	"SELECT DISTINCT t.id::uuid AS id " \
	"FROM jsonb_array_elements_text($18::jsonb) AS t(id) " \
	"WHERE NOT EXISTS (SELECT 1 FROM agreement_links l " \
	" WHERE l.agreement_id = $16::uuid AND l.kind = 'visit' AND l.visit_id = t.id::uuid)), " \
	"vgone AS (" \
	"SELECT l.visit_id AS id " \
	"FROM agreement_links l " \
	"JOIN visits v ON v.id = l.visit_id " \
	"WHERE l.agreement_id = $16::uuid AND l.kind = 'visit' " \
	" AND " VISIT_VISIBLE("$1::uuid", "$15::text") " " \
	" AND l.visit_id NOT IN (SELECT t.id::uuid FROM jsonb_array_elements_text($18::jsonb) AS t(id))), " \
	"changed AS (" \
	"SELECT (g.title, g.description, g.parties, g.stage, g.signed_on, g.expires_on, " \
	"  g.timezone, g.visibility, g.history, g.dormant_after_days, g.expiring_notice_days) " \
	" IS DISTINCT FROM " \
	" ($2::text, $3::text, ps.parties, $5::text, $6::date, $7::date, $8::text, $9::text, " \
	"  $11::jsonb, $13::integer, $14::integer) " \
	" OR EXISTS (SELECT 1 FROM ch) " \
	" OR EXISTS (SELECT 1 FROM dates WHERE dates.id IS NULL) " \
	" OR EXISTS (SELECT 1 FROM ladd) " \
	" OR EXISTS (SELECT 1 FROM lgone) " \
	" OR EXISTS (SELECT 1 FROM vadd) " \
	" OR EXISTS (SELECT 1 FROM vgone) AS yes " \
	"FROM agreements g, ps " \
	"WHERE g.id = $16::uuid), " \
	"a AS (" \
	"UPDATE agreements g " \
	"SET title = $2::text, description = $3::text, parties = ps.parties, stage = $5::text, " \
	" signed_on = $6::date, expires_on = $7::date, timezone = $8::text, " \
	" visibility = $9::text, history = $11::jsonb, dormant_after_days = $13::integer, " \
	" expiring_notice_days = $14::integer, version = g.version + changed.yes::integer, " \
	" updated_at = CASE WHEN changed.yes THEN now() ELSE g.updated_at END " \
	"FROM ps, changed " \
	"WHERE g.id = $16::uuid AND g.org_id = $1::uuid AND g.version = $17::integer " \
	" AND " AG_WRITABLE " " \
	"RETURNING g.*), " \
	"u AS (" \
	"UPDATE events e " \
	"SET title = ch.title, timezone = ch.timezone, all_day = ch.all_day, " \
	" start_local = ch.start_local, end_local = ch.end_local, start_utc = ch.start_utc, " \
	" end_utc = ch.end_utc, last_end_utc = ch.last_end_utc, reminders = ch.reminders, " \
	" status = ch.status, partners = ch.partners, visibility = ch.visibility, " \
	" agreement_done_on = ch.done_on, agreement_suspended = ch.suspended, " \
	" cancelled_at = CASE WHEN ch.status = 'cancelled' THEN coalesce(e.cancelled_at, now()) END, " \
	" sequence = e.sequence + ch.shown::integer, version = e.version + 1, updated_at = now() " \
	"FROM ch, a " \
	"WHERE e.id = ch.id), " \
	"m AS (" AG_INSERT_EVENTS "), " \
	"li AS (" \
	"INSERT INTO agreement_links (agreement_id, kind, event_id) " \
	"SELECT a.id, 'event', ladd.id " \
	"FROM a, ladd " \
	"ON CONFLICT DO NOTHING), " \
	"ld AS (" \
	"DELETE FROM agreement_links l " \
	"USING a, lgone " \
	"WHERE l.agreement_id = a.id AND l.kind = 'event' AND l.event_id = lgone.id), " \
	"vi AS (" \
	"INSERT INTO agreement_links (agreement_id, kind, visit_id) " \
	"SELECT a.id, 'visit', vadd.id " \
	"FROM a, vadd " \
	"ON CONFLICT DO NOTHING), " \
	"vd AS (" \
	"DELETE FROM agreement_links l " \
	"USING a, vgone " \
	"WHERE l.agreement_id = a.id AND l.kind = 'visit' AND l.visit_id = vgone.id) " \
	AG_ANSWER

/* An agreement ($1) as org $2 (slug $3) sees it, its version, whether the
 * caller owns it, its zone, and the caller's follow-up template. */
#define SQL_AGREEMENT_GET \
	"SELECT " AG_JSON("$2::uuid", "$3::text") "," \
	"       a.version," \
	"       a.org_id = $2::uuid," \
	"       a.timezone," \
	"       (SELECT f.steps::text FROM agreement_follow_ups f WHERE f.org_id = $2::uuid)" \
	"  FROM agreements a" \
	"  JOIN orgs o ON o.id = a.org_id" \
	" WHERE a.id = $1::uuid" \
	"   AND " AG_VISIBLE("$2::uuid", "$3::text")

/* Before a create by org $1 (slug $3): its follow-up template, and what
 * Idempotency-Key $2 (NULL: none) was first used with: the body's hash,
 * the agreement, the answer given then (or the agreement now, when it was
 * not kept) and the agreement's version. */
#define SQL_AGREEMENT_PREPARE \
	"SELECT (SELECT f.steps::text FROM agreement_follow_ups f WHERE f.org_id = $1::uuid)," \
	"       k.request_hash," \
	"       k.agreement_id," \
	"       coalesce(k.response, (SELECT " AG_JSON("$1::uuid", "$3::text") \
	"                               FROM agreements a" \
	"                               JOIN orgs o ON o.id = a.org_id" \
	"                              WHERE a.id = k.agreement_id))," \
	"       (SELECT a.version FROM agreements a WHERE a.id = k.agreement_id)" \
	"  FROM (SELECT 1) one" \
	"  LEFT JOIN agreement_idempotency_keys k ON k.org_id = $1::uuid AND k.key = $2::text"

/* The answer of an idempotent create, for a replay. */
#define SQL_AGREEMENT_REMEMBER \
	"UPDATE agreement_idempotency_keys" \
	"   SET response = $3::text" \
	" WHERE org_id = $1::uuid" \
	"   AND key = $2::text"

/* The agreements org $1 (slug $2) may see, cursor-paged by creation (to
 * the second, then id); filters.c's conditions follow (agreement_list.c),
 * then SQL_AGREEMENT_LIST_ORDER. Columns: the representation, the
 * cursor's time and id. */
#define AG_LIST_KEY "to_timestamp(floor(extract(epoch FROM a.created_at)))"
#define SQL_AGREEMENT_LIST \
	"SELECT " AG_JSON("$1::uuid", "$2::text") "," \
	"       floor(extract(epoch FROM a.created_at))::bigint," \
	"       a.id" \
	"  FROM agreements a" \
	"  JOIN orgs o ON o.id = a.org_id" \
	" WHERE " AG_VISIBLE("$1::uuid", "$2::text")
#define SQL_AGREEMENT_LIST_ORDER " ORDER BY " AG_LIST_KEY ", a.id LIMIT $%d::integer"

/* An agreement's span, for from and to: from its first stage (midnight
 * in its zone) to the end of the day it ended (an ended stage) or
 * expires, whichever is first; open when neither. */
#define AG_STARTS "((a.history -> 0 ->> 'on')::date::timestamp AT TIME ZONE a.timezone)"
#define AG_ENDS \
	"coalesce(((least(CASE WHEN NOT liaison_agreement_live(a.stage)" \
	"                      THEN (a.history -> -1 ->> 'on')::date END," \
	"                 a.expires_on) + 1)::timestamp AT TIME ZONE a.timezone)," \
	"         'infinity'::timestamptz)"
/* The list filters of agreements (filters.c): org is the owner, partner
 * and country a party (its org's country). */
#define AG_FILTER_ANY "ARRAY(SELECT jsonb_array_elements_text("
#define AG_FILTER_ORG "o.slug = ANY(" AG_FILTER_ANY
#define AG_FILTER_PARTNER "a.parties && " AG_FILTER_ANY
#define AG_FILTER_COUNTRY \
	"EXISTS (SELECT 1 FROM orgs po WHERE po.slug = ANY(a.parties) AND po.country = ANY(" \
	AG_FILTER_ANY
/* The filters of agreements alone: $%d the stages (JSON), whether dormant,
 * whether expiring. */
#define AG_FILTER_STAGE " AND a.stage = ANY(ARRAY(SELECT jsonb_array_elements_text($%d::jsonb)))"
#define AG_FILTER_DORMANT " AND liaison_agreement_dormant(a, " AG_TODAY ") = $%d::boolean"
#define AG_FILTER_EXPIRING " AND liaison_agreement_expiring(a, " AG_TODAY ") = $%d::boolean"
#define AG_FILTER_FROM " AND " AG_ENDS " > to_timestamp($%d::bigint)"

/* The follow-up template of org $1 (follow_up.c): its steps and when it
 * was last changed; no row when it has none. */
#define SQL_FOLLOW_UP_GET \
	"SELECT f.steps::text," \
	"       " EV_UTC("f.updated_at") \
	"  FROM agreement_follow_ups f" \
	" WHERE f.org_id = $1::uuid"
/* Org $1's template becomes steps $2. */
#define SQL_FOLLOW_UP_PUT \
	"INSERT INTO agreement_follow_ups (org_id, steps)" \
	"VALUES ($1::uuid, $2::jsonb) " \
	"ON CONFLICT (org_id) DO UPDATE" \
	"   SET steps = EXCLUDED.steps," \
	"       version = agreement_follow_ups.version + 1," \
	"       updated_at = now() " \
	"RETURNING steps::text, " EV_UTC("updated_at")

/* clang-format on */

#endif
