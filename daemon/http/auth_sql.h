/* auth_sql.h - the credential lookup (http/auth.c). */
#ifndef LIAISON_AUTH_SQL_H
#define LIAISON_AUTH_SQL_H

/* clang-format off */
/* The live key of token hash $1: its id, its org (id, slug, host or not,
 * zone) and its role. */
#define SQL_AUTH_KEY \
	"SELECT k.id, o.id, o.slug, k.role, o.is_host, o.timezone" \
	"  FROM api_keys k" \
	"  JOIN orgs o ON o.id = k.org_id" \
	" WHERE k.token_hash = $1" \
	"   AND k.revoked_at IS NULL"
/* clang-format on */

#endif
