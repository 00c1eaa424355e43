/* rowcache.h - single rows kept as the answers made of them, one cache
 * per worker thread (GET /v1/events/{id}, GET /v1/orgs/{slug}): a hot row
 * read again costs no round trip to PostgreSQL.
 *
 * A row is as fresh as a cached feed (core/changes.h): it is served while
 * no change this instance knows of could reach it since it was read (its
 * own writes bump the data generation before they are answered, other
 * writers' NOTIFY as it arrives), and never longer than row_cache_ttl
 * (1 s, the standby's READFLOOR_MAX_AGE_MS) after its query was sent,
 * which bounds what a lost notification (the LISTEN connection down, a
 * writer without triggers) can hide. A row read under a generation that a
 * change reaching it has passed meanwhile is not kept. Bounded by entries
 * and by bytes; a larger answer is not kept. */
#ifndef LIAISON_ROWCACHE_H
#define LIAISON_ROWCACHE_H

#include "macros.h"

#include <stddef.h>
#include <stdint.h>

#define ROWCACHE_SETS    1024 /* power of two; ROWCACHE_WAYS entries each */
#define ROWCACHE_WAYS    4
#define ROWCACHE_BYTES   ((size_t)4 << 20) /* per thread */
#define ROWCACHE_ROW_MAX ((size_t)16 << 10)

struct rowcache;

/* What a cached answer holds. org and slug name the org whose changes
 * reach the row (sql/020's payloads name it): empty for a row only a
 * change reaching everything may touch (an org: its table's NOTIFY says
 * "orgs"). network and partners, with org, say who may see it (the
 * events' EV_VISIBLE). */
struct row {
	const char *body;
	size_t len;
	const char *tag;      /* its version, the ETag's value, or "" */
	const char *org;      /* the owner org's id, or "" */
	const char *slug;     /* its slug, or "" */
	const char *partners; /* slugs that may see it too, comma-separated */
	int network;          /* every org may see it */
};

/* A cache whose rows live ttl_ms at most (0: none is kept). */
struct rowcache *rowcache_new(int64_t ttl_ms) WUR;
void rowcache_free(struct rowcache *c);

/* The row kept under key if it is still fresh at data generation
 * `generation` (else NULL, and it is dropped). Its strings stay valid
 * until the next rowcache_put on c. */
const struct row *rowcache_get(struct rowcache *c, const char *key, unsigned generation);

/* Keeps row under key, read by a query sent at sent_ms (monotonic) under
 * `generation` (loaded before it was sent); `now` is the generation when
 * the answer came. Nothing is kept when a change between them could reach
 * it, nor when it is larger than ROWCACHE_ROW_MAX, nor when memory runs
 * out; past the bytes, older rows make room. */
void rowcache_put(struct rowcache *c, const char *key, unsigned generation, unsigned now,
                  int64_t sent_ms, const struct row *row);

/* Whether the org of id org and slug slug may see row. */
int row_visible(const struct row *row, const char *org, const char *slug);

#endif
