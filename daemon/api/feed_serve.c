/* feed_serve.c - GET /feeds/{token}.ics, which needs no header because
 * the unguessable token is the key. A feed shows what its org may see,
 * through its filter, in its window, with cancellations kept for 30 days.
 *
 * A rendered feed is kept once for all worker threads (feed_cache.c)
 * until something changes anywhere (the data generation, bumped by NOTIFY
 * and by this instance's own writes) or for five minutes; one rendering
 * per feed runs at a time on a thread and the thread's other requests for
 * it wait for its answer. Rendering
 * asks which events the feed shows and their stamps (read whole, or made
 * from the last rendering's list and what changed since: feed_list.h),
 * takes the VEVENTs it
 * can from the shared cache (core/vevents.c), then from those stored in
 * the database (brought along with the list while the cache holds little),
 * and renders only the rest. A free/busy feed is rendered by
 * feed_freebusy.c, which ends its fetch through feed_fetch.h. A feed that
 * asks for a language (sql/013) shows titles given in several languages
 * in that one: such an event's text is kept under "id@lang" and never
 * stored (vevents_sql.h).
 *
 * With a standby (read_database), the events and their texts are read
 * there (cx->db_read); the feed's lookup stays on the primary, where the
 * token is revoked and the last rendering's digest written, so that a
 * standby never serves a revoked token nor dates the same bytes twice;
 * what a rendering writes goes to the primary. */
#include "api/feeds.h"

#include "api/feed_cache.h"
#include "api/feed_fetch.h"
#include "api/feed_list.h"
#include "api/feed_rows_sql.h"
#include "api/feed_select.h"
#include "api/feeds_sql.h"
#include "api/filters.h"
#include "clock.h"
#include "core/metrics.h"
#include "core/vevents.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "ics_render.h"
#include "log.h"
#include "macros.h"
#include "strhash.h"
#include "token.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct feedfetch {
	struct req *r;
	char hash[TOKEN_HASH_HEX + 1];
	unsigned generation; /* read before the queries: a change meanwhile stays stale */
	char feed_id[37];
	char org[37], slug[64]; /* whose feed */
	char name[201];
	int alarms;
	char lang[36];   /* the feed's language, or "" */
	int past;        /* the window's days back */
	char digest[33]; /* what it rendered to last time, or "" */
	int64_t changed; /* and since which second */
	/* the events, in feed order, their text, and the zone each uses: the
	 * list's (ids, stamps, texts) */
	struct feed_list *list;
	int n;
	struct vtext **texts;
	char (*ids)[37], (*stamps)[VEVENT_STAMP_LEN];
	/* A list made from the last one (api/feed_list.h): that one, the
	 * body rendered from it (none for one read back), the feed's lookup
	 * (to read it in full after all) and its settings. */
	struct feed_list *base;
	struct feed_bytes base_body;
	PGresult *lookup;
	char *key;
	int *missing; /* positions not in the VEVENT cache: read from the store, else rendered */
	int nmissing;
	/* the missing positions by id (position + 1; 0: free), for rows */
	struct ff_slot {
		uint32_t hash;
		int pos;
	} * slots;
	unsigned nslots;
	/* The positions stored texts filled (take_texts), which the VEVENT
	 * cache takes under one lock once the feed is answered. */
	int *fresh, nfresh;
	/* Requests for the same feed that came while this one was rendering:
	 * they get its answer instead of rendering it again. */
	struct req **waiters;
	int nwaiters, capwaiters;
	struct feed_entry *slot;    /* where the rendering is under way */
	struct feed_render *render; /* what it rendered, once kept */
	int with_texts;             /* the stored texts are asked for beside the list */
	int stored_asked;           /* or by queries of their own after it */
	/* The texts asked for beside the list: whether they are still under
	 * way; their answer when it came before the list, kept for it (early);
	 * whether the list came, and whether the fetch ended while they were
	 * under way (then their answer frees it). */
	int texts_pending, listed, ended;
	PGresult *early;
	int nmemory, nstored, nrendered; /* where the VEVENTs came from */
	int chunks;                      /* second queries under way */
	int failed, unreachable;         /* one failed; whether the database was unreachable */
	/* What each chunk rendered, stored in the database (db) once the
	 * feed is answered. */
	struct dbpool *db;
	struct vevents_batch **stores;
	int nstores;
};

static void feedfetch_free(struct feedfetch *ff)
{
	if (ff->slot && ff->slot->inflight == ff)
		ff->slot->inflight = NULL;
	/* The rendered texts go to the database after the answer (or the
	 * failure): writing them while the feed renders took the cores the
	 * rendering's own queries needed. */
	for (int i = 0; i < ff->nstores; i++)
		vevents_store(ff->db, ff->stores[i]);
	/* So do the stored texts to the VEVENT cache: that is for the next
	 * rendering, and holds its lock for every one. Shared texts (never a
	 * language's own), each under its id. */
	if (ff->nfresh)
		vevents_put_at((const char(*)[37])ff->ids,
		               (const char(*)[VEVENT_STAMP_LEN])ff->stamps, ff->texts, ff->fresh,
		               ff->nfresh, ff->alarms);
	free(ff->fresh);
	free(ff->stores);
	PQclear(ff->early);
	free(ff->waiters);
	feed_render_unref(ff->render);
	free(ff->missing);
	free(ff->slots);
	feed_list_unref(ff->list);
	feed_list_unref(ff->base);
	feed_bytes_release(&ff->base_body);
	PQclear(ff->lookup);
	free(ff->key);
	free(ff);
}

