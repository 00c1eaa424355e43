/* feed_cache.h - the rendered feeds, plain and gzip, kept once for all the
 * worker threads within a byte limit, and how one is served from there
 * (ETag, Last-Modified, 304, gzip). A rendered body is shared with the
 * answers still sending it, on whichever thread: a large one, once its
 * plain bytes are sent again, is kept in a memory file and sent from there
 * by sendfile (the copy from user memory into the socket is most of what
 * serving a cached feed costs); a small one, or one sent only to the
 * request that rendered it, in memory, by a count kept with its bytes.
 * Each thread also keeps, per feed, the rendering it has under way (a
 * request waits for its own thread's: its answer is written by that
 * thread's loop). */
#ifndef LIAISON_FEED_CACHE_H
#define LIAISON_FEED_CACHE_H

#include "macros.h"
#include "token.h"

#include <stddef.h>
#include <stdint.h>

struct req;
struct feedfetch;
struct feed_list;

#define FEED_TTL_MS (300 * 1000)

/* ---- one thread's renderings under way ------------------------------------ */

struct feedcache;
/* The slot of a feed on one thread (which may be another feed's too). */
struct feed_entry {
	struct feedfetch *inflight; /* a rendering for this slot under way */
};
struct feedcache *feedcache_new(void);
void feedcache_free(struct feedcache *c);
/* The slot of the feed of token hash `hash`. */
struct feed_entry *feed_entry_for(struct feedcache *c, const char *hash);

/* ---- the rendered feeds, shared by every thread ---------------------------- */

/* One rendered feed, plain and gzip, with the headers that go with each.
 * It is current while no change that could reach its feed was heard
 * (the generation, core/changes.h) and for at most FEED_TTL_MS, since "a
 * year back" and "cancelled for 30 days" move with the clock. While the
 * database is down a stale one is served rather than none. Never changed
 * once made but for its gzip, made the first time a client asks for it,
 * and where its plain bytes are kept (moved to a file when they are sent
 * again); freed with its last reference. */
struct feed_render;

/* The bytes the renderings kept may hold together, plain and gzip, in
 * memory and in memory files (feed_cache_memory); past them the oldest go.
 * Large bodies are kept as unnamed files made in dir (feed_file_dir), or
 * memfds when it is NULL, empty or unusable (said in the log). Call
 * before the threads start. */
void feed_cache_configure(size_t bytes, const char *dir);
/* Keeps body (from feed_body_new; taken over, even on failure), len bytes
 * of the feed of token hash `hash` (of the org of id `org` and slug
 * `slug`: what a change must reach) rendered for generation, its content
 * there since the second `changed`, digest its digest (the ETag's 32 hex
 * digits), and the list it was rendered from (api/feed_list.h; a
 * reference of its own, or NULL), in place of the feed's last rendering unless that one is of a
 * later generation; one larger than the limit is not kept. Returns it,
 * with a reference for the caller, or NULL when out of memory. */
struct feed_render *feed_cache_keep(const char *hash, const char *org, const char *slug,
                                    unsigned generation, int64_t changed, char *body, size_t len,
                                    const char *digest, struct feed_list *list) WUR;
/* A rendering read back at start (api/feed_state.c): its list only, as
 * the base its feed's first rendering splices (feed_cache_list), as after
 * a change it missed; never served. Its list's texts count against the
 * limit (no VEVENT cache shares them). 0 when kept, -1 when not (the
 * limit, memory). */
int feed_cache_restore(const char *hash, const char *org, const char *slug, unsigned generation,
                       int64_t changed, const char *digest, struct feed_list *list) WUR;
/* What feed_cache_each shows of each rendering kept with its list. */
struct feed_saved {
	const char *hash, *org, *slug, *digest;
	int64_t changed;
	const char *body; /* plain */
	size_t len;
	const struct feed_list *list;
};
/* Calls fn on each rendering kept with a list (one read back and not
 * asked for since with a body made of its texts) while fn returns 0; returns
 * the last fn's answer. Under the table's lock: at exit, once the threads
 * are gone. */
int feed_cache_each(int (*fn)(const struct feed_saved *, void *), void *arg);
/* The same while the threads serve feeds, outside the table's lock, for
 * each rendering kept with a list that no call has passed before (one
 * read back counts as passed: its file is there); one fn says it could
 * not save (nonzero) is offered again by the next call. */
void feed_cache_each_unsaved(int (*fn)(const struct feed_saved *, void *), void *arg);
/* A kept rendering's plain bytes, held for a caller: its memory
 * (referenced) or its file mapped; p is NULL when there are none. */
struct feed_bytes {
	const char *p;
	size_t len;
	char *mem;
	void *map;
};
void feed_bytes_release(struct feed_bytes *b);
/* The list the feed of token hash `hash` was last rendered from, current
 * or not, with a reference for the caller; NULL when none is kept. With
 * body, also the plain bytes rendered from it (feed_list.h's at), for the
 * caller to release; none when it has no body (one read back) or its file
 * cannot be mapped. */
struct feed_list *feed_cache_list(const char *hash, struct feed_bytes *body) WUR;
/* Answers r from the rendering of the feed of token hash `hash` when one
 * is kept that is current for generation (_serve), or any (_serve_stale):
 * 1, or 0 when there is none (r is not answered). Safe from any thread. */
int feed_cache_serve(struct req *r, const char *hash, unsigned generation);
int feed_cache_serve_stale(struct req *r, const char *hash);
/* Forgets the feed of token hash `hash` (revoked or rotated). */
void feed_cache_drop(const char *hash);
/* Answers r from fr: 304 when the client has it, else its bytes (gzipped
 * when the client takes gzip, made the first time that is asked); the
 * fetch is recorded. Returns whether its plain bytes were sent. */
int feed_render_serve(struct req *r, struct feed_render *fr);
void feed_render_unref(struct feed_render *fr);
/* What the kept renderings hold: bytes of bodies (their lists count
 * against the limit too, not here), and memory files open (those still
 * being sent included). */
int64_t feed_cache_bytes(void);
int64_t feed_cache_files(void);
/* Drops every rendering (at exit, once the threads are gone). */
void feed_cache_clear(void);

/* Records r, a fetch of the feed of token hash `hash`, answered status
 * with bytes of body (api/feed_fetches.c: in memory, written later). */
void feed_fetched(struct req *r, const char *hash, int status, size_t bytes);
/* A body of len bytes to keep in an entry (one reference), and its end.
 * Its count is atomic: the last answer to send it may be on any thread. */
char *feed_body_new(size_t len);
void feed_body_unref(char *p);

#endif
