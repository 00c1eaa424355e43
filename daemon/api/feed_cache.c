/* feed_cache.c - see feed_cache.h. The renderings are in a set-associative
 * table keyed by token hash, under one mutex held only to find or place one
 * (as core/vevents.c does): an answer takes a reference to the rendering
 * and sends it after the lock is let go, so the lock is never held across
 * a write to a socket. Its bytes are bounded: past the limit the renderings
 * of an older generation go first, then the oldest. A rendering's bodies
 * live as long as an answer still sends them, on whichever thread: counts
 * kept with atomics, and for a memory file libevent's own, under its lock
 * (evthread_use_pthreads, main.c). */
#include "api/feed_cache.h"

#include "api/feed_fetches.h"
#include "api/feed_list.h"
#include "clock.h"
#include "core/changes.h"
#include "core/metrics.h"
#include "http/context.h"
#include "http/http.h"
#include "http/negotiate.h"
#include "log.h"
#include "macros.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The table's, and a plain coding's move to a file (promote). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- one thread's renderings under way ------------------------------------ */

#define FEED_SLOTS 256 /* per worker thread; a power of two */
struct feedcache {
	struct feed_entry slots[FEED_SLOTS];
};

/* The first hex digits of a token hash, as a number (the hash is a
 * digest: any of its digits spread evenly). */
static unsigned hash_index(const char *hash, int digits)
{
	unsigned idx = 0;
	for (int i = 0; i < digits; i++)
		idx = idx << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return idx;
}

struct feedcache *feedcache_new(void)
{
	return calloc(1, sizeof(struct feedcache));
}

void feedcache_free(struct feedcache *c)
{
	free(c);
}

struct feed_entry *feed_entry_for(struct feedcache *c, const char *hash)
{
	return &c->slots[hash_index(hash, 4) & (FEED_SLOTS - 1)];
}

/* ---- bodies ----------------------------------------------------------------- */

/* A rendered body is shared with the answers still sending it (a reference
 * in their output buffer, not a copy): a count sits before the bytes. */
struct shared {
	atomic_size_t refs;
	char data[];
};

char *feed_body_new(size_t len)
{
	struct shared *sh = malloc(sizeof(*sh) + len);
	if (!sh)
		return NULL;
	atomic_init(&sh->refs, 1);
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
	if (p && atomic_fetch_sub(&shared_of(p)->refs, 1) == 1)
		free(shared_of(p));
}

static void shared_sent(const void *data, size_t len, void *arg)
{
	UNUSED(data);
	UNUSED(len);
	feed_body_unref(arg);
}

/* One content coding of a rendering: in memory or in a memory file. */
struct coding {
	char *mem;
	struct evbuffer_file_segment *file;
	int fd; /* file's, which it closes */
	size_t len;
};

/* A body this large goes to a memory file (a plain one once it is sent
 * again, promote; a gzip one when made): below it libevent writes it in
 * one go anyway (its bufferevents write at most 16 KiB per turn of the
 * loop, sendfile as much as the socket takes). The files are few, counted
 * for the whole process until each is closed (its last answer sent), so
 * that cached feeds never take the descriptors connections need; past
 * them bodies stay in memory. */
#define FILE_MIN  16384
#define FILES_MAX FEED_FILES_MAX
static atomic_int nfiles;

/* Where the files are made (feed_file_dir), or -1: unnamed files of a
 * disk's filesystem rather than memfds, because the page cache keeps a
 * disk file's pages in large folios, which sendfile hands to the socket a
 * folio at a time, where shmem (memfd, tmpfs) looks every 4 KiB page up on
 * its own; and its pages can be written out under memory pressure. A file
 * closed before the kernel writes it back (most are: a rendering lives
 * until the next change, five minutes at most) never reaches the disk. */
static int file_dir = -1;

