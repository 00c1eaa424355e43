/* auth.c - who is asking. A token is looked up by its SHA-256 once and
 * then served from this thread's cache for CACHE_TTL_MS. Revoking a key
 * anywhere NOTIFYs liaison_keys; every instance bumps its generation and
 * so drops every cached credential at once. The TTL bounds staleness if a
 * notification is lost while the LISTEN connection is down.
 *
 * Unknown tokens cost a query each, so they are kept too, for
 * NEGATIVE_TTL_MS (a token is random: one that was unknown a moment ago
 * is still unknown, unless guessed the moment it was made), and a client
 * address that keeps sending unknown tokens (auth_failure_limit, a token
 * bucket shared by the threads) gets 429 instead of a lookup for a token
 * not cached, while the tokens cached keep working. A missing or
 * malformed token costs no lookup and does not count. */
#include "http/auth.h"

#include "http/auth_sql.h"

#include "dbpool.h"
#include "http/http.h"
#include "core/metrics.h"
#include "http/ratelimit.h"
#include "http/context.h"
#include "token.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CACHE_SLOTS     4096 /* power of two */
#define CACHE_TTL_MS    10000
#define NEGATIVE_SLOTS  1024 /* power of two */
#define NEGATIVE_TTL_MS 5000

struct auth_entry {
	char hash[TOKEN_HASH_HEX + 1];
	struct principal who;
	int64_t expires_ms;
	unsigned generation;
};

struct neg_entry {
	char hash[TOKEN_HASH_HEX + 1];
	int64_t expires_ms;
};

struct authcache {
	struct auth_entry slots[CACHE_SLOTS];
	struct neg_entry unknown[NEGATIVE_SLOTS];
};

struct authcache *authcache_new(void)
{
	return calloc(1, sizeof(struct authcache));
}

void authcache_free(struct authcache *c)
{
	free(c);
}

static struct auth_entry *slot_for(struct authcache *c, const char *hash)
{
	/* The hash is uniformly random already: its first hex digits index. */
	unsigned idx = 0;
	for (int i = 0; i < 4; i++)
		idx = idx << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return &c->slots[idx & (CACHE_SLOTS - 1)];
}

const char auth_key_sql[] = SQL_AUTH_KEY;

struct auth_wait {
	struct req *r;
	void (*next)(struct req *r);
	char hash[TOKEN_HASH_HEX + 1];
	unsigned generation;
};

static struct neg_entry *negative_slot(struct authcache *c, const char *hash)
{
	unsigned idx = 0;
	for (int i = 4; i < 8; i++)
		idx = idx << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return &c->unknown[idx & (NEGATIVE_SLOTS - 1)];
}

static void deny(struct req *r, const char *detail)
{
	metrics_inc(M_AUTH_FAILED);
	req_add_header(r, "WWW-Authenticate", "Bearer realm=\"liaison\"");
	reply_problem(r, 401, detail);
}

static enum role role_parse(const char *s)
{
	if (!strcmp(s, "admin"))
		return ROLE_ADMIN;
	if (!strcmp(s, "editor"))
		return ROLE_EDITOR;
	return ROLE_VIEWER;
}

static void on_key(PGresult *res, void *arg)
{
	struct auth_wait *aw = arg;
	struct req *r = aw->r;
	if (!res) {
		free(aw);
		reply_unavailable(r);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		free(aw);
		reply_db_error(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		struct neg_entry *n = negative_slot(r->cx->auth, aw->hash);
		memcpy(n->hash, aw->hash, sizeof(n->hash));
		n->expires_ms = now_monotonic_ms() + NEGATIVE_TTL_MS;
		authlimit_fail(r->peer, now_monotonic_ms());
		free(aw);
		deny(r, "unknown or revoked token");
		return;
	}
	struct principal *p = &r->who;
	snprintf(p->key_id, sizeof(p->key_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(p->org_id, sizeof(p->org_id), "%s", PQgetvalue(res, 0, 1));
	snprintf(p->org_slug, sizeof(p->org_slug), "%s", PQgetvalue(res, 0, 2));
	p->role = role_parse(PQgetvalue(res, 0, 3));
	p->is_host = PQgetvalue(res, 0, 4)[0] == 't';
	snprintf(p->org_tz, sizeof(p->org_tz), "%s", PQgetvalue(res, 0, 5));
	/* Only cache what was read under the generation still current. */
	if (aw->generation == atomic_load(r->cx->auth_generation)) {
		struct auth_entry *e = slot_for(r->cx->auth, aw->hash);
		memcpy(e->hash, aw->hash, sizeof(e->hash));
		e->who = *p;
		e->expires_ms = now_monotonic_ms() + CACHE_TTL_MS;
		e->generation = aw->generation;
	}
	void (*next)(struct req *) = aw->next;
	free(aw);
	next(r);
}

void auth_then(struct req *r, void (*next)(struct req *r))
{
	const char *h = req_header(r, "Authorization");
	if (!h) {
		deny(r, "send Authorization: Bearer TOKEN");
		return;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		deny(r, "the Authorization scheme must be Bearer");
		return;
	}
	const char *tok = h + 7;
	while (*tok == ' ')
		tok++;
	if (!token_well_formed(tok)) {
		deny(r, "unknown or revoked token");
		return;
	}
	char hash[TOKEN_HASH_HEX + 1];
	if (token_hash(tok, strlen(tok), hash)) {
		reply_problem(r, 500, "cannot hash the token");
		return;
	}
	unsigned gen = atomic_load(r->cx->auth_generation);
	struct auth_entry *e = slot_for(r->cx->auth, hash);
	if (e->generation == gen && e->expires_ms > now_monotonic_ms() &&
	    memcmp(e->hash, hash, sizeof(hash)) == 0) {
		metrics_inc(M_AUTH_CACHE_HIT);
		r->who = e->who;
		next(r);
		return;
	}
	struct neg_entry *n = negative_slot(r->cx->auth, hash);
	int64_t now = now_monotonic_ms();
	if (n->expires_ms > now && memcmp(n->hash, hash, sizeof(hash)) == 0) {
		metrics_inc(M_AUTH_CACHE_HIT);
		authlimit_fail(r->peer, now);
		deny(r, "unknown or revoked token");
		return;
	}
	int wait = authlimit_check(r->peer, now);
	if (wait > 0) {
		metrics_inc(M_AUTH_THROTTLED);
		reply_retry_after(r, 429, wait,
		                  "too many unknown tokens from this address; slow down");
		return;
	}
	metrics_inc(M_AUTH_CACHE_MISS);
	struct auth_wait *aw = calloc(1, sizeof(*aw));
	if (!aw) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	aw->r = r;
	aw->next = next;
	aw->generation = gen;
	memcpy(aw->hash, hash, sizeof(hash));
	const char *params[] = {hash};
	if (dbpool_query(r->cx->db, auth_key_sql, 1, params, on_key, aw) != 0) {
		free(aw);
		reply_unavailable(r);
	}
}
