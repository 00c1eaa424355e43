/* feed_page.c - GET /feeds/{token}: the subscribe page of a feed, for the
 * people at both ends of it: its name, one-click links for each calendar
 * app, and its items of the next 60 days. The token is the key, as for
 * the feed itself: a revoked or rotated token answers 404 here too.
 *
 * The page shows what the feed shows: the feed's own selection
 * (api/feed_select.c: what its org may see, through its filter, in its
 * window), with the overrides of its series, expanded by the expansion
 * /v1/occurrences uses (api/occ_expand.c). A cancelled occurrence, which
 * the feed gives as its series' EXDATE, is shown as cancelled. The HTML
 * is api/feed_page_html.c's.
 *
 * A page embedded on a busy site is asked for by each of its visitors: a
 * rendered page is kept per worker thread, by token, language and embed,
 * while nothing changed anywhere (the data generation, as for feeds: a
 * revocation too) and for at most a minute.
 *
 * The expansion is cut into slices between which the worker's loop turns
 * (as /v1/occurrences'), so that a large feed's page holds up no other
 * request. */
#include "api/feeds.h"

#include "api/feed_page.h"
#include "clock.h"
#include "api/feed_page_sql.h"
#include "api/feed_select.h"
#include "api/filters.h"
#include "api/jsonv.h"
#include "config.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "log.h"
#include "token.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bounds of one page's work, whatever the feed holds. */
#define PAGE_MAX_EVENTS      5000  /* events and series in the window */
#define PAGE_MAX_OCCURRENCES 10000 /* their occurrences */
#define PAGE_BUDGET_MS       500   /* all the expansions together */
#define PAGE_SLICE_US        2000  /* the loop turns between slices of this much work */

/* Rendered pages kept per worker thread. */
#define PAGE_SLOTS    64 /* a power of two */
#define PAGE_TTL_MS   (60 * 1000)
#define PAGE_KEEP_MAX (256 * 1024) /* larger pages are not kept */
#define PAGE_KEY_LEN  (TOKEN_HASH_HEX + 8)

struct page_slot {
	char key[PAGE_KEY_LEN]; /* token hash, language, embed; "" when free */
	unsigned generation;
	int64_t rendered_ms;
	char *body;
	size_t len;
};

struct pagecache {
	struct page_slot slots[PAGE_SLOTS];
};

struct pagecache *pagecache_new(void)
{
	return calloc(1, sizeof(struct pagecache));
}

void pagecache_free(struct pagecache *c)
{
	for (int i = 0; c && i < PAGE_SLOTS; i++)
		free(c->slots[i].body);
	free(c);
}

static struct page_slot *page_slot(struct pagecache *c, const char *key)
{
	unsigned h = 0;
	for (const char *k = key; *k; k++)
		h = h * 31u + (unsigned char)*k;
	return &c->slots[h & (PAGE_SLOTS - 1)];
}

struct pagework {
	struct req *r;
	const struct page_words *words;
	int embed;
	char key[PAGE_KEY_LEN];
	unsigned generation; /* read before the queries: a change meanwhile stays stale */
	char token[TOKEN_LEN + 1];
	char name[201];
	char owner[201];
	char zone[65];
	int64_t from, to;
	PGresult *items; /* the rows, kept while the slices run */
	struct event *slice;
	struct occset set;
};

static void page_free(struct pagework *w)
{
	memset(w->token, 0, sizeof(w->token));
	occset_free(&w->set);
	if (w->slice)
		event_free(w->slice);
	PQclear(w->items);
	free(w);
}

static void page_headers(struct req *r, const struct page_words *words, int embed)
{
	req_add_header(r, "Content-Security-Policy", feed_page_csp(embed));
	if (!embed)
		req_add_header(r, "X-Frame-Options", "DENY");
	req_add_header(r, "X-Content-Type-Options", "nosniff");
	/* The URL holds the token: no link may pass it on. */
	req_add_header(r, "Referrer-Policy", "no-referrer");
	req_add_header(r, "Content-Language", feed_page_lang_tag(words));
	req_add_header(r, "Vary", "Accept-Language");
	req_add_header(r, "Cache-Control", "private, max-age=60");
}

/* Keeps a rendered page in its slot (what was there goes). */
static void page_keep(struct pagecache *c, const struct pagework *w, const char *body, size_t len)
{
	char *copy = c && body && len <= PAGE_KEEP_MAX ? malloc(len) : NULL;
	if (!copy)
		return;
	memcpy(copy, body, len);
	struct page_slot *slot = page_slot(c, w->key);
	free(slot->body);
	snprintf(slot->key, sizeof(slot->key), "%s", w->key);
	slot->generation = w->generation;
	slot->rendered_ms = now_monotonic_ms();
	slot->body = copy;
	slot->len = len;
}

/* Answers from the page kept for key, if it is still good: 1, else 0. */
static int page_kept(struct req *r, const char *key, unsigned generation,
                     const struct page_words *words, int embed)
{
	struct page_slot *slot = r->cx->pages ? page_slot(r->cx->pages, key) : NULL;
	if (!slot || !slot->body || strcmp(slot->key, key) || slot->generation != generation ||
	    now_monotonic_ms() - slot->rendered_ms >= PAGE_TTL_MS)
		return 0;
	page_headers(r, words, embed);
	reply_raw(r, 200, "text/html; charset=utf-8", slot->body, slot->len);
	return 1;
}

