/* feed_fetch.h - what feed_serve.c lends the renderers of feeds of other
 * modes (feed_freebusy.c): the fetch under way, whose ending answers its
 * request and those waiting for the same feed, and keeps the rendering in
 * the shared cache (ETag, Last-Modified, gzip, 304). Each fetch ends
 * exactly once, by one of the calls below. */
#ifndef LIAISON_FEED_FETCH_H
#define LIAISON_FEED_FETCH_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct feedfetch;
struct dbpool;
struct event_base;

/* The pool to ask (the primary: for what a rendering writes and reads
 * back); the pool to read the feed's rows from (a standby's, when there
 * is one); the digest of the last rendering's content ("" before
 * the first); the second that content appeared (0 before the first);
 * and the second the content of this rendering appeared: changed, or 0
 * for now (this second, or the next if the last change took it). */
struct dbpool *feedfetch_db(const struct feedfetch *ff);
struct dbpool *feedfetch_db_read(const struct feedfetch *ff);
const char *feedfetch_digest(const struct feedfetch *ff);
int64_t feedfetch_changed(const struct feedfetch *ff);
void feedfetch_set_changed(struct feedfetch *ff, int64_t changed);
/* The loop the fetch runs on, for work cut into slices. */
struct event_base *feedfetch_base(const struct feedfetch *ff);

/* Ends with a failed query (res NULL: the database could not be asked,
 * and a stale rendering is served if there is one), or with a 500. */
void feedfetch_query_failed(struct feedfetch *ff, const PGresult *res);
void feedfetch_failed(struct feedfetch *ff, const char *why);

/* Ends with body (from feed_body_new, feed_cache.h), its length and its
 * digest (32 hex digits: the ETag): kept in the thread's cache with the
 * time set above (Last-Modified), and answered. The caller records what
 * changed (feed_state). */
void feedfetch_keep(struct feedfetch *ff, char *body, size_t len, const char *digest);

/* Fetches a feed of mode "freebusy" (feed_freebusy.c); feed is the row of
 * SQL_FEED_LOOKUP (FEED_COL_*). */
void feed_freebusy_fetch(struct feedfetch *ff, const PGresult *feed);

#endif
