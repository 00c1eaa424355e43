/* visits_sql.h - the statements of /v1/visits (api/visits.c,
 * visit_list.c, programme.c): a visit as a caller sees it, and the
 * statements that write a visit with its delegates, its programme and the
 * events of both. The representation is core/visit_sql.h. */
#ifndef LIAISON_VISITS_SQL_H
#define LIAISON_VISITS_SQL_H

#include "api/instants.h"
#include "api/events_sql.h"
#include "core/visit_sql.h"

/* clang-format off */

/* A visit as the caller ($2 org id, $3 slug) sees it, by id ($1): its
 * JSON (items with their conflicts when $4 is true), version, whether
 * the caller owns it, the owner's zone, whether the caller is party, and
 * the names of the orgs it names (for the printable programme). */
#define SQL_VISIT_GET \
	"SELECT " VISIT_JSON(VISIT_PARTY("$2::uuid", "$3::text"), \
	                     "CASE WHEN $4::boolean THEN jsonb_build_object('conflicts', " \
	                     EV_CONFLICTS("$2::uuid", "$3::text") ") ELSE '{}'::jsonb END") "::text," \
	"       v.version," \
	"       v.org_id = $2::uuid," \
	"       o.timezone," \
	"       " VISIT_PARTY("$2::uuid", "$3::text") "," \
	"       (SELECT jsonb_object_agg(x.slug, x.name)" \
	"          FROM orgs x" \
	"         WHERE x.id = v.org_id" \
	"            OR x.slug = ANY (v.partners))::text" \
	"  FROM visits v" \
	"  JOIN orgs o ON o.id = v.org_id" \
	" WHERE v.id = $1::uuid" \
	"   AND " VISIT_VISIBLE("$2::uuid", "$3::text")
enum { VG_JSON, VG_VERSION, VG_MINE, VG_ORG_TZ, VG_PARTY, VG_ORG_NAMES };

/* The write's input, $2: the visit's fields, its own event's, and lists
 * of delegates and items (visit_check.c). A partner that names no
 * org stops the write (missing). */
#define VISIT_MISSING \
	"missing AS (" \
	"  SELECT min(p) AS p" \
	"    FROM jsonb_array_elements_text($2::jsonb -> 'partners') p" \
	"   WHERE p NOT IN (SELECT slug FROM orgs))"
#define VISIT_IN \
	"vin AS (" \
	"  SELECT r.*" \
	"    FROM jsonb_to_record($2::jsonb) AS r(" \
	"           direction text, title text, titles jsonb, languages jsonb, timezone text," \
	"           arrive timestamp, depart timestamp, arrive_utc bigint, depart_utc bigint," \
	"           city text, country text, purpose text, visibility text, status text," \
	"           ev_status text, description text))"
/* The partners, each once, in the order given. */
#define VISIT_PARTNERS \
	"ps AS (" \
	"  SELECT ARRAY(SELECT p" \
	"                 FROM jsonb_array_elements_text($2::jsonb -> 'partners')" \
	"                      WITH ORDINALITY AS t(p, n)" \
	"                GROUP BY p" \
	"                ORDER BY min(n)) AS partners)"
/* Delegates by position n; did is the id each keeps or gets. */
#define VISIT_DELEGATES_IN \
	"din AS MATERIALIZED (" \
	"  SELECT d.*, coalesce(d.id, gen_random_uuid()) AS did" \
	"    FROM jsonb_to_recordset($2::jsonb -> 'delegates') AS d(" \
	"           id uuid, n integer, name text, title text, organisation text, role text," \
	"           language text, notes text))"
/* Items; iid and eid are the ids of the item and its event, kept or new.
 * people and interpreter name delegates by position. */
#define VISIT_ITEMS_IN \
	"iin AS MATERIALIZED (" \
	"  SELECT x.*, coalesce(x.id, gen_random_uuid()) AS iid," \
	"         coalesce(x.event_id, gen_random_uuid()) AS eid" \
	"    FROM jsonb_to_recordset($2::jsonb -> 'items') AS x(" \
	"           id uuid, event_id uuid, n integer, kind text, titles jsonb, address text," \
	"           notes text, people jsonb, interpreter integer, ev_kind text, title text," \
	"           description text, location text, start_local timestamp," \
	"           end_local timestamp, start_utc bigint, end_utc bigint, reminders jsonb))"