/* The database could not be asked: a stale rendering beats none. */
static void serve_stale_or_503(struct req *r, const char *hash)
{
	if (!feed_cache_serve_stale(r, hash)) {
		feed_fetched(r, hash, 503, 0);
		reply_unavailable(r);
	}
}

static void feed_not_found(struct req *r)
{
	reply_problem(r, 404, "no such feed");
}

/* Every ending of a fetch answers its request and those waiting on it
 * alike, then frees it. */
enum ff_end { FF_SERVE, FF_DB_ERROR, FF_STALE, FF_NOT_FOUND, FF_FAILED };

static void ff_answer(struct req *r, enum ff_end how, struct feedfetch *ff, const void *arg)
{
	/* Each fetch is recorded (api/feed_fetches.c) before r is answered. */
	if (how != FF_SERVE && how != FF_STALE)
		feed_fetched(r, ff->hash, how == FF_NOT_FOUND ? 404 : 500, 0);
	switch (how) {
	case FF_SERVE: feed_render_serve(r, ff->render); break;
	case FF_DB_ERROR: reply_db_error(r, arg); break;
	case FF_STALE: serve_stale_or_503(r, ff->hash); break;
	case FF_NOT_FOUND: feed_not_found(r); break;
	case FF_FAILED: reply_problem(r, 500, arg); break;
	}
}

static void ff_end(struct feedfetch *ff, enum ff_end how, const void *arg)
{
	if (ff->slot && ff->slot->inflight == ff)
		ff->slot->inflight = NULL; /* no more waiters from here on */
	ff_answer(ff->r, how, ff, arg);
	for (int i = 0; i < ff->nwaiters; i++)
		ff_answer(ff->waiters[i], how, ff, arg);
	ff->nwaiters = 0;
	if (ff->texts_pending)
		ff->ended = 1; /* freed by on_feed_texts */
	else
		feedfetch_free(ff);
}

/* A failed query: res NULL means the database could not be reached. */
static void ff_fail(struct feedfetch *ff, const PGresult *res)
{
	if (res)
		ff_end(ff, FF_DB_ERROR, res);
	else
		ff_end(ff, FF_STALE, NULL);
}

/* The content changed now: this second, or, if the last change took it
 * already, the next one. */
static void ff_changed_now(struct feedfetch *ff)
{
	int64_t now = (int64_t)time(NULL);
	ff->changed = ff->digest[0] && ff->changed >= now ? ff->changed + 1 : now;
}

/* ---- for the renderers of other modes (feed_fetch.h) ---------------------- */

struct dbpool *feedfetch_db(const struct feedfetch *ff)
{
	return ff->r->cx->db;
}

struct dbpool *feedfetch_db_read(const struct feedfetch *ff)
{
	return ff->r->cx->db_read;
}

struct event_base *feedfetch_base(const struct feedfetch *ff)
{
	return ff->r->cx->base;
}

const char *feedfetch_digest(const struct feedfetch *ff)
{
	return ff->digest;
}

int64_t feedfetch_changed(const struct feedfetch *ff)
{
	return ff->changed;
}

void feedfetch_set_changed(struct feedfetch *ff, int64_t changed)
{
	if (changed)
		ff->changed = changed;
	else
		ff_changed_now(ff);
}

void feedfetch_query_failed(struct feedfetch *ff, const PGresult *res)
{
	ff_fail(ff, res);
}

void feedfetch_failed(struct feedfetch *ff, const char *why)
{
	ff_end(ff, FF_FAILED, why);
}

static int ff_wait(struct feedfetch *ff, struct req *r)
{
	if (ff->nwaiters == ff->capwaiters) {
		int cap = ff->capwaiters ? ff->capwaiters * 2 : 16;
		struct req **more =
		    cap <= 65536 ? realloc(ff->waiters, (size_t)cap * sizeof(*more)) : NULL;
		if (!more)
			return -1;
		ff->waiters = more;
		ff->capwaiters = cap;
	}
	ff->waiters[ff->nwaiters++] = r;
	return 0;
}

/* The calendar: the head with one VTIMEZONE per zone used (sorted, so the
 * same events give the same bytes: the list's zones, feed_list.h), the
 * VEVENTs in order, the tail. */

/* The content's digest (the ETag's 32 hex digits, kept in feed_state):
 * the SHA-256 of the SHA-256s of the head, of each VEVENT and of the tail.
 * Each VEVENT's is made once with its text (core/vevents.h), so a feed
 * rendered again after a change hashes 32 bytes an event, not its text:
 * hashing the whole body was a sixth of the daemon's CPU under a mixed
 * load. Other bytes, another digest, as with one hash of the body. */
