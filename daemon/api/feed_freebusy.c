/* feed_freebusy.c - /feeds/{token}.ics of a feed made with "mode":
 * "freebusy": one VFREEBUSY (RFC 5545 §3.6.4) of the time its filter
 * chooses (an org's, a venue's: "locations"), in its window, with busy
 * periods only. No title, place, person or UID of an item leaves the
 * database for it. The occurrences are those /v1/occurrences would give
 * (api/occurrences.c), within its budgets and in its slices, between
 * which the worker's loop turns; what counts and what the
 * feed's org may not show to others is FREEBUSY_COUNTS (api/feeds_sql.h).
 * Served, cached, revalidated and recorded as every feed (feed_serve.c).
 *
 * The window is whole UTC days, from the start of today less past_days to
 * the start of today plus future_days, so that its bytes change once a day
 * at most when nothing else does. */
#include "api/feed_fetch.h"
#include "api/feed_select.h"

#include "api/feed_cache.h"
#include "api/feeds_sql.h"
#include "api/filters.h"
#include "api/occurrences.h"
#include "core/freebusy.h"
#include "dbpool.h"
#include "log.h"
#include "token.h"
#include "tz.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FB_MAX_SERIES 10000 /* series and single events in one window */
/* occurrences_expand's own bound on occurrences, and a cut per series */
#define FB_MAX_PERIODS (100000 + FB_MAX_SERIES)
#define DAY            86400

struct fbfetch {
	struct feedfetch *ff;
	char feed_id[37], uid[64], name[201], org_slug[64], org_name[201];
	struct busyset busy;
	int failed;                      /* a period could not be kept */
	int cut;                         /* series whose expansion ran out of budget */
	char digest[TOKEN_HASH_HEX + 1]; /* the content's */
	int asked;                       /* SQL_FEED_STATE_SINCE asked already */
	PGresult *rows;                  /* kept while the expansion's slices run */
};

/* The column after OCC_COLUMNS: whether the row passes the feed's filter. */
enum { FB_PASSES = OCC_NCOLS };

static void fb_free(struct fbfetch *fb)
{
	busyset_free(&fb->busy);
	PQclear(fb->rows);
	free(fb);
}

/* An occurrence counts when the row that describes it (an override, or
 * its series) passes the filter and is neither cancelled nor a deadline. */
static void on_occurrence(const PGresult *res, int row, int64_t start, int64_t end, void *arg)
{
	struct fbfetch *fb = arg;
	const char *status = PQgetvalue(res, row, OCC_STATUS);
	if (PQgetvalue(res, row, FB_PASSES)[0] != 't' || !strcmp(status, "cancelled") ||
	    !strcmp(PQgetvalue(res, row, OCC_KIND), "deadline"))
		return;
	if (busyset_add(&fb->busy, start, end,
	                strcmp(status, "tentative") ? FB_BUSY : FB_TENTATIVE))
		fb->failed = 1;
}

/* A series whose occurrences could not all be counted within the budget:
 * from its start on, the window is not known to be free, and says so
 * (BUSY-UNAVAILABLE) rather than offer time that may be taken. */
static void on_cut(const PGresult *res, int row, void *arg)
{
	struct fbfetch *fb = arg;
	struct civil c;
	int64_t start = fb->busy.from;
	if (PQgetvalue(res, row, FB_PASSES)[0] != 't')
		return;
	if (civil_parse(PQgetvalue(res, row, OCC_START), PQgetvalue(res, row, OCC_ALLDAY)[0] == 't',
	                &c) ||
	    tz_to_utc(PQgetvalue(res, row, OCC_TZ), &c, &start) == TZ_UNKNOWN)
		start = fb->busy.from;
	fb->cut++;
	if (busyset_add(&fb->busy, start, fb->busy.to, FB_UNAVAILABLE))
		fb->failed = 1;
}

/* The calendar, dated stamp (a body from feed_body_new), or NULL. */
static char *fb_render(struct fbfetch *fb, int64_t stamp, size_t *len)
{
	struct freebusy_head h = {fb->name, fb->uid, fb->org_slug, fb->org_name, stamp};
	char *text = freebusy_render(&fb->busy, &h, len);
	char *body = text ? feed_body_new(*len + 1) : NULL;
	if (body)
		memcpy(body, text, *len + 1);
	free(text);
	return body;
}