#define VISIT_ITEM_PEOPLE \
	"ARRAY(SELECT d.did" \
	"        FROM jsonb_array_elements_text(x.people) WITH ORDINALITY AS p(n, k)" \
	"        JOIN din d ON d.n = p.n::integer" \
	"       ORDER BY p.k)"
#define VISIT_ITEM_INTERPRETER \
	"(SELECT d.did" \
	"   FROM din d" \
	"  WHERE d.n = x.interpreter)"
/* The rows that keep no id are new: delegates, items and their events
 * (v is the visit written). */
#define VISIT_INSERT_DELEGATES \
	"INSERT INTO visit_delegates (id, visit_id, position, name, title, organisation, role," \
	"                             language, notes)" \
	"SELECT d.did, v.id, d.n, d.name, d.title, d.organisation, d.role, d.language, d.notes" \
	"  FROM v, din d" \
	" WHERE d.id IS NULL"
#define VISIT_INSERT_ITEM_EVENTS \
	"INSERT INTO events (id, org_id, uid, kind, title, description, location, city, country," \
	"                    timezone, all_day, start_local, end_local, start_utc, end_utc," \
	"                    last_end_utc, status, visibility, partners, parent_id, reminders," \
	"                    visit_id, titles)" \
	"SELECT x.eid, $1::uuid, x.eid::text || '@liaison', x.ev_kind, x.title, x.description," \
	"       x.location, vin.city, vin.country, vin.timezone, false, x.start_local," \
	"       x.end_local, to_timestamp(x.start_utc), to_timestamp(x.end_utc)," \
	"       to_timestamp(x.end_utc), vin.ev_status, vin.visibility, ps.partners, v.id," \
	"       ARRAY(SELECT jsonb_array_elements_text(x.reminders)), v.id, x.titles" \
	"  FROM v, vin, ps, iin x" \
	" WHERE x.id IS NULL"
#define VISIT_INSERT_ITEMS \
	"INSERT INTO visit_items (id, visit_id, event_id, position, kind, address, notes, people," \
	"                         interpreter)" \
	"SELECT x.iid, v.id, x.eid, x.n, x.kind, x.address, x.notes, " \
	        VISIT_ITEM_PEOPLE ", " VISIT_ITEM_INTERPRETER \
	"  FROM v, iin x" \
	" WHERE x.id IS NULL"
/* The answer of a write: the visit's id (none: not written) and the first
 * partner that names no org. */
#define VISIT_WRITTEN \
	"SELECT (SELECT id FROM v), (SELECT p FROM missing)"

/* The days the tasks of a visit of org $1 may fall on when it is written
 * with direction $3, arrival $4 and departure $5 (sql/016, 030): those
 * they have, and those they move to if open (every task: one may be
 * reopened meanwhile; a new visit, $2 NULL: the tasks of its
 * checklists). A JSON array of dates. */
#define SQL_VISIT_TASK_DAYS \
	"SELECT coalesce(jsonb_agg(DISTINCT x.day), '[]')::text" \
	"  FROM (SELECT liaison_task_due(c.anchor, c.offset_days, $4::timestamp, $5::timestamp)" \
	"                   AS day" \
	"          FROM checklists k," \
	"               jsonb_to_recordset(k.tasks) AS c(anchor text, offset_days integer)" \
	"         WHERE $2::uuid IS NULL" \
	"           AND k.org_id = $1::uuid" \
	"           AND k.deleted_at IS NULL" \
	"           AND (k.direction IS NULL OR k.direction = $3::text)" \
	"        UNION ALL" \
	"        SELECT liaison_task_due(t.anchor, t.offset_days, $4::timestamp, $5::timestamp)" \
	"          FROM visit_tasks t" \
	"         WHERE t.visit_id = $2::uuid" \
	"        UNION ALL" \
	"        SELECT t.due" \
	"          FROM visit_tasks t" \
	"         WHERE t.visit_id = $2::uuid) x" \
	" WHERE x.day IS NOT NULL"