/* Once the occurrences are expanded (overflow: there were too many). */
static void page_render(struct pagework *w, int overflow)
{
	struct req *r = w->r;
	/* Past its bounds the page says there is more and shows what it has,
	 * or nothing when the occurrences overflowed (they are then neither
	 * complete nor in order). */
	if (overflow)
		w->set.n = 0;
	struct feed_page p = {.words = w->words,
	                      .embed = w->embed,
	                      .name = w->name,
	                      .owner = w->owner,
	                      .zone = w->zone,
	                      .token = w->token,
	                      .base = r->cx->cfg->public_url,
	                      .from = w->from,
	                      .to = w->to,
	                      .set = &w->set,
	                      .overflow = overflow || PQntuples(w->items) >= PAGE_MAX_EVENTS};
	struct evbuffer *b = evbuffer_new();
	if (!b || feed_page_html(b, &p) != 0) {
		reply_problem(r, 500, "out of memory");
	} else {
		size_t len = evbuffer_get_length(b);
		const char *body = (const char *)evbuffer_pullup(b, -1);
		page_keep(r->cx->pages, w, body, len);
		page_headers(r, w->words, w->embed);
		reply_raw(r, 200, "text/html; charset=utf-8", body, len);
	}
	if (b)
		evbuffer_free(b);
	page_free(w);
}

static void on_slice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pagework *w = arg;
	int rc = occset_step(&w->set, PAGE_SLICE_US);
	if (rc == 1)
		occset_next_slice(w->slice);
	else
		page_render(w, rc != 0);
}

static void on_items(PGresult *res, void *arg)
{
	struct pagework *w = arg;
	struct req *r = w->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		page_free(w);
		return;
	}
	if (!(w->items = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES)) ||
	    !(w->slice = evtimer_new(r->cx->base, on_slice, w)) ||
	    occset_begin(&w->set, w->items, w->from, w->to, PAGE_MAX_OCCURRENCES, PAGE_BUDGET_MS) !=
	        0) {
		reply_problem(r, 500, "out of memory");
		page_free(w);
		return;
	}
	on_slice(-1, 0, w);
}

/* The items of the window, through the feed's selection. */
static void fetch_items(struct pagework *w, const PGresult *feed)
{
	struct req *r = w->r;
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	char from[24], to[24];
	snprintf(from, sizeof(from), "%lld", (long long)w->from);
	snprintf(to, sizeof(to), "%lld", (long long)w->to);
	int rc = !q || !sql || feed_select_sql(sql, q, feed) != 0;
	int pf = rc ? -1 : listq_param(q, from), pt = rc ? -1 : listq_param(q, to);
	rc = rc || pf < 0 || pt < 0 ||
	     evbuffer_add_printf(sql, SQL_FEED_PAGE_ITEMS, pt, pf, pt, pf, PAGE_MAX_EVENTS) < 0 ||
	     evbuffer_add(sql, "", 1) != 0;
	if (rc) {
		reply_problem(r, 500, "out of memory");
		page_free(w);
	} else if (dbpool_query_text(r->cx->db, (const char *)evbuffer_pullup(sql, -1), q->n,
	                             q->params, on_items, w) != 0) {
		reply_unavailable(r);
		page_free(w);
	}
	listq_free(q);
	if (sql)
		evbuffer_free(sql);
}

static void on_feed(PGresult *res, void *arg)
{
	struct pagework *w = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(w->r, res);
		page_free(w);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(w->r, 404, "no such feed");
		page_free(w);
		return;
	}
	snprintf(w->name, sizeof(w->name), "%s", PQgetvalue(res, 0, FL_NAME));
	snprintf(w->zone, sizeof(w->zone), "%s", PQgetvalue(res, 0, FL_NCOLS));
	snprintf(w->owner, sizeof(w->owner), "%s", PQgetvalue(res, 0, FL_NCOLS + 1));
	fetch_items(w, res);
}

void feed_page_serve(struct req *r)
{
	char hash[TOKEN_HASH_HEX + 1];
	const char *token = req_param(r, "token");
	if (feed_token_hash(token, hash) != 0) {
		reply_problem(r, 404, "no such feed");
		return;
	}
	json_t *errors = json_array();
	int bad_lang = 0;
	const struct page_words *words =
	    feed_page_language(req_query(r, "lang"), req_header(r, "Accept-Language"), &bad_lang);
	if (bad_lang)
		jv_error(errors, "lang", "must be a language tag, such as vi or en");
	const char *embed = req_query(r, "embed");
	if (embed && strcmp(embed, "1") && strcmp(embed, "0"))
		jv_error(errors, "embed", "must be 1 (the agenda alone, for an iframe) or 0");
	if (json_array_size(errors)) {
		reply_problem_fields(r, 422, "the page's parameters are not valid", errors);
		return;
	}
	json_decref(errors);
	char key[PAGE_KEY_LEN];
	int embedded = embed && !strcmp(embed, "1");
	unsigned generation = atomic_load(r->cx->data_generation);
	snprintf(key, sizeof(key), "%s:%s:%d", hash, feed_page_lang_tag(words), embedded);
	if (page_kept(r, key, generation, words, embedded))
		return;
	struct pagework *w = calloc(1, sizeof(*w));
	if (!w) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	w->r = r;
	w->words = words;
	w->embed = embedded;
	w->generation = generation;
	memcpy(w->key, key, sizeof(key));
	memcpy(w->token, token, TOKEN_LEN + 1);
	w->from = (int64_t)time(NULL);
	w->to = w->from + FEED_PAGE_DAYS * 86400LL;
	const char *p[] = {hash};
	if (dbpool_query(r->cx->db, SQL_FEED_PAGE_LOOKUP, 1, p, on_feed, w) != 0) {
		page_free(w);
		reply_unavailable(r);
	}
}