static int body_digest(const struct feedfetch *ff, const char *head, char out[33])
{
	const struct feed_list *l = ff->list;
	size_t n = 2;
	for (int i = 0; i < ff->n; i++)
		n += l->zone[i] != FEED_NO_TEXT;
	unsigned char *all = malloc(n * DIGEST_BYTES), md[DIGEST_BYTES];
	int rc = !all || digest_sha256(head, strlen(head), all) != 0 ? -1 : 0;
	size_t at = 1;
	for (int i = 0; rc == 0 && i < ff->n; i++)
		if (l->zone[i] != FEED_NO_TEXT)
			memcpy(all + DIGEST_BYTES * at++, l->digests[i], DIGEST_BYTES);
	if (rc == 0 && (digest_sha256(ICS_TAIL, strlen(ICS_TAIL), all + DIGEST_BYTES * at) != 0 ||
	                digest_sha256(all, n * DIGEST_BYTES, md) != 0))
		rc = -1;
	if (rc == 0)
		digest_hex(md, 16, out);
	free(all);
	return rc;
}

/* The calendar's head for the feed's name and zones names[0..n): the
 * base list's when that was made for the same (*key says for what,
 * malloc'd), else made; NULL when out of memory. */
static char *head_of(const struct feedfetch *ff, const char **names, size_t n, char **key)
{
	size_t len = strlen(ff->name) + 24;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	if (!(*key = malloc(len)))
		return NULL;
	size_t at = (size_t)snprintf(*key, len, "%zu:%s", strlen(ff->name), ff->name);
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(*key + at, len - at, "\n%s", names[i]);
	const struct feed_list *b = ff->base;
	if (b && b->head && b->head_for && !strcmp(b->head_for, *key))
		return strdup(b->head);
	return ics_render_head(ff->name, names, n);
}

/* How many VTIMEZONEs head holds: a zone that could not be made is left
 * out of it (ics_render_head), and such a head is not kept for the next
 * rendering, which tries the zone again. */
static size_t vtimezones_in(const char *head)
{
	size_t n = 0;
	for (const char *p = head; (p = strstr(p, "BEGIN:VTIMEZONE\r\n")); p++)
		n++;
	return n;
}

/* The digest and zone of each row the rendering looked up (a splice
 * copied the others' with them), then the list's zones settled: those its
 * rows use, sorted, each once. Returns the bytes of the rows' texts, or
 * (size_t)-1 when out of memory. */
static size_t rows_settle(const struct feedfetch *ff)
{
	struct feed_list *l = ff->list;
	const struct feed_list *b = ff->base;
	size_t total = 0;
	for (int i = 0; i < ff->n; i++) {
		int j = l->from ? l->from[i] : -1;
		if (j >= 0) {
			total += b->at ? b->at[j + 1] - b->at[j] : b->texts[j]->len;
			continue;
		}
		if (i + CACHE_AHEAD < ff->n)
			CACHE_PREFETCH(ff->texts[i + CACHE_AHEAD]);
		const struct vtext *v = ff->texts[i];
		l->zone[i] = FEED_NO_TEXT;
		if (!v)
			continue;
		total += v->len;
		memcpy(l->digests[i], v->digest, DIGEST_BYTES);
		if ((l->zone[i] = feed_list_zone(l, v->zone)) == -3)
			return (size_t)-1;
	}
	return feed_list_zones_settle(l) == 0 ? total : (size_t)-1;
}

/* Copies the texts into out from pos on, noting where each begins in
 * at (when not NULL); returns where they end. The runs of rows a splice
 * copied come from the base's body in one copy each, or, from a list read
 * back, which has no body, from its texts. */
static size_t copy_texts(const struct feedfetch *ff, char *out, size_t pos, size_t *at)
{
	const struct feed_list *l = ff->list, *b = ff->base;
	const char *body = b && b->at ? ff->base_body.p : NULL;
	for (int i = 0; i < ff->n; i++) {
		int j = l->from ? l->from[i] : -1;
		if (j >= 0 && body) {
			int r = 1;
			while (i + r < ff->n && l->from[i + r] == j + r)
				r++;
			size_t start = b->at[j];
			for (int t = 0; at && t < r; t++)
				at[i + t] = pos + (b->at[j + t] - start);
			memcpy(out + pos, body + start, b->at[j + r] - start);
			pos += b->at[j + r] - start;
			i += r - 1;
			continue;
		}
		/* the text's first bytes: its header was read before */
		if (i + 2 < ff->n && ff->texts[i + 2])
			CACHE_PREFETCH(ff->texts[i + 2]->text);
		if (at)
			at[i] = pos;
		const struct vtext *v = j >= 0 ? b->texts[j] : ff->texts[i];
		if (!v)
			continue;
		memcpy(out + pos, v->text, v->len);
		pos += v->len;
	}
	if (at)
		at[ff->n] = pos;
	return pos;
}