/* $1 org id, $2 the input, $3 an Idempotency-Key (or NULL), $4 the
 * request's hash and $5 the instants of its tasks' days (instants.h, of
 * SQL_VISIT_TASK_DAYS) or NULL. The visit's own event has the visit's
 * id. */
#define SQL_VISIT_CREATE \
	"WITH " VISIT_MISSING ", " VISIT_IN ", " VISIT_PARTNERS ", " \
	"ids AS MATERIALIZED (" \
	"  SELECT gen_random_uuid() AS id), " \
	"ve AS (" \
	"  INSERT INTO events (id, org_id, uid, kind, title, description, city, country, timezone," \
	"                      all_day, start_local, end_local, start_utc, end_utc, last_end_utc," \
	"                      status, visibility, partners, visit_id, titles)" \
	"  SELECT ids.id, $1::uuid, ids.id::text || '@liaison', 'visit', vin.title," \
	"         vin.description, vin.city, vin.country, vin.timezone, false, vin.arrive," \
	"         vin.depart, to_timestamp(vin.arrive_utc), to_timestamp(vin.depart_utc)," \
	"         to_timestamp(vin.depart_utc), vin.ev_status, vin.visibility, ps.partners, ids.id," \
	"         vin.titles" \
	"    FROM ids, vin, ps" \
	"   WHERE (SELECT p FROM missing) IS NULL" \
	"  RETURNING id), " \
	"v AS (" \
	"  INSERT INTO visits (id, org_id, direction, title, titles, languages, timezone, arrive," \
	"                      depart, city, country, purpose, partners, visibility, status)" \
	"  SELECT ve.id, $1::uuid, vin.direction, vin.title, vin.titles," \
	"         ARRAY(SELECT jsonb_array_elements_text(vin.languages)), vin.timezone," \
	"         vin.arrive, vin.depart, vin.city, vin.country, vin.purpose, ps.partners," \
	"         vin.visibility, vin.status" \
	"    FROM ve, vin, ps" \
	"   WHERE " INSTANTS_SET("$5") \
	"  RETURNING id), " \
	VISIT_DELEGATES_IN ", " \
	"dn AS (" VISIT_INSERT_DELEGATES "), " \
	VISIT_ITEMS_IN ", " \
	"ie AS (" VISIT_INSERT_ITEM_EVENTS "), " \
	"ii AS (" VISIT_INSERT_ITEMS "), " \
	"k AS (" \
	"  INSERT INTO idempotency_keys (org_id, key, request_hash, event_id)" \
	"  SELECT $1::uuid, $3::text, $4::text, v.id" \
	"    FROM v" \
	"   WHERE $3::text IS NOT NULL) " \
	VISIT_WRITTEN

/* Whether a calendar shows the change of event e to the values of
 * (title, titles, description, location, timezone, start, end,
 * reminders, status): SEQUENCE goes up then, as for events (a feed in
 * another language shows the titles). */
#define VISIT_SHOWN(vals) \
	"CASE WHEN (e.title, e.titles, e.description, e.location, e.timezone, e.start_local," \
	"           e.end_local, e.reminders, e.status) IS DISTINCT FROM (" vals ") THEN 1 ELSE 0 END"

/* $1 org id, $2 the input (delegates and items that continue stored
 * ones carry their ids, matched in visit_check.c and
 * visit_items.c), $3 the visit, $4 its version as read, $5 as for a
 * create. Only rows whose values change are written; the visit's version
 * moves (C writes only a patch that changes something). An item left
 * out is removed: its event cancelled (it keeps who it named, so that
 * the cancellation reaches their schedules); removed items' events keep
 * the visit's audience, as long as feeds show them cancelled. A
 * delegate left out is deleted, and with it the stored bodies of the
 * visit's webhook messages and idempotent answers that may name them
 * (they are built again from the visit as it is, if ever needed). */
