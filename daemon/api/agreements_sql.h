/* agreements_sql.h - the statements of /v1/agreements (api/agreements.c).
 * An agreement's dates are deadline events written in the same statement
 * as the agreement; a is agreements, o its owner org, and the
 * representation is core/agreement_sql.h. $1 is the caller's org, $2..$9
 * the agreement's fields, $10 its dates as JSON rows (agreement_check.c),
 * and for a patch $11 its id and $12 its version as read. */
#ifndef LIAISON_AGREEMENTS_SQL_H
#define LIAISON_AGREEMENTS_SQL_H

#include "core/agreement_sql.h"

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
	" ARRAY(SELECT jsonb_array_elements_text(r.reminders)) AS reminders " \
	"FROM jsonb_to_recordset($10::jsonb) AS r(id uuid, part text, title text, " \
	" all_day boolean, start_local timestamp, end_local timestamp, start_utc bigint, " \
	" end_utc bigint, reminders jsonb))"
/* The dates that keep no event become events of agreement a. */
#define AG_INSERT_EVENTS \
	"INSERT INTO events (org_id, uid, kind, title, timezone, all_day, start_local, end_local, " \
	" start_utc, end_utc, last_end_utc, partners, visibility, reminders, agreement_id, " \
	" agreement_part) " \
	"SELECT a.org_id, gen_random_uuid()::text || '@liaison', 'deadline', x.title, a.timezone, " \
	" x.all_day, x.start_local, x.end_local, x.start_utc, x.end_utc, x.end_utc, a.parties, " \
	" a.visibility, x.reminders, a.id, x.part " \
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

/* A party that names no org stops the write inside the statement; the
 * answer row then reports it (column 3) with no agreement (column 0). */
#define AG_MISSING \
	"missing AS (" \
	"  SELECT min(p) AS p" \
	"    FROM jsonb_array_elements_text($4::jsonb) p" \
	"   WHERE p NOT IN (SELECT slug FROM orgs))"
#define AG_ANSWER(src) \
	"SELECT x.j, x.version, x.id, (SELECT p FROM missing)" \
	"  FROM (SELECT 1) one" \
	"  LEFT JOIN (SELECT " AG_JSON(src) " AS j, a.version, a.id" \
	"               FROM a" \
	"               JOIN orgs o ON o.id = a.org_id) x ON true"

#define SQL_AGREEMENT_CREATE \
	"WITH " AG_MISSING ", " \
	AG_ROWS("NULL::uuid") ", " \
	"a AS (" \
	"INSERT INTO agreements (org_id, title, description, parties, stage, signed_on, " \
	" expires_on, timezone, visibility) " \
	"SELECT $1::uuid, $2::text, $3::text, " AG_PARTIES ", $5::text, $6::date, $7::date, " \
	" $8::text, $9::text " \
	"WHERE (SELECT p FROM missing) IS NULL " \
	"RETURNING *), " \
	"m AS (" AG_INSERT_EVENTS ") " \
	AG_ANSWER("m")

/* A patch writes only what changes. dates keeps the event each date
 * continues: a milestone's is the one C matched (still live, of this
 * agreement), signed_on's and expires_on's the one of their part, the
 * live one or else the last cancelled, which comes back (same UID). ch is
 * every event of the agreement whose row would change: a kept one takes
 * its date's values (and is confirmed again if it was cancelled), one no
 * date keeps is cancelled, all take the parties and visibility; shown
 * says whether a calendar shows the change (SEQUENCE), as for events. The
 * agreement's version moves only when it or one of its events changes,
 * so a patch that changes nothing writes no event, sends no webhook and
 * keeps the ETag. The UPDATE of events runs even when ch is empty: its
 * statement trigger (006) tells feeds to render again, which an agreement
 * change needs, its title and stage being shown in its dates'
 * DESCRIPTION (the VEVENT's stamp carries the agreement's version). */