static char *assemble(struct feedfetch *ff, size_t *len, char digest[33])
{
	struct feed_list *l = ff->list;
	size_t total = rows_settle(ff);
	const char **names =
	    total != (size_t)-1 ? calloc((size_t)l->nzones + 1, sizeof(char *)) : NULL;
	if (!names)
		return NULL;
	total += strlen(ICS_TAIL);
	for (int k = 0; k < l->nzones; k++)
		names[k] = l->zones[k];
	char *key = NULL, *head = head_of(ff, names, (size_t)l->nzones, &key);
	free(names);
	char *out = head && body_digest(ff, head, digest) == 0
	                ? feed_body_new(strlen(head) + total + 1)
	                : NULL;
	if (out) {
		/* What the next rendering takes from this one (feed_list.h). */
		size_t *at = l->at ? NULL : malloc(((size_t)ff->n + 1) * sizeof(*at));
		size_t pos = strlen(head);
		memcpy(out, head, pos);
		pos = copy_texts(ff, out, pos, at);
		free(l->from); /* only this rendering had use for it */
		l->from = NULL;
		memcpy(out + pos, ICS_TAIL, strlen(ICS_TAIL) + 1);
		*len = pos + strlen(ICS_TAIL);
		if (at)
			l->at = at;
		if (!l->head && vtimezones_in(head) == (size_t)l->nzones) {
			l->head = head;
			l->head_for = key;
			return out;
		}
	}
	free(head);
	free(key);
	return out;
}

/* When the rendered bytes differ from the last rendering's, the content
 * changed now (SQL_FEED_STATE). Not waited for; a lost write costs a later
 * Last-Modified, never an earlier one. */

static void on_feed_state(PGresult *res, void *arg)
{
	UNUSED(arg);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("recording a feed's state failed: %s",
		         res ? PQresultErrorMessage(res) : "no connection");
}

static void feed_state_write(struct feedfetch *ff, const char *digest, size_t len)
{
	char size[24], events[16], changed[24];
	snprintf(size, sizeof(size), "%zu", len);
	snprintf(events, sizeof(events), "%d", ff->n);
	snprintf(changed, sizeof(changed), "%lld", (long long)ff->changed);
	const char *p[] = {ff->feed_id, digest, size, events, changed};
	if (dbpool_query(ff->r->cx->db, SQL_FEED_STATE, 5, p, on_feed_state, NULL) != 0)
		log_warn("recording a feed's state: the database is busy");
}

static void feed_rendered(struct feedfetch *ff)
{
	log_debug("feed %.8s: %d events, %d from memory, %d stored, %d rendered; stored texts %s",
	          ff->hash, ff->n, ff->nmemory, ff->nstored, ff->nrendered,
	          ff->with_texts     ? "asked for beside the list"
	          : ff->stored_asked ? "asked for after the list"
	                             : "not asked for");
	metrics_add(M_FEED_VEVENTS_MEMORY, (uint64_t)ff->nmemory);
	metrics_add(M_FEED_VEVENTS_STORED, (uint64_t)ff->nstored);
	metrics_add(M_FEED_VEVENTS_RENDERED, (uint64_t)ff->nrendered);
	size_t len = 0;
	char digest[33];
	char *ics = assemble(ff, &len, digest);
	if (!ics) {
		ff_end(ff, FF_FAILED, "cannot render the feed");
		return;
	}
	/* Different bytes changed this second, or, if the last change took
	 * that second already, the next one: two contents never share a
	 * Last-Modified, so a client's If-Modified-Since can never match
	 * content it does not have. Beyond now, Last-Modified says now until
	 * the clock catches up, and the client revalidates once more. */
	if (strcmp(digest, ff->digest) != 0) {
		ff_changed_now(ff);
		feed_state_write(ff, digest, len);
	}
	feedfetch_keep(ff, ics, len, digest);
}

void feedfetch_keep(struct feedfetch *ff, char *body, size_t len, const char *digest)
{
	metrics_feed_size(ff->feed_id, len);
	ff->render = feed_cache_keep(ff->hash, ff->org, ff->slug, ff->generation, ff->changed, body,
	                             len, digest, ff->list);
	if (!ff->render) {
		ff_end(ff, FF_FAILED, "cannot keep the feed");
		return;
	}
	ff_end(ff, FF_SERVE, NULL);
}

/* The cache's key of an event's text in this feed: its id, or "id@lang"
 * when its stamp says its title is the feed language's own. */
static const char *cache_key(const struct feedfetch *ff, const char *id, const char *stamp,
                             char out[VEVENT_KEY_LEN + 1])
{
	size_t n = strlen(stamp);
	if (!ff->lang[0] || n == 0 || stamp[n - 1] != '@')
		return id;
	snprintf(out, VEVENT_KEY_LEN + 1, "%s@%s", id, ff->lang);
	return out;
}

/* Whether a text is every feed's (it may be stored in the database). */
static int shared_text(const char *stamp)
{
	size_t n = strlen(stamp);
	return n == 0 || stamp[n - 1] != '@';
}

/* Rows come back in any order and name their event by id: a table of the
 * missing positions, open addressing keyed by the id's hash, finds where
 * each goes. Made once per fetch; what it maps never moves. */