#define VISIT_ITEM_VALUES \
	"x.title, x.titles, x.description, x.location, vin.timezone, x.start_local, x.end_local," \
	" ARRAY(SELECT jsonb_array_elements_text(x.reminders)), vin.ev_status"
#define SQL_VISIT_UPDATE \
	"WITH " VISIT_MISSING ", " VISIT_IN ", " VISIT_PARTNERS ", " \
	"v AS (" \
	"  UPDATE visits g" \
	"     SET direction = vin.direction, title = vin.title, titles = vin.titles," \
	"         languages = ARRAY(SELECT jsonb_array_elements_text(vin.languages))," \
	"         timezone = vin.timezone, arrive = vin.arrive, depart = vin.depart," \
	"         city = vin.city, country = vin.country, purpose = vin.purpose," \
	"         partners = ps.partners, visibility = vin.visibility, status = vin.status," \
	"         version = g.version + 1, updated_at = now()" \
	"    FROM vin, ps" \
	"   WHERE g.id = $3::uuid" \
	"     AND g.org_id = $1::uuid" \
	"     AND g.version = $4::integer" \
	"     AND (SELECT p FROM missing) IS NULL" \
	"     AND " INSTANTS_SET("$5") \
	"  RETURNING g.id), " \
	"ve AS (" \
	"  UPDATE events e" \
	"     SET title = vin.title, titles = vin.titles, description = vin.description," \
	"         city = vin.city," \
	"         country = vin.country, timezone = vin.timezone, start_local = vin.arrive," \
	"         end_local = vin.depart, start_utc = to_timestamp(vin.arrive_utc)," \
	"         end_utc = to_timestamp(vin.depart_utc)," \
	"         last_end_utc = to_timestamp(vin.depart_utc), status = vin.ev_status," \
	"         visibility = vin.visibility, partners = ps.partners," \
	"         sequence = e.sequence + " VISIT_SHOWN("vin.title, vin.titles, vin.description, NULL::text," \
	"                                   vin.timezone, vin.arrive, vin.depart, '{}'::text[]," \
	"                                   vin.ev_status") "," \
	"         version = e.version + 1, updated_at = now()" \
	"    FROM v, vin, ps" \
	"   WHERE e.id = v.id" \
	"     AND (e.title, e.titles, e.description, e.city, e.country, e.timezone, e.start_local," \
	"          e.end_local, e.status, e.visibility, e.partners)" \
	"         IS DISTINCT FROM" \
	"         (vin.title, vin.titles, vin.description, vin.city, vin.country, vin.timezone," \
	"          vin.arrive, vin.depart, vin.ev_status, vin.visibility, ps.partners)), " \
	VISIT_DELEGATES_IN ", " \
	"dk AS (" \
	"  UPDATE visit_delegates d" \
	"     SET position = x.n, name = x.name, title = x.title, organisation = x.organisation," \
	"         role = x.role, language = x.language, notes = x.notes, updated_at = now()" \
	"    FROM v, din x" \
	"   WHERE d.id = x.id" \
	"     AND d.visit_id = v.id" \
	"     AND (d.position, d.name, d.title, d.organisation, d.role, d.language, d.notes)" \
	"         IS DISTINCT FROM" \
	"         (x.n, x.name, x.title, x.organisation, x.role, x.language, x.notes)), " \
	"dn AS (" VISIT_INSERT_DELEGATES "), " \
	"dd AS (" \
	"  DELETE FROM visit_delegates d" \
	"   USING v" \
	"   WHERE d.visit_id = v.id" \
	"     AND d.id NOT IN (SELECT x.id FROM din x WHERE x.id IS NOT NULL)" \
	"  RETURNING d.id), " \
	VISIT_ITEMS_IN ", " \
	"ik AS (" \
	"  UPDATE events e" \
	"     SET kind = x.ev_kind, title = x.title, titles = x.titles, description = x.description," \
	"         location = x.location, city = vin.city, country = vin.country," \
	"         timezone = vin.timezone, start_local = x.start_local, end_local = x.end_local," \
	"         start_utc = to_timestamp(x.start_utc), end_utc = to_timestamp(x.end_utc)," \
	"         last_end_utc = to_timestamp(x.end_utc)," \
	"         reminders = ARRAY(SELECT jsonb_array_elements_text(x.reminders))," \
	"         status = vin.ev_status, visibility = vin.visibility, partners = ps.partners," \
	"         sequence = e.sequence + " VISIT_SHOWN(VISIT_ITEM_VALUES) "," \
	"         version = e.version + 1, updated_at = now()" \
	"    FROM v, vin, ps, iin x" \
	"   WHERE x.id IS NOT NULL" \
	"     AND e.id = x.eid" \
	"     AND e.visit_id = v.id" \
	"     AND (e.kind, e.title, e.titles, e.description, e.location, e.city, e.country," \
	"          e.timezone, e.start_local, e.end_local, e.start_utc, e.end_utc, e.reminders," \
	"          e.status, e.visibility, e.partners)" \
	"         IS DISTINCT FROM" \
	"         (x.ev_kind, x.title, x.titles, x.description, x.location, vin.city, vin.country," \
	"          vin.timezone, x.start_local, x.end_local, to_timestamp(x.start_utc)," \
	"          to_timestamp(x.end_utc), ARRAY(SELECT jsonb_array_elements_text(x.reminders))," \
	"          vin.ev_status, vin.visibility, ps.partners)), " \
	"ie AS (" VISIT_INSERT_ITEM_EVENTS "), " \
	"gone AS (" \
	"  SELECT i.id, i.event_id, i.removed_at" \
	"    FROM visit_items i, v" \
	"   WHERE i.visit_id = v.id" \
	"     AND i.id NOT IN (SELECT x.id FROM iin x WHERE x.id IS NOT NULL)), " \
	"gc AS (" \
	"  UPDATE events e" \
	"     SET status = 'cancelled', visibility = vin.visibility, partners = ps.partners," \
	"         sequence = e.sequence + CASE WHEN e.status <> 'cancelled' THEN 1 ELSE 0 END," \
	"         version = e.version + 1, updated_at = now()" \
	"    FROM gone, vin, ps" \
	"   WHERE e.id = gone.event_id" \
	"     AND (e.status, e.visibility, e.partners)" \
	"         IS DISTINCT FROM ('cancelled', vin.visibility, ps.partners)), " \
	"gi AS (" \
	"  UPDATE visit_items i" \
	"     SET removed_at = now(), updated_at = now()" \
	"    FROM gone" \
	"   WHERE i.id = gone.id" \
	"     AND gone.removed_at IS NULL), " \
	"ik2 AS (" \
	"  UPDATE visit_items i" \
	"     SET position = x.n, kind = x.kind, address = x.address," \
	"         notes = x.notes, people = " VISIT_ITEM_PEOPLE "," \
	"         interpreter = " VISIT_ITEM_INTERPRETER ", updated_at = now()" \
	"    FROM v, iin x" \
	"   WHERE i.id = x.id" \
	"     AND i.visit_id = v.id), " \
	"ii AS (" VISIT_INSERT_ITEMS "), " \
	"fm AS (" \
	"  UPDATE webhook_messages m" \
	"     SET body = NULL" \
	"    FROM v" \
	"   WHERE m.visit_id = v.id" \
	"     AND m.body IS NOT NULL" \
	"     AND EXISTS (SELECT 1 FROM dd)), " \
	"fk AS (" \
	"  UPDATE idempotency_keys k" \
	"     SET response = NULL" \
	"    FROM v" \
	"   WHERE k.event_id = v.id" \
	"     AND k.response IS NOT NULL" \
	"     AND EXISTS (SELECT 1 FROM dd)) " \
	VISIT_WRITTEN

