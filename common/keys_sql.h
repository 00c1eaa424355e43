/* keys_sql.h - the SQL for orgs and API keys that both the command line
 * (blocking libpq) and the API (the async pool) run: one text, two users. */
#ifndef LIAISON_KEYS_SQL_H
#define LIAISON_KEYS_SQL_H

/* $1 slug, $2 name, $3 timezone, $4 country or NULL, $5 is_host */
#define SQL_ORG_INSERT                                                                             \
	"INSERT INTO orgs (slug, name, timezone, country, is_host) "                               \
	"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slug) DO NOTHING "                               \
	"RETURNING id, slug, name, timezone, country, is_host, "                                   \
	"to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* $1 org slug, $2 name, $3 role, $4 token hash */
#define SQL_KEY_INSERT                                                                             \
	"INSERT INTO api_keys (org_id, name, role, token_hash) "                                   \
	"SELECT id, $2, $3, $4 FROM orgs WHERE slug = $1 "                                         \
	"RETURNING id, name, role, to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#endif