static int slots_make(struct feedfetch *ff)
{
	unsigned n = 16;
	while (n < 2u * (unsigned)ff->nmissing)
		n *= 2;
	if (!(ff->slots = calloc(n, sizeof(*ff->slots))) ||
	    !(ff->fresh = malloc((size_t)ff->nmissing * sizeof(*ff->fresh))))
		return -1;
	ff->nslots = n;
	for (int k = 0; k < ff->nmissing; k++) {
		uint32_t h = id_hash(ff->ids[ff->missing[k]]);
		unsigned at = h & (n - 1);
		while (ff->slots[at].pos)
			at = (at + 1) & (n - 1);
		ff->slots[at] = (struct ff_slot){h, ff->missing[k] + 1};
	}
	return 0;
}

/* The feed position of a missing event, or -1 for an id the feed did not ask for. */
static int slots_find(const struct feedfetch *ff, const char *id)
{
	uint32_t h = id_hash(id);
	for (unsigned at = h & (ff->nslots - 1); ff->slots[at].pos;
	     at = (at + 1) & (ff->nslots - 1))
		if (ff->slots[at].hash == h && !strcmp(ff->ids[ff->slots[at].pos - 1], id))
			return ff->slots[at].pos - 1;
	return -1;
}

/* A chunk's texts, for feedfetch_free; stored at once when they cannot
 * be kept. */
static void keep_store(struct feedfetch *ff, struct vevents_batch *store)
{
	if (!store)
		return;
	struct vevents_batch **more =
	    realloc(ff->stores, (size_t)(ff->nstores + 1) * sizeof(*more));
	if (!more) {
		vevents_store(ff->db, store);
		return;
	}
	ff->stores = more;
	ff->stores[ff->nstores++] = store;
}

/* Second queries: the events the cache lacked, in chunks that run side by
 * side on the pool's connections, so PostgreSQL builds one chunk while this
 * loop renders another and never holds the loop for the whole feed. */
#define MISSING_CHUNK 500

static void on_missing_events(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	ff->chunks--;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_error("feed %.8s: reading events failed: %s", ff->hash,
			          PQresultErrorMessage(res));
		if (!ff->failed) {
			ff->failed = 1;
			ff->unreachable = !res;
		}
	} else {
		/* Rows come back in any order: each names its position in the feed.
		 * What is rendered is kept for the database (feedfetch_free), a
		 * statement per chunk. */
		struct vevents_batch *store = NULL;
		for (int k = 0; k < PQntuples(res); k++) {
			int i = slots_find(ff, PQgetvalue(res, k, 0));
			if (i < 0 || ff->texts[i])
				continue;
			struct vtext *v = vevents_render(res, k, ff->alarms);
			if (v) {
				/* Under the row's stamp, which may be newer than the list's. */
				const char *stamp = PQgetvalue(res, k, 1);
				char key[VEVENT_KEY_LEN + 1];
				ff->nrendered++;
				ff->texts[i] = v;
				vevents_put(cache_key(ff, PQgetvalue(res, k, 0), stamp, key), stamp,
				            ff->alarms, v);
				if (shared_text(stamp))
					vevents_batch_add(&store, PQgetvalue(res, k, 0), stamp,
					                  ff->alarms, v);
			}
		}
		keep_store(ff, store);
	}
	if (ff->chunks > 0)
		return;
	if (!ff->failed)
		feed_rendered(ff);
	else if (ff->unreachable)
		ff_fail(ff, NULL);
	else
		ff_end(ff, FF_FAILED, "cannot read the feed's events");
}

/* The array literal of the ids at positions from..to of ff->missing. */
static char *chunk_ids(const struct feedfetch *ff, int from, int to)
{
	struct evbuffer *b = evbuffer_new();
	int rc = b ? 0 : -1;
	for (int k = from; k < to && rc == 0; k++)
		rc = db_array_add(b, ff->ids[ff->missing[k]]);
	char *out = rc == 0 ? db_array_end(b) : NULL;
	if (b)
		evbuffer_free(b);
	return out;
}

/* "= ANY", not a join with unnest(), for the reason vevents_load_sql gives.
 * Run by its generic plan: each id is looked up by key, however many
 * (custom plans cost 0.8 ms of planning for 0.1 ms of lookups). */
const char feeds_missing_sql[] = SQL_FEED_MISSING;

static void on_stored_texts(PGresult *res, void *arg);

/* One query over ff->missing[from..to): the stored texts (stored set) or
 * the events to render. */
static int fetch_chunk(struct feedfetch *ff, int from, int to, int stored)
{
	char *ids = chunk_ids(ff, from, to);
	int rc = -1;
	if (ids) {
		const char *p[] = {ids, ff->alarms ? "t" : "f", vevents_renderer()};
		const char *m[] = {ids, ff->lang[0] ? ff->lang : NULL};
		rc = stored ? dbpool_query(ff->r->cx->db_read, vevents_load_sql, 3, p,
		                           on_stored_texts, ff)
		            : dbpool_query_generic(ff->r->cx->db_read, feeds_missing_sql, 2, m,
		                                   on_missing_events, ff);
	}
	free(ids);
	return rc;
}

