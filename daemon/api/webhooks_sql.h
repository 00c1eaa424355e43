/* webhooks_sql.h - the SQL of /v1/webhooks and /v1/deliveries
 * (daemon/api/webhooks.c). w is webhook_endpoints, m webhook_messages;
 * $1 is the caller's org, $2 the endpoint's id. */
#ifndef LIAISON_WEBHOOKS_SQL_H
#define LIAISON_WEBHOOKS_SQL_H

#include "core/event_sql.h"
#include "api/filters.h"

/* clang-format off */

/* The representation of an endpoint; the secret is never in it. */
#define WH_JSON \
	"jsonb_build_object(" \
	"  'id', w.id," \
	"  'url', w.url," \
	"  'description', w.description," \
	"  'types', to_jsonb(w.types)," \
	"  'filter', w.filter," \
	"  'rate_limit', w.rate_limit," \
	"  'enabled', w.enabled," \
	"  'disabled_reason', w.disabled_reason," \
	"  'disabled_at', " EV_UTC("w.disabled_at") "," \
	"  'failing_since', " EV_UTC("w.failing_since") "," \
	"  'rotation_ends_at', CASE WHEN w.previous_until > now()" \
	"                      THEN " EV_UTC("w.previous_until") " END," \
	"  'created_at', " EV_UTC("w.created_at") "," \
	"  'updated_at', " EV_UTC("w.updated_at") ")"

/* The endpoint is the caller's and not deleted. */
#define WH_MINE "w.id = $2::uuid AND w.org_id = $1::uuid AND w.deleted_at IS NULL"

/* An endpoint of org $1: url $2, description $3, types $4, filter $5,
 * secret $6, rate limit $7; the filter's orgs must exist. */
#define WH_CREATE \
	"WITH " FILTER_MISSING_ORGS("$5") ", " \
	"w AS (" \
	"  INSERT INTO webhook_endpoints (org_id, url, description, types, filter, secret," \
	"                                 rate_limit)" \
	"  SELECT $1::uuid, $2::text, $3::text, $4::text[], $5::jsonb, $6::text, $7::float8" \
	"   WHERE (SELECT k FROM missing) IS NULL" \
	"  RETURNING *) " \
	"SELECT (SELECT " WH_JSON "::text FROM w)," \
	"       (SELECT k FROM missing)"

/* A merge of the fields given: $n flags say which nullable ones were. */
#define WH_PATCH \
	"WITH " FILTER_MISSING_ORGS("$8") ", " \
	"w AS (" \
	"  UPDATE webhook_endpoints w" \
	"     SET url = coalesce($3::text, w.url)," \
	"         description = CASE WHEN $4::boolean THEN $5::text ELSE w.description END," \
	"         types = coalesce($6::text[], w.types)," \
	"         filter = coalesce($8::jsonb, w.filter)," \
	"         rate_limit = CASE WHEN $9::boolean THEN $10::float8 ELSE w.rate_limit END," \
	"         enabled = coalesce($7::boolean, w.enabled)," \
	"         disabled_reason = CASE WHEN $7::boolean THEN NULL" \
	"                                WHEN NOT $7::boolean AND w.enabled" \
	"                                THEN 'disabled by an admin'" \
	"                                ELSE w.disabled_reason END," \
	"         disabled_at = CASE WHEN $7::boolean THEN NULL" \
	"                            WHEN NOT $7::boolean AND w.enabled THEN now()" \
	"                            ELSE w.disabled_at END," \
	"         failing_since = CASE WHEN $7::boolean THEN NULL ELSE w.failing_since END," \
	"         updated_at = now()" \
	"   WHERE " WH_MINE \
	"     AND (SELECT k FROM missing) IS NULL" \
	"  RETURNING *) " \
	"SELECT (SELECT " WH_JSON "::text FROM w)," \
	"       (SELECT k FROM missing)"

#define WH_GET \
	"SELECT " WH_JSON "::text, NULL" \
	"  FROM webhook_endpoints w" \
	" WHERE " WH_MINE

#define WH_LIST \
	"SELECT " WH_JSON "::text" \
	"  FROM webhook_endpoints w" \
	" WHERE w.org_id = $1::uuid" \
	"   AND w.deleted_at IS NULL" \
	" ORDER BY w.created_at, w.id"

/* Deleting cancels what was still to be sent. */
#define WH_DELETE \
	"WITH w AS (" \
	"  UPDATE webhook_endpoints w" \
	"     SET deleted_at = now()," \
	"         enabled = false" \
	"   WHERE " WH_MINE \
	"  RETURNING w.id), " \
	"c AS (" \
	"  UPDATE webhook_messages m" \
	"     SET state = 'cancelled'," \
	"         finished_at = now()" \
	"    FROM w" \
	"   WHERE m.endpoint_id = w.id" \
	"     AND m.state = 'pending') " \
	"SELECT id FROM w"

/* The old secret keeps signing for 24 hours. */
#define WH_ROTATE \
	"WITH w AS (" \
	"  UPDATE webhook_endpoints w" \
	"     SET previous_secret = w.secret," \
	"         previous_until = now() + interval '24 hours'," \
	"         secret = $3::text," \
	"         updated_at = now()" \
	"   WHERE " WH_MINE \
	"  RETURNING *) " \
	"SELECT " WH_JSON "::text, NULL" \
	"  FROM w"