/* Deletes delegate $3 of visit $1 (owned by $2, at version $4): the
 * person leaves the items that name them, and stored message bodies and
 * idempotent answers of the visit are forgotten, as above. The visit's
 * new version moves reopened tasks (sql/016), so $5 hands the instants
 * of their days, as for a write. Answers the visit's new version, or no
 * row. */
#define SQL_VISIT_DELETE_DELEGATE \
	"WITH v AS (" \
	"  UPDATE visits g" \
	"     SET version = g.version + 1, updated_at = now()" \
	"   WHERE g.id = $1::uuid" \
	"     AND g.org_id = $2::uuid" \
	"     AND g.version = $4::integer" \
	"     AND EXISTS (SELECT 1 FROM visit_delegates d WHERE d.id = $3::uuid AND d.visit_id = g.id)" \
	"     AND " INSTANTS_SET("$5") \
	"  RETURNING g.id, g.version), " \
	"dd AS (" \
	"  DELETE FROM visit_delegates d" \
	"   USING v" \
	"   WHERE d.id = $3::uuid" \
	"     AND d.visit_id = v.id), " \
	"ip AS (" \
	"  UPDATE visit_items i" \
	"     SET people = array_remove(i.people, $3::uuid)," \
	"         interpreter = NULLIF(i.interpreter, $3::uuid), updated_at = now()" \
	"    FROM v" \
	"   WHERE i.visit_id = v.id" \
	"     AND ($3::uuid = ANY (i.people) OR i.interpreter = $3::uuid)), " \
	"fm AS (" \
	"  UPDATE webhook_messages m" \
	"     SET body = NULL" \
	"    FROM v" \
	"   WHERE m.visit_id = v.id" \
	"     AND m.body IS NOT NULL), " \
	"fk AS (" \
	"  UPDATE idempotency_keys k" \
	"     SET response = NULL" \
	"    FROM v" \
	"   WHERE k.event_id = v.id) " \
	"SELECT version FROM v"

