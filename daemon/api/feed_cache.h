/* feed_cache.h - the rendered feeds of one worker thread, plain and gzip,
 * and how one is served from there (ETag, Last-Modified, 304, gzip). A
 * rendered body is shared with the answers still sending it: a large one
 * is kept in a memory file and sent from there by sendfile (the copy from
 * user memory into the socket is most of what serving a cached feed
 * costs), a small one in memory, by a count kept with its bytes. Only its
 * worker thread touches a cache. */
#ifndef LIAISON_FEED_CACHE_H
#define LIAISON_FEED_CACHE_H

#include "macros.h"
#include "token.h"

#include <stddef.h>
#include <stdint.h>

struct req;
struct feedcache;
struct evbuffer_file_segment;

#define FEED_TTL_MS (300 * 1000)

/* One rendered feed, plain and gzip, with the headers that go with each.
 * It stays valid while no event or feed changed anywhere (the generation)
 * and for at most FEED_TTL_MS, since "a year back" and "cancelled for 30
 * days" move with the clock. While the database is down a stale entry is
 * served rather than none. */
struct feedfetch;

struct feed_entry {
	char hash[TOKEN_HASH_HEX + 1];
	struct feedfetch *inflight; /* a rendering of this slot under way */
	struct feedcache *cache;    /* the entry's own */
	unsigned generation;
	int64_t rendered_ms;
	/* Each body is in memory or in a memory file, or not made yet. */
	char *body, *gz;
	struct evbuffer_file_segment *file, *gzfile;
	int fd; /* file's, which it closes */
	size_t len, gzlen;
	char etag[40], etag_gz[40]; /* tags unquoted */
	int64_t changed;            /* the second its content last changed */
};

struct feedcache *feedcache_new(void);
void feedcache_free(struct feedcache *c);
/* The slot of the feed of token hash `hash` (which may hold another's). */
struct feed_entry *feed_entry_for(struct feedcache *c, const char *hash);
/* Empties e, keeping the rendering under way for it. */
void feed_entry_clear(struct feed_entry *e);
/* Gives e the body of len bytes (from feed_body_new; taken over, even on
 * failure); 0, or -1 when out of memory. */
int feed_entry_set_body(struct feed_entry *e, char *body, size_t len) WUR;
/* Whether e holds a rendering (of whichever feed). */
int feed_entry_ready(const struct feed_entry *e);
/* Answers r from e: 304 when the client has it, else its bytes (gzipped
 * when the client takes gzip, made the first time that is asked); the
 * fetch is recorded. */
void feed_entry_serve(struct req *r, struct feed_entry *e);
/* Records r, a fetch of the feed of token hash `hash`, answered status
 * with bytes of body (api/feed_fetches.c: in memory, written later). */
void feed_fetched(struct req *r, const char *hash, int status, size_t bytes);
/* A body of len bytes to keep in an entry (one reference), and its end. */
char *feed_body_new(size_t len);
void feed_body_unref(char *p);

#endif