static int file_in_dir(int dir)
{
	return openat(dir, ".", O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
}

static void files_configure(const char *dir)
{
	if (file_dir >= 0)
		close(file_dir);
	file_dir = -1;
	if (!dir || !*dir)
		return;
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC),
	    probe = fd >= 0 ? file_in_dir(fd) : -1;
	if (probe < 0) {
		log_warn("feed_file_dir %s: %s; rendered feeds are kept in memory files", dir,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(probe);
	file_dir = fd;
}

static void file_closed(const struct evbuffer_file_segment *seg, int flags, void *arg)
{
	UNUSED(seg);
	UNUSED(flags);
	UNUSED(arg);
	atomic_fetch_sub(&nfiles, 1);
}

/* A file holding data (an unnamed one of feed_file_dir, else a memfd), as a segment that closes it
 * once neither the rendering nor an answer still sending it holds it; NULL when the files are taken
 * or the system will not give one (the caller keeps data in memory). */
static struct evbuffer_file_segment *file_of(const char *data, size_t len, int *fdp)
{
	if (atomic_fetch_add(&nfiles, 1) >= FILES_MAX) {
		atomic_fetch_sub(&nfiles, 1);
		return NULL;
	}
	int fd = file_dir >= 0 ? file_in_dir(file_dir) : -1;
	if (fd < 0)
		fd = memfd_create("liaison-feed", MFD_CLOEXEC);
	for (size_t at = 0; fd >= 0 && at < len;) {
		ssize_t n = write(fd, data + at, len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			fd = -1;
		} else {
			at += (size_t)n;
		}
	}
	struct evbuffer_file_segment *seg =
	    fd >= 0 ? evbuffer_file_segment_new(fd, 0, (ev_off_t)len, EVBUF_FS_CLOSE_ON_FREE)
	            : NULL;
	if (!seg) {
		if (fd >= 0)
			close(fd);
		atomic_fetch_sub(&nfiles, 1);
		return NULL;
	}
	evbuffer_file_segment_add_cleanup_cb(seg, file_closed, NULL);
	*fdp = fd;
	return seg;
}

/* A coding of mem (taken over): into a file when large enough and one is
 * free, else kept as it is. */
static void coding_set(struct coding *c, char *mem, size_t len)
{
	c->mem = mem;
	c->len = len;
	if (len >= FILE_MIN && (c->file = file_of(mem, len, &c->fd))) {
		feed_body_unref(mem);
		c->mem = NULL;
	}
}

/* A copy of c, its memory referenced for the caller (a body's file lives
 * as long as its rendering); coding_put lets go. */
static struct coding coding_take(const struct coding *c)
{
	struct coding copy = *c;
	if (copy.mem)
		atomic_fetch_add(&shared_of(copy.mem)->refs, 1);
	return copy;
}

static void coding_put(struct coding *c)
{
	feed_body_unref(c->mem);
}

/* c's bytes: its memory, or its file mapped (*map, let go with
 * coding_unmap); NULL when the file cannot be mapped. */
static const char *coding_bytes(const struct coding *c, void **map)
{
	*map = NULL;
	if (c->mem || !c->len)
		return c->mem ? c->mem : "";
	void *m = mmap(NULL, c->len, PROT_READ, MAP_SHARED, c->fd, 0);
	if (m == MAP_FAILED)
		return NULL;
	*map = m;
	return m;
}

static void coding_unmap(const struct coding *c, void *map)
{
	if (map)
		munmap(map, c->len);
}

static void coding_clear(struct coding *c)
{
	feed_body_unref(c->mem);
	if (c->file)
		evbuffer_file_segment_free(c->file);
}

/* ---- renderings ------------------------------------------------------------ */

struct feed_render {
	atomic_int refs;
	int kept; /* in the table (under the lock) */
	char hash[TOKEN_HASH_HEX + 1];
	unsigned generation;    /* current for it (under the lock: moves on, core/changes.h) */
	char org[37], slug[64]; /* whose feed: what a change must reach */
	int64_t rendered_ms;
	int64_t changed;             /* the second its content last changed */
	char last_modified[32];      /* changed as an HTTP date, made once */
	char etag[40], etag_gz[40];  /* unquoted */
	struct coding plain;         /* in memory until sent again (promote), under the lock */
	atomic_int promoted;         /* its move to a file was tried */
	atomic_int settled;          /* plain no longer changes: read without the lock */
	_Atomic(struct coding *) gz; /* made on first demand, published under the lock */
	struct feed_list *list;      /* what it was rendered from, for a splice; or NULL */
	/* Read back at start (feed_state.c): a base for a splice only, never
	 * served, without a body; its list's texts are its own (not the
	 * VEVENT cache's), counted here against the limit. */
	int restored;
	size_t restored_bytes;
	int saved; /* passed to feed_cache_each_unsaved, or read back (under the lock) */
};

void feed_render_unref(struct feed_render *fr)
{
	if (!fr || atomic_fetch_sub(&fr->refs, 1) != 1)
		return;
	coding_clear(&fr->plain);
	struct coding *gz = atomic_load(&fr->gz);
	if (gz)
		coding_clear(gz);
	free(gz);
	feed_list_unref(fr->list);
	free(fr);
}

static size_t list_bytes_of(const struct feed_render *fr)
{
	return (fr->list ? feed_list_bytes(fr->list) : 0) + fr->restored_bytes;
}

/* What fr holds against the limit: its bodies and its list. */
static size_t render_bytes(const struct feed_render *fr)
{
	const struct coding *gz = atomic_load(&fr->gz);
	return fr->plain.len + (gz ? gz->len : 0) + list_bytes_of(fr);
}

/* fr's plain coding as it is now, referenced for the caller: it moves
 * from memory to a file while answers may read it (promote), under the
 * lock; once settled it no longer changes. */
static struct coding plain_take(struct feed_render *fr)
{
	if (atomic_load_explicit(&fr->settled, memory_order_acquire))
		return coding_take(&fr->plain);
	pthread_mutex_lock(&lock);
	struct coding copy = coding_take(&fr->plain);
	pthread_mutex_unlock(&lock);
	return copy;
}

/* ---- the table ---------------------------------------------------------------- */

#define SETS 1024 /* a power of two */
#define WAYS 4    /* so 4,096 feeds at most */

struct way {
	char hash[TOKEN_HASH_HEX + 1];
	struct feed_render *fr; /* NULL when empty */
};

static struct way *table; /* SETS * WAYS, made on first use */
static size_t bytes, limit = 64u << 20;
static size_t list_bytes; /* of bytes, the lists' (the gauge counts bodies) */

void feed_cache_configure(size_t max, const char *dir)
{
	pthread_mutex_lock(&lock);
	limit = max;
	pthread_mutex_unlock(&lock);
	files_configure(dir);
}

static struct way *set_of(const char *hash)
{
	return &table[(hash_index(hash, 8) & (SETS - 1)) * WAYS];
}

/* The way holding hash's rendering, or NULL. Call locked. */
static struct way *find_locked(const char *hash)
{
	struct way *set = table ? set_of(hash) : NULL;
	for (int i = 0; set && i < WAYS; i++)
		if (set[i].fr && !memcmp(set[i].hash, hash, TOKEN_HASH_HEX))
			return &set[i];
	return NULL;
}

/* Empties w. Call locked. */
static void drop_locked(struct way *w)
{
	struct feed_render *fr = w->fr;
	bytes -= render_bytes(fr);
	list_bytes -= list_bytes_of(fr);
	fr->kept = 0;
	w->fr = NULL;
	w->hash[0] = '\0';
	feed_render_unref(fr);
}

/* Whether a may go before b: another generation than the current one
 * (stale, kept only for when the database is away) before the current,
 * then the oldest. */
static int goes_before(const struct feed_render *a, const struct feed_render *b, unsigned current)
{
	int sa = a->generation != current, sb = b->generation != current;
	return sa != sb ? sa > sb : a->rendered_ms < b->rendered_ms;
}

/* Drops renderings until those kept hold at most the limit. Call locked. */
static void shrink_locked(unsigned current)
{
	while (bytes > limit) {
		struct way *victim = NULL;
		for (size_t i = 0; i < (size_t)SETS * WAYS; i++)
			if (table[i].fr &&
			    (!victim || goes_before(table[i].fr, victim->fr, current)))
				victim = &table[i];
		if (!victim)
			break;
		drop_locked(victim);
	}
}

/* Whether generation a is later than b (the counter wraps). */
static int later(unsigned a, unsigned b)
{
	return (int)(a - b) > 0;
}

/* Puts fr in the table in place of its feed's rendering, or of the set's
 * oldest. Call locked. */
static void put_locked(struct feed_render *fr)
{
	if (!table && !(table = calloc((size_t)SETS * WAYS, sizeof(*table))))
		return;
	struct way *w = find_locked(fr->hash);
	if (w && later(w->fr->generation, fr->generation))
		return; /* a rendering of later data was kept meanwhile */
	if (w)
		drop_locked(w);
	if (render_bytes(fr) > limit)
		return;
	struct way *set = set_of(fr->hash);
	for (int i = 0; i < WAYS && !w; i++)
		if (!set[i].fr)
			w = &set[i];
	if (!w) {
		w = &set[0];
		for (int i = 1; i < WAYS; i++)
			if (goes_before(set[i].fr, w->fr, fr->generation))
				w = &set[i];
		drop_locked(w);
	}
	memcpy(w->hash, fr->hash, sizeof(w->hash));
	w->fr = fr;
	fr->kept = 1;
	atomic_fetch_add(&fr->refs, 1);
	bytes += render_bytes(fr);
	list_bytes += list_bytes_of(fr);
	shrink_locked(fr->generation);
}

static struct feed_render *keep(const char *hash, const char *org, const char *slug,
                                unsigned generation, int64_t changed, char *body, size_t len,
                                const char *digest, struct feed_list *list, int restored)
{
	struct feed_render *fr = body || restored ? calloc(1, sizeof(*fr)) : NULL;
	if (!fr) {
		feed_body_unref(body);
		return NULL;
	}
	atomic_init(&fr->refs, 1);
	atomic_init(&fr->gz, NULL);
	snprintf(fr->hash, sizeof(fr->hash), "%s", hash);
	fr->generation = generation;
	snprintf(fr->org, sizeof(fr->org), "%s", org);
	snprintf(fr->slug, sizeof(fr->slug), "%s", slug);
	fr->rendered_ms = now_monotonic_ms();
	fr->changed = changed;
	http_date_format(changed, fr->last_modified);
	/* A strong ETag per content coding. */
	snprintf(fr->etag, sizeof(fr->etag), "%.32s", digest);
	snprintf(fr->etag_gz, sizeof(fr->etag_gz), "%.32s-gz", digest);
	fr->plain.mem = body; /* its answer goes from memory (promote) */
	fr->plain.len = len;
	atomic_init(&fr->promoted, 0);
	atomic_init(&fr->settled, len < FILE_MIN); /* never moved */
	fr->list = feed_list_ref(list);
	fr->restored = restored;
	fr->saved = restored; /* its file is there */
	for (int i = 0; restored && i < list->n; i++)
		fr->restored_bytes +=
		    list->texts[i] ? sizeof(*list->texts[i]) + list->texts[i]->len : 0;
	pthread_mutex_lock(&lock);
	put_locked(fr);
	pthread_mutex_unlock(&lock);
	return fr;
}

struct feed_render *feed_cache_keep(const char *hash, const char *org, const char *slug,
                                    unsigned generation, int64_t changed, char *body, size_t len,
                                    const char *digest, struct feed_list *list)
{
	return keep(hash, org, slug, generation, changed, body, len, digest, list, 0);
}

int feed_cache_restore(const char *hash, const char *org, const char *slug, unsigned generation,
                       int64_t changed, const char *digest, struct feed_list *list)
{
	struct feed_render *fr =
	    keep(hash, org, slug, generation, changed, NULL, 0, digest, list, 1);
	pthread_mutex_lock(&lock);
	int kept = fr && fr->kept;
	pthread_mutex_unlock(&lock);
	feed_render_unref(fr);
	return kept ? 0 : -1;
}

int feed_cache_each(int (*fn)(const struct feed_saved *, void *), void *arg)
{
	int rc = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; table && i < (size_t)SETS * WAYS && rc == 0; i++) {
		const struct feed_render *fr = table[i].fr;
		if (!fr || !fr->list)
			continue;
		const struct coding *c = &fr->plain;
		void *map = NULL;
		char *made = NULL;
		size_t len = c->len;
		/* One read back and not asked for since has no body: made of its
		 * texts. */
		const char *body =
		    fr->restored ? (made = feed_list_body(fr->list, &len)) : coding_bytes(c, &map);
		if (!body)
			continue;
		struct feed_saved sv = {fr->hash,    fr->org, fr->slug, fr->etag,
		                        fr->changed, body,    len,      fr->list};
		rc = fn(&sv, arg);
		free(made);
		coding_unmap(c, map);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

void feed_cache_each_unsaved(int (*fn)(const struct feed_saved *, void *), void *arg)
{
	enum { BATCH = 32 };
	struct feed_render *got[BATCH];
	struct coding plain[BATCH];
	size_t i = 0; /* the scan goes on where the last batch stopped */
	int n;
	do {
		/* Referenced under the lock, saved outside it: a file's write
		 * must not hold up the threads that serve feeds. */
		n = 0;
		pthread_mutex_lock(&lock);
		for (; table && i < (size_t)SETS * WAYS && n < BATCH; i++) {
			struct feed_render *fr = table[i].fr;
			if (!fr || !fr->list || fr->saved || fr->restored)
				continue;
			fr->saved = 1;
			atomic_fetch_add(&fr->refs, 1);
			plain[n] = coding_take(&fr->plain);
			got[n++] = fr;
		}
		pthread_mutex_unlock(&lock);
		for (int k = 0; k < n; k++) {
			struct feed_render *fr = got[k];
			struct coding *c = &plain[k];
			void *map;
			const char *body = coding_bytes(c, &map);
			int failed = 1;
			if (body) {
				struct feed_saved sv = {fr->hash,    fr->org, fr->slug, fr->etag,
				                        fr->changed, body,    c->len,   fr->list};
				failed = fn(&sv, arg) != 0;
			}
			if (failed) { /* offered again by the next call */
				pthread_mutex_lock(&lock);
				fr->saved = 0;
				pthread_mutex_unlock(&lock);
			}
			coding_unmap(c, map);
			coding_put(c);
			feed_render_unref(fr);
		}
	} while (n == BATCH);
}

/* Whether fr is current for generation `current`: of it, or of an
 * earlier one when no change since could reach its feed (then it is of
 * this one from now on, which spares the next look the same steps), and
 * young enough. Call locked. */
static int current_locked(struct feed_render *fr, unsigned current, int64_t now)
{
	if (fr->restored || now - fr->rendered_ms >= FEED_TTL_MS)
		return 0;
	if (fr->generation == current)
		return 1;
	if (!later(current, fr->generation) ||
	    changes_reach(fr->generation, current, fr->org, fr->slug))
		return 0;
	fr->generation = current;
	metrics_add(M_FEED_KEPT_THROUGH, 1);
	return 1;
}

/* hash's rendering with a reference for the caller, when there is one
 * (and current is NULL) or it is current for *current; NULL if not. */
static struct feed_render *get(const char *hash, const unsigned *current)
{
	int64_t now = current ? now_monotonic_ms() : 0;
	struct feed_render *fr = NULL;
	pthread_mutex_lock(&lock);
	struct way *w = find_locked(hash);
	if (w && (current ? current_locked(w->fr, *current, now) : !w->fr->restored)) {
		fr = w->fr;
		atomic_fetch_add(&fr->refs, 1);
	}
	pthread_mutex_unlock(&lock);
	return fr;
}

/* A rendering whose plain bytes are sent again is likely to be sent more:
 * they go to a file then, and later answers go by sendfile. Most
 * renderings under a stream of changes are sent once, to the client whose
 * request made them, and replaced: they never pay the copy into a file,
 * nor does the request that waited for a rendering. The copy is made on
 * the loop after this answer took what its socket would (the rest waits
 * for it), and only by one thread, for a rendering still kept; the body's
 * memory goes once every answer sending it is out. */
static void promote(struct feed_render *fr)
{
	if (atomic_load(&fr->promoted) || atomic_exchange(&fr->promoted, 1))
		return;
	pthread_mutex_lock(&lock);
	int kept = fr->kept;
	pthread_mutex_unlock(&lock);
	/* Only this call changes plain: it may be read without the lock. */
	int fd = -1;
	struct evbuffer_file_segment *seg =
	    kept && fr->plain.mem ? file_of(fr->plain.mem, fr->plain.len, &fd) : NULL;
	char *mem = NULL;
	pthread_mutex_lock(&lock);
	if (seg) {
		mem = fr->plain.mem;
		fr->plain.mem = NULL;
		fr->plain.file = seg;
		fr->plain.fd = fd;
	}
	/* Moved or not, for good: answers read it without the lock. */
	atomic_store_explicit(&fr->settled, 1, memory_order_release);
	pthread_mutex_unlock(&lock);
	feed_body_unref(mem);
}

static int serve_from(struct req *r, struct feed_render *fr)
{
	if (!fr)
		return 0;
	if (feed_render_serve(r, fr) && !atomic_load(&fr->settled))
		promote(fr);
	feed_render_unref(fr);
	return 1;
}

int feed_cache_serve(struct req *r, const char *hash, unsigned generation)
{
	return serve_from(r, get(hash, &generation));
}

void feed_bytes_release(struct feed_bytes *b)
{
	feed_body_unref(b->mem);
	if (b->map)
		munmap(b->map, b->len);
	*b = (struct feed_bytes){0};
}

struct feed_list *feed_cache_list(const char *hash, struct feed_bytes *body)
{
	struct feed_list *l = NULL;
	struct feed_render *fr = NULL;
	struct coding plain = {0};
	if (body)
		*body = (struct feed_bytes){0};
	pthread_mutex_lock(&lock);
	struct way *w = find_locked(hash);
	if (w && (l = feed_list_ref(w->fr->list)) && body) {
		fr = w->fr;
		atomic_fetch_add(&fr->refs, 1);
		plain = coding_take(&fr->plain);
	}
	pthread_mutex_unlock(&lock);
	if (!fr)
		return l;
	/* Mapped outside the lock; a mapping outlives the rendering's hold on
	 * its file. One read back has no body. */
	body->p = plain.len ? coding_bytes(&plain, &body->map) : NULL;
	body->mem = plain.mem;
	body->len = body->p ? plain.len : 0;
	feed_render_unref(fr);
	return l;
}

int feed_cache_serve_stale(struct req *r, const char *hash)
{
	return serve_from(r, get(hash, NULL));
}

void feed_cache_drop(const char *hash)
{
	pthread_mutex_lock(&lock);
	struct way *w = find_locked(hash);
	if (w)
		drop_locked(w);
	pthread_mutex_unlock(&lock);
}

int64_t feed_cache_bytes(void)
{
	pthread_mutex_lock(&lock);
	size_t n = bytes - list_bytes;
	pthread_mutex_unlock(&lock);
	return (int64_t)n;
}

int64_t feed_cache_files(void)
{
	return atomic_load(&nfiles);
}

void feed_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; table && i < (size_t)SETS * WAYS; i++)
		if (table[i].fr)
			drop_locked(&table[i]);
	free(table);
	table = NULL;
	pthread_mutex_unlock(&lock);
}

/* ---- answers -------------------------------------------------------------- */

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

/* fr's gzip coding, made from its plain one (read back from its file
 * through a mapping when it is there) the first time it is asked for; NULL
 * when it cannot be made. Two threads may make it at once: the first to
 * publish it wins, the other's is freed. */
static struct coding *gz_of(struct feed_render *fr)
{
	struct coding *gz = atomic_load_explicit(&fr->gz, memory_order_acquire);
	if (gz)
		return gz;
	struct coding from = plain_take(fr);
	void *map;
	const char *plain = coding_bytes(&from, &map);
	size_t len = 0;
	char *mem = plain ? gzip_body(plain, from.len, &len) : NULL;
	coding_unmap(&from, map);
	coding_put(&from);
	if (!mem || !(gz = calloc(1, sizeof(*gz)))) {
		feed_body_unref(mem);
		return NULL;
	}
	coding_set(gz, mem, len);
	struct coding *first = NULL;
	pthread_mutex_lock(&lock);
	if (atomic_compare_exchange_strong(&fr->gz, &first, gz) && fr->kept) {
		bytes += len;
		shrink_locked(fr->generation);
	}
	pthread_mutex_unlock(&lock);
	if (!first)
		return gz;
	coding_clear(gz);
	free(gz);
	return first;
}

void feed_fetched(struct req *r, const char *hash, int status, size_t n)
{
	fetchlog_record(r->cx->fetches, hash, status, n, req_header(r, "User-Agent"));
}

/* Last-Modified is the second the content last changed (see
 * feed_rendered), never later than now (the Date header); If-Modified-Since
 * gets a 304 only for a date at or after that second. */
int feed_render_serve(struct req *r, struct feed_render *fr)
{
	int gz = http_accepts_gzip(req_header(r, "Accept-Encoding"));
	int head = r->method == EVHTTP_REQ_HEAD; /* r is gone once answered */
	const char *etag = gz ? fr->etag_gz : fr->etag;
	int64_t changed = fr->changed, now = (int64_t)time(NULL);
	char now_date[32];
	const char *last_modified = fr->last_modified;
	if (changed > now) { /* a clock set back since */
		http_date_format(now, now_date);
		last_modified = now_date;
	}
	req_set_etag(r, etag);
	req_add_header(r, "Last-Modified", last_modified);
	req_add_header(r, "Cache-Control", "max-age=300");
	req_add_header(r, "Vary", "Accept-Encoding");
	const char *inm = req_header(r, "If-None-Match");
	int64_t since = http_date_parse(req_header(r, "If-Modified-Since"));
	if (etag_listed(inm, etag, ETAG_WEAK) || (!inm && since >= 0 && changed <= since)) {
		feed_fetched(r, fr->hash, 304, 0);
		reply_empty(r, 304);
		return 0;
	}
	/* Compressed when first sent compressed: a rendering that no client
	 * takes gzipped, or that is only revalidated, never costs the deflate. */
	const struct coding *z = gz ? gz_of(fr) : NULL;
	if (gz && !z) {
		feed_fetched(r, fr->hash, 500, 0);
		reply_problem(r, 500, "cannot compress the feed");
		return 0;
	}
	struct coding c = z ? coding_take(z) : plain_take(fr);
	if (gz)
		req_add_header(r, "Content-Encoding", "gzip");
	static const char type[] = "text/calendar; charset=utf-8";
	feed_fetched(r, fr->hash, 200, c.len);
	if (c.file) {
		reply_file_segment(r, 200, type, c.file, 0, c.len);
		coding_put(&c);
	} else {
		/* coding_take's reference goes with the answer */
		reply_shared(r, 200, type, c.mem, c.len, shared_sent, c.mem);
	}
	return !gz && !head;
}