/* The chunks over ff->missing, side by side on the pool's connections. */
static void fetch_chunks(struct feedfetch *ff, int size, int stored)
{
	for (int from = 0; from < ff->nmissing; from += size) {
		int to = from + size < ff->nmissing ? from + size : ff->nmissing;
		if (fetch_chunk(ff, from, to, stored) != 0) {
			ff->failed = 1;
			ff->unreachable = 1;
			break;
		}
		ff->chunks++;
	}
	if (ff->chunks == 0) /* nothing was asked: the database is not there */
		ff_fail(ff, NULL);
}

/* Stored texts: what they leave missing is rendered. A failure here only
 * costs renders, so it is logged and the renders go on. */
#define STORED_CHUNK 5000

/* Takes the stored texts among the rows of res (VEVENT_TEXT_COLS; rows
 * without a body are not texts) that are current for missing events, each
 * with its stored digest when it has one (sql/033). */
static void take_texts(struct feedfetch *ff, const PGresult *res)
{
	for (int k = 0; k < PQntuples(res); k++) {
		if (PQgetisnull(res, k, 2))
			continue;
		int i = slots_find(ff, PQgetvalue(res, k, 0));
		if (i < 0 || ff->texts[i] || strcmp(PQgetvalue(res, k, 1), ff->stamps[i]))
			continue;
		unsigned char md[DIGEST_BYTES];
		int known =
		    digest_unhex(PQgetvalue(res, k, 4), (size_t)PQgetlength(res, k, 4), md) == 0;
		if (!(ff->texts[i] =
		          vtext_new(PQgetvalue(res, k, 2), (size_t)PQgetlength(res, k, 2),
		                    PQgetvalue(res, k, 3), known ? md : NULL)))
			continue;
		ff->nstored++;
		ff->fresh[ff->nfresh++] = i;
	}
}

/* What the stored texts left missing is rendered. */
static void render_rest(struct feedfetch *ff)
{
	int left = 0;
	for (int k = 0; k < ff->nmissing; k++)
		if (!ff->texts[ff->missing[k]])
			ff->missing[left++] = ff->missing[k];
	ff->nmissing = left;
	if (ff->nmissing)
		fetch_chunks(ff, MISSING_CHUNK, 0);
	else
		feed_rendered(ff);
}

static void on_stored_texts(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	ff->chunks--;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		take_texts(ff, res);
	else
		log_warn("feed %.8s: reading stored VEVENTs failed: %s", ff->hash,
		         res ? PQresultErrorMessage(res) : "no connection");
	if (ff->chunks == 0)
		render_rest(ff);
}

/* Whether the last feed rendered found most of its VEVENTs in memory. When
 * it did not (a daemon just started, or the cache emptied), the stored
 * texts are asked for at once, beside the list, on another connection:
 * the two statements run side by side, and a second round trip with the
 * ids is spared. When it did, that would send megabytes the cache already
 * holds. Either guess gives the same bytes. */
static atomic_int memory_warm;

/* Whether row j of the base, which a splice copied, gives its bytes: from
 * the base's body, or, for a list read back, its own text. A row without
 * a text is looked up again, as before it was kept. */
static int copied_bytes(const struct feedfetch *ff, int j)
{
	const struct feed_list *b = ff->base;
	return b->zone[j] != FEED_NO_TEXT && ((ff->base_body.p && b->at) || b->texts[j]);
}

/* Puts the feed's events in order (ff->list's), each with its VEVENT: the
 * base's bytes when a splice copied it, else from memory if the cache has
 * it; 0, or -1 when out of memory. */
static int take_events(struct feedfetch *ff)
{
	ff->n = ff->list->n;
	ff->ids = ff->list->ids;
	ff->stamps = ff->list->stamps;
	ff->texts = ff->list->texts;
	ff->missing = calloc((size_t)ff->n + 1, sizeof(*ff->missing));
	if (!ff->missing)
		return -1;
	int *from = ff->list->from;
	for (int i = 0; i < ff->n; i++) {
		if (from && from[i] >= 0) {
			if (copied_bytes(ff, from[i]))
				continue;
			from[i] = -1; /* looked up as if read again */
		}
		if (ff->texts[i])
			continue;
		char key[VEVENT_KEY_LEN + 1];
		ff->texts[i] = vevents_get(cache_key(ff, ff->ids[i], ff->stamps[i], key),
		                           ff->stamps[i], ff->alarms);
		if (!ff->texts[i])
			ff->missing[ff->nmissing++] = i;
	}
	return 0;
}

/* Once the list (and the texts asked for beside it) came: what neither
 * memory nor the stored texts hold is read from the store or rendered. */