#define WH_TEST \
	"WITH w AS (" \
	"  SELECT w.*" \
	"    FROM webhook_endpoints w" \
	"   WHERE " WH_MINE "), " \
	"m AS (" \
	"  INSERT INTO webhook_messages (id, endpoint_id, type, body)" \
	"  SELECT liaison_message_id(), w.id, 'webhook.test'," \
	"         jsonb_build_object(" \
	"           'type', 'webhook.test'," \
	"           'timestamp', " EV_UTC("now()") "," \
	"           'data', jsonb_build_object(" \
	"             'endpoint', jsonb_build_object('id', w.id, 'url', w.url)," \
	"             'message', 'A test message from liaison.'))::text" \
	"    FROM w" \
	"  RETURNING id) " \
	"SELECT m.id, (SELECT enabled FROM w)" \
	"  FROM m"

/* Sends again every failed message since $3. */
#define WH_RECOVER \
	"WITH w AS (" \
	"  SELECT w.id" \
	"    FROM webhook_endpoints w" \
	"   WHERE " WH_MINE "), " \
	"m AS (" \
	"  UPDATE webhook_messages m" \
	"     SET state = 'pending'," \
	"         next_attempt_at = now()," \
	"         finished_at = NULL" \
	"    FROM w" \
	"   WHERE m.endpoint_id = w.id" \
	"     AND m.state = 'failed'" \
	"     AND m.created_at >= to_timestamp($3::bigint)" \
	"  RETURNING m.id) " \
	"SELECT (SELECT count(*) FROM w)," \
	"       (SELECT count(*) FROM m)"

#define WH_DELIVERY_JSON \
	"jsonb_build_object(" \
	"  'id', m.id," \
	"  'type', m.type," \
	"  'state', m.state," \
	"  'attempts', m.attempts," \
	"  'event_id', m.event_id," \
	"  'agreement_id', m.agreement_id," \
	"  'visit_id', m.visit_id," \
	"  'task_id', m.task_id," \
	"  'created_at', " EV_UTC("m.created_at") "," \
	"  'next_attempt_at', CASE WHEN m.state = 'pending'" \
	"                     THEN " EV_UTC("m.next_attempt_at") " END," \
	"  'finished_at', " EV_UTC("m.finished_at") "," \
	"  'last_status', m.last_status," \
	"  'last_error', m.last_error," \
	"  'attempt_log', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"                           'at', to_char(a.attempted_at AT TIME ZONE 'UTC'," \
	"                                         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')," \
	"                           'status_code', a.status_code," \
	"                           'duration_ms', a.duration_ms," \
	"                           'error', a.error," \
	"                           'response', a.response) ORDER BY a.id), '[]')" \
	"                   FROM webhook_attempts a" \
	"                  WHERE a.message_id = m.id))"

/* Newest first; $3 state or NULL, $4/$5 the cursor (microseconds, id) or
 * NULL, $6 the page size + 1. */
/* A reminder's message written ahead of its fire time (sql/019), not yet
 * due: not in the log until it falls due (it may yet be taken back),
 * whether waiting or claimed as written (sql/022). A message handed back
 * to wait for a rate limit is due at another time. */
#define WH_AHEAD(m) \
	"(" m ".reminder_id IS NOT NULL" \
	" AND " m ".state IN ('pending', 'sending')" \
	" AND " m ".next_attempt_at > now()" \
	" AND " m ".next_attempt_at = (SELECT r.fire_at FROM reminders r WHERE r.id = " m ".reminder_id))"
#define WH_DELIVERIES \
	"SELECT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE " WH_MINE ")," \
	"       (SELECT coalesce(jsonb_agg(j ORDER BY t DESC, id DESC), '[]')" \
	"          FROM (SELECT " WH_DELIVERY_JSON " || jsonb_build_object(" \
	"                         'cursor', (extract(epoch FROM m.created_at) * 1000000)::bigint" \
	"                                   || '.' || m.id) AS j," \
	"                       (extract(epoch FROM m.created_at) * 1000000)::bigint AS t," \
	"                       m.id" \
	"                  FROM webhook_messages m" \
	"                  JOIN webhook_endpoints w ON w.id = m.endpoint_id" \
	"                 WHERE " WH_MINE \
	"                   AND ($3::text IS NULL OR m.state = $3::text)" \
	"                   AND NOT " WH_AHEAD("m") \
	"                   AND ($4::bigint IS NULL" \
	"                        OR ((extract(epoch FROM m.created_at) * 1000000)::bigint, m.id)" \
	"                           < ($4::bigint, $5::text))" \
	"                 ORDER BY m.created_at DESC, m.id DESC" \
	"                 LIMIT $6::int) x)::text"

/* A finished message goes again, at once; one still under way is left. */
#define WH_RETRY \
	"WITH t AS (" \
	"  SELECT m.id, m.state" \
	"    FROM webhook_messages m" \
	"    JOIN webhook_endpoints w ON w.id = m.endpoint_id" \
	"   WHERE m.id = $2::text" \
	"     AND w.org_id = $1::uuid" \
	"     AND w.deleted_at IS NULL), " \
	"u AS (" \
	"  UPDATE webhook_messages m" \
	"     SET state = 'pending'," \
	"         next_attempt_at = now()," \
	"         finished_at = NULL" \
	"    FROM t" \
	"   WHERE m.id = t.id" \
	"     AND t.state IN ('delivered', 'failed', 'cancelled')" \
	"  RETURNING m.id) " \
	"SELECT (SELECT state FROM t)," \
	"       (SELECT count(*) FROM u)"

/* clang-format on */

#endif