/* Dated when its content first appeared, and kept. */
static void fb_keep(struct fbfetch *fb, int64_t changed)
{
	size_t len = 0;
	char digest[TOKEN_HASH_HEX + 1];
	feedfetch_set_changed(fb->ff, changed);
	char *body = fb_render(fb, feedfetch_changed(fb->ff), &len);
	if (body && token_hash(body, len, digest) == 0) {
		feedfetch_keep(fb->ff, body, len, digest);
	} else {
		feed_body_unref(body);
		feedfetch_failed(fb->ff, "cannot render the free/busy feed");
	}
	fb_free(fb);
}

/* The database's word on when the content first appeared
 * (SQL_FEED_STATE_DATED, then SQL_FEED_STATE_SINCE when another instance
 * wrote it first), or this instance's when it has none. */
static void on_dated(PGresult *res, void *arg)
{
	struct fbfetch *fb = arg;
	int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	if (ok && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		fb_keep(fb, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
		return;
	}
	if (ok && !fb->asked) {
		fb->asked = 1;
		const char *p[] = {fb->feed_id, fb->digest};
		if (dbpool_query(feedfetch_db(fb->ff), SQL_FEED_STATE_SINCE, 2, p, on_dated, fb) ==
		    0)
			return;
	}
	if (!ok)
		log_warn("recording a feed's state failed: %s",
		         res ? PQresultErrorMessage(res) : "no connection");
	fb_keep(fb, 0);
}

/* The content is the body with no date: DTSTAMP says when the content
 * first appeared, which is Last-Modified too. When the content's digest
 * is the last rendering's, that is known; when it is not, the database
 * says, so that every instance writes the same bytes for it. */
static void fb_rendered(struct fbfetch *fb)
{
	size_t len = 0;
	char *body = fb_render(fb, 0, &len);
	int ok = body && token_hash(body, len, fb->digest) == 0;
	feed_body_unref(body);
	if (!ok) {
		feedfetch_failed(fb->ff, "cannot render the free/busy feed");
		fb_free(fb);
		return;
	}
	fb->digest[32] = '\0';
	if (!strcmp(fb->digest, feedfetch_digest(fb->ff))) {
		fb_keep(fb, feedfetch_changed(fb->ff));
		return;
	}
	char size[24], count[16];
	snprintf(size, sizeof(size), "%zu", len);
	snprintf(count, sizeof(count), "%zu", fb->busy.n);
	const char *p[] = {fb->feed_id, fb->digest, size, count};
	if (dbpool_query(feedfetch_db(fb->ff), SQL_FEED_STATE_DATED, 4, p, on_dated, fb) != 0)
		fb_keep(fb, 0);
}

/* The expansion is over: rc 0, or -1 with too many occurrences. */
static void on_expanded(int rc, void *arg)
{
	struct fbfetch *fb = arg;
	const char *why = NULL;
	if (rc != 0)
		why =
		    "the free/busy feed has too many occurrences in its window: narrow its filter "
		    "or window";
	else if (fb->failed || busyset_merge(&fb->busy))
		why = "cannot render the free/busy feed";
	if (fb->cut)
		log_warn(
		    "free/busy feed %.8s: %d series could not be expanded in time; their part of "
		    "the window is given as unavailable",
		    fb->uid + strlen("freebusy-"), fb->cut);
	PQclear(fb->rows);
	fb->rows = NULL;
	if (why) {
		log_warn("%s", why);
		feedfetch_failed(fb->ff, why);
		fb_free(fb);
	} else {
		fb_rendered(fb);
	}
}

/* The rows are expanded in slices between which the worker's loop turns
 * (occurrences_expand), so that a large window does not hold the requests
 * behind it. */
static void on_rows(PGresult *res, void *arg)
{
	struct fbfetch *fb = arg;
	struct feedfetch *ff = fb->ff;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		feedfetch_query_failed(ff, res);
		fb_free(fb);
		return;
	}
	int series = 0;
	for (int i = 0; i < PQntuples(res); i++)
		series += PQgetisnull(res, i, OCC_SERIES);
	if (series > FB_MAX_SERIES) {
		const char *why =
		    "the free/busy feed has too many items in its window: narrow its filter or "
		    "window";
		log_warn("%s", why);
		feedfetch_failed(ff, why);
		fb_free(fb);
		return;
	}
	if (!(fb->rows = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES)) ||
	    occurrences_expand(feedfetch_base(ff), fb->rows, fb->busy.from, fb->busy.to,
	                       on_occurrence, on_cut, on_expanded, fb) != 0) {
		feedfetch_failed(ff, "out of memory");
		fb_free(fb);
	}
}