static void after_list(struct feedfetch *ff)
{
	if (!ff->nmissing) {
		feed_rendered(ff);
	} else if (ff->with_texts) {
		if (ff->early)
			take_texts(ff, ff->early);
		render_rest(ff);
	} else if (vevents_renderer()) {
		ff->stored_asked = 1;
		fetch_chunks(ff, STORED_CHUNK, 1);
	} else {
		render_rest(ff); /* nothing is stored without a renderer's fingerprint */
	}
}

/* The list (ff->list): which events the feed shows, in order, with their
 * stamps; those the VEVENT cache holds need nothing more. */
static void listed(struct feedfetch *ff)
{
	if (take_events(ff) != 0) {
		ff_end(ff, FF_FAILED, "cannot read the feed's events");
		return;
	}
	ff->nmemory = ff->n - ff->nmissing;
	if (ff->n)
		atomic_store(&memory_warm, 2 * ff->nmemory >= ff->n);
	if (ff->nmissing && slots_make(ff) != 0) {
		ff_end(ff, FF_FAILED, "out of memory");
		return;
	}
	ff->listed = 1;
	if (!ff->texts_pending || !ff->nmissing) /* nothing to wait for */
		after_list(ff);
}

static void on_feed_events(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		ff_fail(ff, res);
		return;
	}
	if (!(ff->list = feed_list_read(res, ff->key, ff->past))) {
		ff_end(ff, FF_FAILED, "cannot read the feed's events");
		return;
	}
	metrics_inc(M_FEED_LISTS_READ);
	listed(ff);
}

/* The stored texts asked for beside the list (SQL_FEED_TEXTS_LIVE). */
static void on_feed_texts(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	ff->texts_pending = 0;
	if (ff->ended) {
		feedfetch_free(ff);
		return;
	}
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		log_warn("feed %.8s: reading stored VEVENTs failed: %s", ff->hash,
		         res ? PQresultErrorMessage(res) : "no connection");
	else if (ff->listed && ff->nmissing)
		take_texts(ff, res);
	else if (!ff->listed) /* kept for the list; a failure only costs renders */
		ff->early = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (ff->listed)
		after_list(ff);
}

/* One statement of the feed's: its list (feed_select_list_sql, of what
 * splice names when it is given) or the stored texts (feed_select_ids_sql
 * and SQL_FEED_TEXTS_LIVE), sent where reads go (cx->db_read); 0, or -1
 * when it could not be sent. */
static int feed_query(struct feedfetch *ff, const PGresult *feed, int texts,
                      const struct feed_splice *splice, db_result_cb cb)
{
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	int rc = !q || !sql ||
	                 (texts ? feed_select_ids_sql(sql, q, feed)
	                        : feed_select_list_sql(sql, q, feed, splice)) != 0
	             ? -1
	             : 0;
	if (rc == 0 && texts) {
		int alarms = listq_param(q, ff->alarms ? "t" : "f"),
		    renderer = listq_param(q, vevents_renderer());
		rc = alarms < 0 || renderer < 0 ||
		             evbuffer_add_printf(sql, SQL_FEED_TEXTS_LIVE, alarms, renderer) < 0
		         ? -1
		         : 0;
	}
	/* A splice, which reads a few rows by key (those written since a
	 * snapshot, by id), by its generic plan: its plan does not depend on
	 * them, and planning it for them took ten times as long as running it. */
	if (rc == 0 && evbuffer_add(sql, "", 1) == 0)
		rc = (splice ? dbpool_query_text_generic : dbpool_query_text)(
		    ff->r->cx->db_read, (const char *)evbuffer_pullup(sql, -1), q->n, q->params, cb,
		    ff);
	else
		rc = -1;
	listq_free(q);
	if (sql)
		evbuffer_free(sql);
	return rc;
}

/* The feed's events: what its org may see, through its filter, in its
 * window (api/feed_select.c), in order; and, while the cache holds little,
 * their stored texts by a statement of their own beside it. */
static void fetch_events(struct feedfetch *ff, const PGresult *feed)
{
	if (feed_query(ff, feed, 0, NULL, on_feed_events) != 0) {
		ff_fail(ff, NULL);
		return;
	}
	/* Not sent: the texts are asked for after the list instead. */
	ff->with_texts = vevents_renderer() && !atomic_load(&memory_warm) &&
	                 feed_query(ff, feed, 1, NULL, on_feed_texts) == 0;
	ff->texts_pending = ff->with_texts;
}

/* A splice's rows: the list is the last one with them, or, when they
 * cannot make it (feed_list.h), read in full. */
static void on_feed_splice(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	if (!res) {
		ff_fail(ff, res);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		log_warn("feed %.8s: a splice failed, read whole: %s", ff->hash,
		         PQresultErrorMessage(res));
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    !(ff->list = feed_list_splice(ff->base, res))) {
		fetch_events(ff, ff->lookup);
		return;
	}
	metrics_inc(M_FEED_LISTS_SPLICED);
	listed(ff);
}

/* What a feed's list depends on of its settings (its texts on alarms): a
 * list read for other ones is no base for a splice. NULL when out of
 * memory. */
