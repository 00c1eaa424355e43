/* feed_cache.c - see feed_cache.h. */
#include "api/feed_cache.h"

#include "api/feed_fetches.h"
#include "http/context.h"
#include "http/http.h"
#include "http/negotiate.h"
#include "macros.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FEED_SLOTS 256 /* per worker thread; a power of two */
/* A body this large goes to a memory file: below it libevent writes it in
 * one go anyway (its bufferevents write at most 16 KiB per turn of the
 * loop, sendfile as much as the socket takes). The files per thread are
 * few, so that cached feeds never take the descriptors connections need;
 * past them bodies stay in memory. */
#define FILE_MIN  16384
#define FILES_MAX 32
struct feedcache {
	struct feed_entry slots[FEED_SLOTS];
	int nfiles;
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
	struct feedcache *c = calloc(1, sizeof(struct feedcache));
	for (int i = 0; c && i < FEED_SLOTS; i++)
		c->slots[i].cache = c;
	return c;
}

/* A memory file holding data, as a segment that closes it once neither
 * the entry nor an answer still sending it holds it; NULL when the thread
 * has its files already or the system will not give one (the caller keeps
 * data in memory). */
static struct evbuffer_file_segment *file_of(struct feedcache *c, const char *data, size_t len,
                                             int *fdp)
{
	if (c->nfiles >= FILES_MAX)
		return NULL;
	int fd = memfd_create("liaison-feed", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (size_t at = 0; at < len;) {
		ssize_t n = write(fd, data + at, len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return NULL;
		}
		at += (size_t)n;
	}
	struct evbuffer_file_segment *seg =
	    evbuffer_file_segment_new(fd, 0, (ev_off_t)len, EVBUF_FS_CLOSE_ON_FREE);
	if (!seg) {
		close(fd);
		return NULL;
	}
	c->nfiles++;
	*fdp = fd;
	return seg;
}

static void file_drop(struct feedcache *c, struct evbuffer_file_segment *seg)
{
	if (!seg)
		return;
	evbuffer_file_segment_free(seg);
	c->nfiles--;
}

void feed_entry_clear(struct feed_entry *e)
{
	struct feedfetch *inflight = e->inflight;
	struct feedcache *c = e->cache;
	feed_body_unref(e->body);
	feed_body_unref(e->gz);
	file_drop(c, e->file);
	file_drop(c, e->gzfile);
	memset(e, 0, sizeof(*e));
	e->inflight = inflight;
	e->cache = c;
}

int feed_entry_ready(const struct feed_entry *e)
{
	return e->body || e->file;
}

/* Into a file when large enough and one is free, else kept as it is. */
static void place(struct feed_entry *e, char **body, struct evbuffer_file_segment **file,
                  size_t len, int *fd)
{
	if (len >= FILE_MIN && (*file = file_of(e->cache, *body, len, fd))) {
		feed_body_unref(*body);
		*body = NULL;
	}
}

int feed_entry_set_body(struct feed_entry *e, char *body, size_t len)
{
	if (!body)
		return -1;
	e->body = body;
	e->len = len;
	place(e, &e->body, &e->file, len, &e->fd);
	return 0;
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

/* e's gzip body, made from its plain one (read back from its file through
 * a mapping when it is there); 0, or -1. */
static int gzip_entry(struct feed_entry *e)
{
	const char *plain = e->body;
	void *map = NULL;
	if (!plain) {
		map = mmap(NULL, e->len, PROT_READ, MAP_SHARED, e->fd, 0);
		if (map == MAP_FAILED)
			return -1;
		plain = map;
	}
	e->gz = gzip_body(plain, e->len, &e->gzlen);
	if (map)
		munmap(map, e->len);
	if (!e->gz)
		return -1;
	int fd;
	place(e, &e->gz, &e->gzfile, e->gzlen, &fd);
	return 0;
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
	if (gz && !e->gz && !e->gzfile && gzip_entry(e) != 0) {
		feed_fetched(r, e->hash, 500, 0);
		reply_problem(r, 500, "cannot compress the feed");
		return;
	}
	if (gz)
		req_add_header(r, "Content-Encoding", "gzip");
	static const char type[] = "text/calendar; charset=utf-8";
	char *body = gz ? e->gz : e->body;
	struct evbuffer_file_segment *file = gz ? e->gzfile : e->file;
	size_t len = gz ? e->gzlen : e->len;
	feed_fetched(r, e->hash, 200, len);
	if (file) {
		reply_file_segment(r, 200, type, file, 0, len);
		return;
	}
	shared_of(body)->refs++;
	reply_shared(r, 200, type, body, len, shared_sent, body);
}