/* The statement: the rows whose time may count (SQL_FREEBUSY_*), the
 * filter's conditions where each piece wants them. */
static char *fb_statement(struct listq *q, const PGresult *feed, int64_t from, int64_t to)
{
	struct evbuffer *sql = evbuffer_new(), *cond = evbuffer_new();
	json_t *filter = json_loads(PQgetvalue(feed, 0, FL_FILTER), 0, NULL);
	char *out = NULL;
	if (sql && cond) {
		char f[24], t[24];
		snprintf(f, sizeof(f), "%lld", (long long)from);
		snprintf(t, sizeof(t), "%lld", (long long)to);
		int me = listq_param(q, PQgetvalue(feed, 0, FL_ORG)), pf = listq_param(q, f),
		    pt = listq_param(q, t);
		filters_feed_sql(cond, q, filter, me);
		const char *c = (const char *)evbuffer_pullup(cond, -1);
		size_t n = evbuffer_get_length(cond);
		evbuffer_add_printf(sql, SQL_FREEBUSY_SERIES, me, pf, pt);
		evbuffer_add(sql, c, n);
		evbuffer_add_printf(sql, SQL_FREEBUSY_MOVED_IN, FB_MAX_SERIES + 1, me, pf, pt);
		evbuffer_add(sql, c, n);
		evbuffer_add_printf(sql, SQL_FREEBUSY_ROWS, FB_MAX_SERIES + 1);
		evbuffer_add(sql, c, n);
		evbuffer_add_printf(sql, SQL_FREEBUSY_OVERRIDES);
		evbuffer_add(sql, c, n);
		evbuffer_add_printf(sql, SQL_FREEBUSY_END);
		size_t len = evbuffer_get_length(sql);
		if ((out = malloc(len + 1))) {
			evbuffer_remove(sql, out, len);
			out[len] = '\0';
		}
	}
	if (sql)
		evbuffer_free(sql);
	if (cond)
		evbuffer_free(cond);
	json_decref(filter);
	return out;
}

void feed_freebusy_fetch(struct feedfetch *ff, const PGresult *feed)
{
	struct fbfetch *fb = calloc(1, sizeof(*fb));
	struct listq *q = listq_new();
	if (!fb || !q) {
		free(fb);
		listq_free(q);
		feedfetch_failed(ff, "out of memory");
		return;
	}
	fb->ff = ff;
	snprintf(fb->feed_id, sizeof(fb->feed_id), "%s", PQgetvalue(feed, 0, FL_ID));
	snprintf(fb->uid, sizeof(fb->uid), "freebusy-%s@liaison", fb->feed_id);
	snprintf(fb->name, sizeof(fb->name), "%s", PQgetvalue(feed, 0, FL_NAME));
	snprintf(fb->org_slug, sizeof(fb->org_slug), "%s", PQgetvalue(feed, 0, FL_SLUG));
	snprintf(fb->org_name, sizeof(fb->org_name), "%s", PQgetvalue(feed, 0, FL_ORG_NAME));
	int64_t today = (int64_t)time(NULL) / DAY * DAY;
	int64_t from = today - (int64_t)atoi(PQgetvalue(feed, 0, FL_PAST)) * DAY;
	int64_t to = today + (int64_t)atoi(PQgetvalue(feed, 0, FL_FUTURE)) * DAY;
	busyset_init(&fb->busy, from, to, FB_MAX_PERIODS);
	char *sql = fb_statement(q, feed, from, to);
	int rc =
	    sql ? dbpool_query_text(feedfetch_db_read(ff), sql, q->n, q->params, on_rows, fb) : -2;
	free(sql);
	listq_free(q);
	if (rc == -2) {
		fb_free(fb);
		feedfetch_failed(ff, "out of memory");
	} else if (rc != 0) {
		fb_free(fb);
		feedfetch_query_failed(ff, NULL);
	}
}