static char *list_key(const PGresult *feed)
{
	char *key = NULL;
	if (asprintf(&key, "%s %s %s %s %s %s %s", PQgetvalue(feed, 0, FL_ORG),
	             PQgetvalue(feed, 0, FL_SLUG), PQgetvalue(feed, 0, FL_ALARMS),
	             PQgetvalue(feed, 0, FL_PAST), PQgetvalue(feed, 0, FL_FUTURE),
	             PQgetvalue(feed, 0, FL_LANGUAGE), PQgetvalue(feed, 0, FL_FILTER)) < 0)
		return NULL;
	return key;
}

/* Whether a feed's list may be spliced: not when its filter names people,
 * whom visits' tables give (liaison_event_has_people), not events rows. */
static int spliceable(const PGresult *feed)
{
	const char *text = PQgetvalue(feed, 0, FL_FILTER);
	json_t *filter = json_loads(text, 0, NULL);
	int ok = !text[0] || (filter && json_array_size(json_object_get(filter, "people")) == 0);
	json_decref(filter);
	return ok;
}

/* The list from the last one kept and what changed since, when there is
 * one to splice; else read in full. */
static void fetch_list(struct feedfetch *ff, const PGresult *feed)
{
	if (!(ff->key = list_key(feed))) {
		ff_end(ff, FF_FAILED, "out of memory");
		return;
	}
	struct feed_bytes body = {0};
	struct feed_list *base = spliceable(feed) ? feed_cache_list(ff->hash, &body) : NULL;
	if (!feed_list_fresh(base, ff->key, FEED_TTL_MS) ||
	    !(ff->lookup = PQcopyResult(feed, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES))) {
		feed_list_unref(base);
		feed_bytes_release(&body);
		fetch_events(ff, feed);
		return;
	}
	if (body.p && base->at && base->at[base->n] > body.len)
		feed_bytes_release(&body); /* not the body its list was assembled into */
	ff->base = base;
	ff->base_body = body;
	char *near = feed_list_near(base);
	struct feed_splice splice = {base->snapshot, near, base->ahead};
	if (!near || feed_query(ff, feed, 0, &splice, on_feed_splice) != 0)
		ff_fail(ff, NULL);
	free(near);
}

static void on_feed_found(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		ff_fail(ff, res);
		return;
	}
	if (PQntuples(res) != 1) {
		feed_cache_drop(ff->hash); /* revoked or rotated */
		ff_end(ff, FF_NOT_FOUND, NULL);
		return;
	}
	snprintf(ff->feed_id, sizeof(ff->feed_id), "%s", PQgetvalue(res, 0, FL_ID));
	snprintf(ff->name, sizeof(ff->name), "%s", PQgetvalue(res, 0, FL_NAME));
	snprintf(ff->org, sizeof(ff->org), "%s", PQgetvalue(res, 0, FL_ORG));
	snprintf(ff->slug, sizeof(ff->slug), "%s", PQgetvalue(res, 0, FL_SLUG));
	ff->alarms = PQgetvalue(res, 0, FL_ALARMS)[0] == 't';
	snprintf(ff->digest, sizeof(ff->digest), "%s", PQgetvalue(res, 0, FL_DIGEST));
	ff->changed = strtoll(PQgetvalue(res, 0, FL_CHANGED), NULL, 10);
	snprintf(ff->lang, sizeof(ff->lang), "%s", PQgetvalue(res, 0, FL_LANGUAGE));
	ff->past = atoi(PQgetvalue(res, 0, FL_PAST));
	if (!strcmp(PQgetvalue(res, 0, FL_MODE), "freebusy"))
		feed_freebusy_fetch(ff, res);
	else
		fetch_list(ff, res);
}

/* The feed, its window, and what it rendered to last (feed_state). */
const char feeds_lookup_sql[] = SQL_FEED_LOOKUP;

void feeds_serve(struct req *r)
{
	/* Only "<43 base64url characters>.ics" (the router took the .ics):
	 * anything else is simply 404, with no hint whether such a feed ever
	 * existed. */
	char hash[TOKEN_HASH_HEX + 1];
	if (feed_token_hash(req_param(r, "token"), hash) != 0) {
		feed_not_found(r);
		return;
	}
	unsigned generation = atomic_load(r->cx->data_generation);
	if (feed_cache_serve(r, hash, generation))
		return;
	struct feed_entry *e = feed_entry_for(r->cx->feeds, hash);
	/* One rendering per feed at a time: a request that finds one under way
	 * (for the same data) waits for its answer. */
	if (e->inflight && !strcmp(e->inflight->hash, hash) &&
	    e->inflight->generation == generation && ff_wait(e->inflight, r) == 0)
		return;
	struct feedfetch *ff = calloc(1, sizeof(*ff));
	if (!ff) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	ff->r = r;
	ff->db = r->cx->db;
	ff->generation = generation;
	memcpy(ff->hash, hash, sizeof(ff->hash));
	if (!e->inflight) {
		e->inflight = ff;
		ff->slot = e;
	}
	const char *p[] = {hash};
	if (dbpool_query(r->cx->db, feeds_lookup_sql, 1, p, on_feed_found, ff) != 0)
		ff_fail(ff, NULL);
}
