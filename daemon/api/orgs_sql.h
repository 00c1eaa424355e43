/* orgs_sql.h - the statements of /v1/orgs and /v1/keys (api/orgs.c). The
 * inserts of an org and a key are common/keys_sql.h's: the command line
 * runs them too. */
#ifndef LIAISON_ORGS_SQL_H
#define LIAISON_ORGS_SQL_H

#include "keys_sql.h"

/* clang-format off */

/* An org's representation, in org_json()'s order. */
#define ORG_COLUMNS \
	"slug, name, timezone, country, is_host," \
	" to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define SQL_ORG_LIST \
	"SELECT " ORG_COLUMNS \
	"  FROM orgs" \
	" ORDER BY slug"

/* The org of slug $1. */
#define SQL_ORG_GET \
	"SELECT " ORG_COLUMNS \
	"  FROM orgs" \
	" WHERE slug = $1"

/* The first admin key of org $1 (name $2, role $3, token hash $4): no row,
 * no such org; a row of NULLs, the org has a key already; a unique
 * violation of api_keys_first, another was made at once (sql/025). */
#define SQL_ORG_FIRST_KEY \
	"WITH o AS (" \
	"  SELECT id" \
	"    FROM orgs" \
	"   WHERE slug = $1), " \
	"k AS (" \
	"  INSERT INTO api_keys (org_id, name, role, token_hash, first)" \
	"  SELECT o.id, $2, $3, $4, true" \
	"    FROM o" \
	"   WHERE NOT EXISTS (SELECT 1" \
	"                       FROM api_keys k" \
	"                      WHERE k.org_id = o.id" \
	"                        AND k.revoked_at IS NULL)" \
	"  RETURNING id, name, role," \
	"            to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS at) " \
	"SELECT k.id, k.name, k.role, k.at" \
	"  FROM o" \
	"  LEFT JOIN k ON true"

/* The live keys of org $1. */
#define SQL_KEY_LIST \
	"SELECT id, name, role, to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" \
	"  FROM api_keys" \
	" WHERE org_id = $1" \
	"   AND revoked_at IS NULL" \
	" ORDER BY created_at, id"

/* Key $1 of org $2 revoked; the NOTIFY tells every instance to forget
 * cached credentials. */
#define SQL_KEY_DELETE \
	"WITH k AS (" \
	"  UPDATE api_keys" \
	"     SET revoked_at = now()" \
	"   WHERE id = $1" \
	"     AND org_id = $2" \
	"     AND revoked_at IS NULL" \
	"  RETURNING id) " \
	"SELECT id, pg_notify('liaison_keys', id::text)" \
	"  FROM k"

/* clang-format on */

#endif