#define SQL_AGREEMENT_UPDATE \
	"WITH " AG_MISSING ", " \
	"ps AS (SELECT " AG_PARTIES " AS parties), " \
	AG_ROWS("CASE WHEN r.part = 'milestone' THEN (" \
	"SELECT e.id " \
	"FROM events e " \
	"WHERE e.id = r.id AND e.agreement_id = $11::uuid " \
	" AND e.agreement_part = 'milestone' AND e.status <> 'cancelled'" \
	") ELSE (" \
	"SELECT e.id " \
	"FROM events e " \
	"WHERE e.agreement_id = $11::uuid AND e.agreement_part = r.part " \
	"ORDER BY e.status = 'cancelled', e.updated_at DESC " \
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
	"  WHEN e.status = 'cancelled' THEN 'confirmed' " \
	"  ELSE e.status END AS status, " \
	" ps.parties AS partners, " \
	" $9::text AS visibility) v " \
	"WHERE e.agreement_id = $11::uuid " \
	" AND (v.title, v.timezone, v.all_day, v.start_local, v.end_local, v.start_utc, " \
	"  v.end_utc, v.last_end_utc, v.reminders, v.status, v.partners, v.visibility) " \
	" IS DISTINCT FROM " \
	" (e.title, e.timezone, e.all_day, e.start_local, e.end_local, e.start_utc, " \
	"  e.end_utc, e.last_end_utc, e.reminders, e.status, e.partners, e.visibility)), " \
	"changed AS (" \
	"SELECT (g.title, g.description, g.parties, g.stage, g.signed_on, g.expires_on, " \
	"  g.timezone, g.visibility) " \
	" IS DISTINCT FROM " \
	" ($2::text, $3::text, ps.parties, $5::text, $6::date, $7::date, $8::text, $9::text) " \
	" OR EXISTS (SELECT 1 FROM ch) " \
	" OR EXISTS (SELECT 1 FROM dates WHERE dates.id IS NULL) AS yes " \
	"FROM agreements g, ps " \
	"WHERE g.id = $11::uuid), " \
	"a AS (" \
	"UPDATE agreements g " \
	"SET title = $2::text, description = $3::text, parties = ps.parties, stage = $5::text, " \
	" signed_on = $6::date, expires_on = $7::date, timezone = $8::text, " \
	" visibility = $9::text, version = g.version + changed.yes::integer, " \
	" updated_at = CASE WHEN changed.yes THEN now() ELSE g.updated_at END " \
	"FROM ps, changed " \
	"WHERE g.id = $11::uuid AND g.org_id = $1::uuid AND g.version = $12::integer " \
	" AND (SELECT p FROM missing) IS NULL " \
	"RETURNING g.*), " \
	"u AS (" \
	"UPDATE events e " \
	"SET title = ch.title, timezone = ch.timezone, all_day = ch.all_day, " \
	" start_local = ch.start_local, end_local = ch.end_local, start_utc = ch.start_utc, " \
	" end_utc = ch.end_utc, last_end_utc = ch.last_end_utc, reminders = ch.reminders, " \
	" status = ch.status, partners = ch.partners, visibility = ch.visibility, " \
	" cancelled_at = CASE WHEN ch.status = 'cancelled' THEN coalesce(e.cancelled_at, now()) END, " \
	" sequence = e.sequence + ch.shown::integer, version = e.version + 1, updated_at = now() " \
	"FROM ch, a " \
	"WHERE e.id = ch.id " \
	"RETURNING e.*), " \
	"m AS (" AG_INSERT_EVENTS "), " \
	"cur AS (" \
	"SELECT * FROM u " \
	"UNION ALL " \
	"SELECT * FROM m " \
	"UNION ALL " \
	"SELECT e.* " \
	"FROM events e " \
	"WHERE e.agreement_id = $11::uuid AND e.id NOT IN (SELECT id FROM u)) " \
	AG_ANSWER("cur")

/* An agreement ($1) as org $2 (slug $3) sees it, its version, whether the
 * caller owns it, its zone. */
#define SQL_AGREEMENT_GET \
	"SELECT " AG_JSON("events") "," \
	"       a.version," \
	"       a.org_id = $2::uuid," \
	"       a.timezone" \
	"  FROM agreements a" \
	"  JOIN orgs o ON o.id = a.org_id" \
	" WHERE a.id = $1::uuid" \
	"   AND " AG_VISIBLE("$2::uuid", "$3::text")

/* The agreements org $1 (slug $2) may see. */
#define SQL_AGREEMENT_LIST \
	"SELECT " AG_JSON("events") \
	"  FROM agreements a" \
	"  JOIN orgs o ON o.id = a.org_id" \
	" WHERE " AG_VISIBLE("$1::uuid", "$2::text") \
	" ORDER BY a.created_at, a.id" \
	" LIMIT 1000"

/* clang-format on */

#endif