/* An Idempotency-Key ($2) of org $1 used before: its request's hash, the
 * visit it made, its first answer, and the visit's version. */
#define SQL_VISIT_IDEMPOTENT \
	"SELECT k.request_hash, k.event_id, k.response," \
	"       (SELECT v.version FROM visits v WHERE v.id = k.event_id)" \
	"  FROM idempotency_keys k" \
	" WHERE k.org_id = $1::uuid" \
	"   AND k.key = $2::text"
#define SQL_VISIT_REMEMBER \
	"UPDATE idempotency_keys" \
	"   SET response = $3::text" \
	" WHERE org_id = $1::uuid" \
	"   AND key = $2::text"

/* One half of a list (visit_list.c): the visits visible to org $me (slug
 * $slug), with the representation (delegates for a party) and the
 * cursor's columns (the visit's own event e); the filters' conditions
 * follow, then SQL_VISIT_LIST_ORDER. */
#define SQL_VISIT_LIST_HALF \
	"(SELECT " VISIT_JSON(VISIT_PARTY("$%d::uuid", "$%d::text"), "'{}'::jsonb") "::text," \
	"        extract(epoch FROM e.start_utc)::bigint AS t," \
	"        e.id" \
	"   FROM visits v" \
	"   JOIN events e ON e.id = v.id" \
	"   JOIN orgs o ON o.id = v.org_id" \
	"  WHERE " VISIT_VISIBLE("$%d::uuid", "$%d::text")
#define SQL_VISIT_LIST_ORDER " ORDER BY e.start_utc, e.id LIMIT $%d::integer)"

/* person= of the list: visits of which one of the names ($n, a JSON
 * array) is a delegate, for an org ($me, $slug) party to them. */
#define SQL_VISIT_LIST_PERSON \
	" AND EXISTS (SELECT 1" \
	"               FROM visit_delegates d" \
	"              WHERE d.visit_id = v.id" \
	"                AND d.person IN (SELECT liaison_place(x)" \
	"                                   FROM jsonb_array_elements_text($%d::jsonb) x))" \
	" AND " VISIT_PARTY("$%d::uuid", "$%d::text")

/* direction= and status= of the list ($n, a JSON array). */
#define SQL_VISIT_LIST_ENUM(column) \
	" AND v." column " = ANY(ARRAY(SELECT jsonb_array_elements_text($%d::jsonb)))"

/* clang-format on */

#endif
