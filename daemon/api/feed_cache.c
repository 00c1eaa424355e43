/* feed_cache.c - see feed_cache.h. */
#include "api/feed_cache.h"

#include "api/feed_fetches.h"
#include "http/context.h"
#include "http/http.h"
#include "http/negotiate.h"
#include "macros.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FEED_SLOTS 256 /* per worker thread; a power of two */
struct feedcache {
	struct feed_entry slots[FEED_SLOTS];
};

/* A rendered body is shared with the answers still sending it (a reference
 * in their output buffer, not a copy): a count sits before the bytes. */
struct shared {
	size_t refs;
	char data[];
};

char *feed_body_new(size_t len)
{
	struct shared *sh = malloc(sizeof(*sh) + len);
	if (!sh)
		return NULL;
	sh->refs = 1;
	/* shared_of() finds the allocation again from the bytes. */
	// cppcheck-suppress memleak
	return sh->data;
}

static struct shared *shared_of(const char *p)
{
	return (struct shared *)(void *)(p - offsetof(struct shared, data));
}

void feed_body_unref(char *p)
{
	if (p && --shared_of(p)->refs == 0)
		free(shared_of(p));
}

static void shared_sent(const void *data, size_t len, void *arg)
{
	UNUSED(data);
	UNUSED(len);
	feed_body_unref(arg);
}

struct feedcache *feedcache_new(void)
{
	return calloc(1, sizeof(struct feedcache));
}

void feed_entry_clear(struct feed_entry *e)
{
	struct feedfetch *inflight = e->inflight;
	feed_body_unref(e->body);
	feed_body_unref(e->gz);
	memset(e, 0, sizeof(*e));
	e->inflight = inflight;
}

void feedcache_free(struct feedcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < FEED_SLOTS; i++)
		feed_entry_clear(&c->slots[i]);
	free(c);
}

/* gzip of a body, in memory shared like the body's. */
static char *gzip_body(const char *data, size_t len, size_t *outlen)
{
	size_t bound = http_gzip_bound(len);
	char *out = bound ? feed_body_new(bound) : NULL;
	if (out && http_gzip(data, len, out, bound, outlen) != 0) {
		feed_body_unref(out);
		out = NULL;
	}
	return out;
}

struct feed_entry *feed_entry_for(struct feedcache *c, const char *hash)
{
	unsigned idx = 0;
	for (int i = 0; i < 4; i++)
		idx = idx << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return &c->slots[idx & (FEED_SLOTS - 1)];
}

void feed_fetched(struct req *r, const char *hash, int status, size_t bytes)
{
	fetchlog_record(r->cx->fetches, hash, status, bytes, req_header(r, "User-Agent"));
}

/* Last-Modified is the second the content last changed (see
 * feed_rendered), never later than now (the Date header); If-Modified-Since
 * gets a 304 only for a date at or after that second. */
void feed_entry_serve(struct req *r, struct feed_entry *e)
{
	int gz = http_accepts_gzip(req_header(r, "Accept-Encoding"));
	const char *etag = gz ? e->etag_gz : e->etag;
	int64_t changed = e->changed, now = (int64_t)time(NULL);
	char last_modified[32];
	http_date_format(changed < now ? changed : now, last_modified);
	req_set_etag(r, etag);
	req_add_header(r, "Last-Modified", last_modified);
	req_add_header(r, "Cache-Control", "max-age=300");
	req_add_header(r, "Vary", "Accept-Encoding");
	const char *inm = req_header(r, "If-None-Match");
	int64_t since = http_date_parse(req_header(r, "If-Modified-Since"));
	if (etag_listed(inm, etag) || (!inm && since >= 0 && changed <= since)) {
		feed_fetched(r, e->hash, 304, 0);
		reply_empty(r, 304);
		return;
	}
	/* Compressed when first sent compressed: a rendering that no client
	 * takes gzipped, or that is only revalidated, never costs the deflate. */
	if (gz && !e->gz && !(e->gz = gzip_body(e->body, e->len, &e->gzlen))) {
		feed_fetched(r, e->hash, 500, 0);
		reply_problem(r, 500, "cannot compress the feed");
		return;
	}
	if (gz)
		req_add_header(r, "Content-Encoding", "gzip");
	char *body = gz ? e->gz : e->body;
	size_t len = gz ? e->gzlen : e->len;
	feed_fetched(r, e->hash, 200, len);
	shared_of(body)->refs++;
	reply_shared(r, 200, "text/calendar; charset=utf-8", body, len, shared_sent, body);
}
