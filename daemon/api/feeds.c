/* feeds.c - iCalendar feeds: /v1/feeds for an org's admins, and the feed
 * itself at /feeds/{token}.ics, which needs no header because the
 * unguessable token is the key. A feed shows what its org may see, through
 * its filter, from a year back, with cancellations kept for 30 days.
 *
 * A rendered feed (plain and gzip) is kept per worker thread until
 * something changes anywhere (the data generation, bumped by NOTIFY and by
 * this instance's own writes) or for five minutes; one rendering per feed
 * runs at a time and other requests for it wait for its answer. Rendering
 * asks which events the feed shows and their stamps, takes the VEVENTs it
 * can from the shared cache (vevents.c), then from those stored in the
 * database (brought along with the list while the cache holds little), and
 * renders only the rest. */
#include "api/feeds.h"

#include "dbpool.h"
#include "core/event_json.h"
#include "core/event_sql.h"
#include "api/filters.h"
#include "http/http.h"
#include "ics_render.h"
#include "api/jsonv.h"
#include "log.h"
#include "core/metrics.h"
#include "http/context.h"
#include "token.h"
#include "clock.h"
#include "strhash.h"
#include "macros.h"
#include "core/vevents.h"
#include "validate.h"

#include "config.h"

#include <event2/buffer.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

/* The {id} of a request for one feed; NULL when answered. */
static const char *feed_id_param(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such feed");
		return NULL;
	}
	return id;
}

static void feed_url(struct req *r, const char *token, char *out, size_t len)
{
	snprintf(out, len, "%s/feeds/%s.ics", r->cx->cfg->public_url, token);
}

/* ---- management ----------------------------------------------------------- */

#define FEED_JSON                                                                                  \
	"jsonb_build_object('id', f.id, 'name', f.name, 'filter', f.filter, 'alarms', f.alarms, "  \
	"'past_days', f.past_days, 'future_days', f.future_days, "                                 \
	"'created_at', " EV_UTC("f.created_at") ")"
/* With what the last rendering found (feed_state s): its size, its number
 * of items, and what an admin should know about them (Google Calendar
 * drops a subscription over about 1 MB without a word). */
#define FEED_STATE_JSON                                                                            \
	"jsonb_build_object('size_bytes', s.size_bytes, 'events', s.events, "                      \
	"'rendered_at', " EV_UTC("s.rendered_at") ", 'changed_at', " EV_UTC(                       \
	    "s.changed_at") ", 'warnings', "                                                       \
	                    "CASE WHEN s.size_bytes > 1048576 THEN jsonb_build_array('over 1 MB: " \
	                    "Google Calendar "                                                     \
	                    "drops subscriptions this large without a word; narrow the filter or " \
	                    "the window "                                                          \
	                    "(past_days, future_days), or serve it gzipped') ELSE '[]'::jsonb "    \
	                    "END)"

struct feedop {
	struct req *r;
	char token[TOKEN_LEN + 1];
	int status;
};

static void on_feed_written(PGresult *res, void *arg)
{
	struct feedop *op = arg;
	struct req *r = op->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such feed");
	} else if (!PQgetisnull(res, 0, 1)) {
		json_t *errors = json_array();
		char field[96];
		snprintf(field, sizeof(field), "filter.%s", PQgetvalue(res, 0, 1));
		jv_error(errors, field, "names an org that does not exist");
		reply_problem_fields(r, 422, "the feed is not valid", errors);
	} else {
		json_t *feed = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		char url[512];
		feed_url(r, op->token, url, sizeof(url));
		json_object_set_new(feed, "token", json_string(op->token));
		json_object_set_new(feed, "url", json_string(url));
		if (op->status == 201) {
			char loc[64];
			snprintf(loc, sizeof(loc), "/v1/feeds/%s",
			         json_string_value(json_object_get(feed, "id")));
			req_add_header(r, "Location", loc);
		}
		reply_json(r, op->status, feed);
	}
	memset(op->token, 0, sizeof(op->token));
	free(op);
}

/* Orgs named by the filter must exist: the write is skipped otherwise and
 * the answer names the member (orgs or partners). */
static const char sql_create[] = "WITH " FILTER_MISSING_ORGS(
    "$4") ", "
          "f AS (INSERT INTO feeds (org_id, name, token_hash, filter, alarms, past_days, "
          " future_days) SELECT $1::uuid, $2::text, $3::text, $4::jsonb, $5::boolean, "
          " $6::integer, $7::integer "
          " WHERE (SELECT k FROM missing) IS NULL RETURNING *) "
          "SELECT (SELECT " FEED_JSON "::text FROM f), (SELECT k FROM missing)";

static const char *const feed_fields[] = {"name",      "filter",      "alarms",
                                          "past_days", "future_days", NULL};
static const char *const feed_ignored[] = {"id",         "created_at",  "url",
                                           "size_bytes", "events",      "warnings",
                                           "changed_at", "rendered_at", NULL};

/* The window members: past_days (0..3660; "" in past when absent) and
 * future_days (1..3660, or null for none). Returns 1 when future_days is
 * a number, 0 when null, -1 when absent. */
static int window_days(json_t *body, char past[16], char future[16], json_t *errors)
{
	past[0] = future[0] = '\0';
	json_t *p = json_object_get(body, "past_days"), *f = json_object_get(body, "future_days");
	if (p && (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > 3660))
		jv_error(errors, "past_days", "must be a whole number of days from 0 to 3660");
	else if (p)
		snprintf(past, 16, "%lld", (long long)json_integer_value(p));
	if (!f)
		return -1;
	if (json_is_null(f))
		return 0;
	if (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > 3660) {
		jv_error(errors, "future_days",
		         "must be a whole number of days from 1 to 3660, or null for no limit");
		return -1;
	}
	snprintf(future, 16, "%lld", (long long)json_integer_value(f));
	return 1;
}

void feeds_create(struct req *r)
{
	json_t *body = req_json_body(r, 0);
	if (!body)
		return;
	json_t *errors = json_array();
	jv_known(body, feed_fields, feed_ignored, errors);
	const char *name = jv_string(body, "name", 1, 200, 0, errors);
	json_t *alarms = json_object_get(body, "alarms");
	if (alarms && !json_is_boolean(alarms) && !json_is_null(alarms))
		jv_error(errors, "alarms", "must be true or false");
	json_t *filter = filters_check_json(json_object_get(body, "filter"), errors);
	char past[16], future[16];
	int has_future = window_days(body, past, future, errors);
	struct feedop *op = calloc(1, sizeof(*op));
	char hash[TOKEN_HASH_HEX + 1];
	if (!json_array_size(errors) &&
	    (!op || token_generate(op->token) || token_hash(op->token, TOKEN_LEN, hash)))
		jv_error(errors, "name", "cannot make a token");
	if (json_array_size(errors)) {
		free(op);
		json_decref(filter);
		json_decref(body);
		reply_problem_fields(r, 422, "the feed is not valid", errors);
		return;
	}
	json_decref(errors);
	char *ftext = json_dumps(filter, JSON_COMPACT | JSON_SORT_KEYS);
	const char *p[] = {r->who.org_id,
	                   name,
	                   hash,
	                   ftext ? ftext : "{}",
	                   json_is_true(alarms) ? "true" : "false",
	                   past[0] ? past : "365",
	                   has_future > 0 ? future : NULL};
	op->r = r;
	op->status = 201;
	if (dbpool_query(r->cx->db, sql_create, 7, p, on_feed_written, op) != 0) {
		free(op);
		reply_unavailable(r);
	}
	free(ftext);
	json_decref(filter);
	json_decref(body);
}

static const char sql_rotate[] =
    "WITH missing AS (SELECT NULL::text AS k), "
    "f AS (UPDATE feeds SET token_hash = $3::text, updated_at = now() WHERE id = $2::uuid "
    " AND org_id = $1::uuid AND revoked_at IS NULL RETURNING *) "
    "SELECT " FEED_JSON "::text, NULL FROM f";

void feeds_rotate(struct req *r)
{
	const char *id = feed_id_param(r);
	if (!id)
		return;
	struct feedop *op = calloc(1, sizeof(*op));
	char hash[TOKEN_HASH_HEX + 1];
	if (!op || token_generate(op->token) || token_hash(op->token, TOKEN_LEN, hash)) {
		free(op);
		reply_problem(r, 500, "cannot make a token");
		return;
	}
	op->r = r;
	op->status = 200;
	const char *p[] = {r->who.org_id, id, hash};
	if (dbpool_query(r->cx->db, sql_rotate, 3, p, on_feed_written, op) != 0) {
		free(op);
		reply_unavailable(r);
	}
}

static void on_feed_list(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	json_t *items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}

void feeds_list(struct req *r)
{
	const char *p[] = {r->who.org_id};
	if (dbpool_query(r->cx->db,
	                 "SELECT (" FEED_JSON " || " FEED_STATE_JSON ")::text FROM feeds f "
	                 "LEFT JOIN feed_state s ON s.feed_id = f.id WHERE f.org_id = $1::uuid "
	                 "AND f.revoked_at IS NULL ORDER BY f.created_at, f.id",
	                 1, p, on_feed_list, r) != 0)
		reply_unavailable(r);
}

/* One feed, as the list shows it, and the answer to a change of one. */
static void on_feed_one(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
			json_t *errors = json_array();
			char field[96];
			snprintf(field, sizeof(field), "filter.%s", PQgetvalue(res, 0, 1));
			jv_error(errors, field, "names an org that does not exist");
			reply_problem_fields(r, 422, "the feed is not valid", errors);
		} else {
			reply_problem(r, 404, "no such feed");
		}
	} else {
		reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
		          (size_t)PQgetlength(res, 0, 0));
	}
}

void feeds_get(struct req *r)
{
	const char *id = feed_id_param(r);
	if (!id)
		return;
	const char *p[] = {id, r->who.org_id};
	if (dbpool_query(r->cx->db,
	                 "SELECT (" FEED_JSON " || " FEED_STATE_JSON ")::text, NULL FROM feeds f "
	                 "LEFT JOIN feed_state s ON s.feed_id = f.id WHERE f.id = $1::uuid "
	                 "AND f.org_id = $2::uuid AND f.revoked_at IS NULL",
	                 2, p, on_feed_one, r) != 0)
		reply_unavailable(r);
}

/* A merge patch of the members given ($3..: a flag per member, then its
 * value); orgs the filter names must exist, as at creation. */
/* clang-format off */
static const char sql_patch[] =
	"WITH " FILTER_MISSING_ORGS("$6") ", "
	"f AS ("
	"  UPDATE feeds"
	"     SET name = CASE WHEN $3::boolean THEN $4::text ELSE name END,"
	"         filter = CASE WHEN $5::boolean THEN $6::jsonb ELSE filter END,"
	"         alarms = CASE WHEN $7::boolean THEN $8::boolean ELSE alarms END,"
	"         past_days = CASE WHEN $9::boolean THEN $10::integer ELSE past_days END,"
	"         future_days = CASE WHEN $11::boolean THEN $12::integer ELSE future_days END,"
	"         updated_at = now()"
	"   WHERE id = $1::uuid"
	"     AND org_id = $2::uuid"
	"     AND revoked_at IS NULL"
	"     AND (SELECT k FROM missing) IS NULL"
	"  RETURNING *) "
	"SELECT (SELECT (" FEED_JSON " || " FEED_STATE_JSON ")::text"
	"          FROM f"
	"          LEFT JOIN feed_state s ON s.feed_id = f.id),"
	"       (SELECT k FROM missing)"
	" WHERE EXISTS (SELECT 1 FROM f)"
	"    OR (SELECT k FROM missing) IS NOT NULL";
/* clang-format on */

void feeds_patch(struct req *r)
{
	const char *id = feed_id_param(r);
	if (!id)
		return;
	json_t *body = req_json_body(r, 1);
	if (!body)
		return;
	json_t *errors = json_array();
	jv_known(body, feed_fields, feed_ignored, errors);
	const char *name = jv_string(body, "name", 0, 200, 0, errors);
	if (json_is_null(json_object_get(body, "name")))
		jv_error(errors, "name", "must not be null");
	json_t *alarms = json_object_get(body, "alarms");
	if (alarms && !json_is_boolean(alarms))
		jv_error(errors, "alarms", "must be true or false");
	json_t *f = json_object_get(body, "filter");
	json_t *filter = f ? filters_check_json(f, errors) : NULL;
	char past[16], future[16];
	int has_future = window_days(body, past, future, errors);
	if (json_is_null(json_object_get(body, "past_days")))
		jv_error(errors, "past_days", "must be a whole number of days from 0 to 3660");
	if (json_array_size(errors)) {
		json_decref(filter);
		json_decref(body);
		reply_problem_fields(r, 422, "the feed is not valid", errors);
		return;
	}
	json_decref(errors);
	char *ftext = filter ? json_dumps(filter, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *p[] = {id,
	                   r->who.org_id,
	                   name ? "true" : "false",
	                   name,
	                   filter ? "true" : "false",
	                   ftext ? ftext : "{}",
	                   alarms ? "true" : "false",
	                   json_is_true(alarms) ? "true" : "false",
	                   past[0] ? "true" : "false",
	                   past[0] ? past : NULL,
	                   has_future >= 0 ? "true" : "false",
	                   has_future > 0 ? future : NULL};
	if (dbpool_query(r->cx->db, sql_patch, 12, p, on_feed_one, r) != 0)
		reply_unavailable(r);
	free(ftext);
	json_decref(filter);
	json_decref(body);
}

static void on_feed_revoked(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such feed");
	} else {
		reply_empty(r, 204);
	}
}

void feeds_delete(struct req *r)
{
	const char *id = feed_id_param(r);
	if (!id)
		return;
	const char *p[] = {id, r->who.org_id};
	if (dbpool_query(r->cx->db,
	                 "UPDATE feeds SET revoked_at = now() WHERE id = $1::uuid AND "
	                 "org_id = $2::uuid AND revoked_at IS NULL RETURNING id",
	                 2, p, on_feed_revoked, r) != 0)
		reply_unavailable(r);
}

/* Dates in HTTP headers (RFC 9110 IMF-fixdate). */
static void http_date(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int64_t parse_http_date(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
	return end && !*end ? (int64_t)timegm(&tm) : -1;
}

/* ---- the cache ------------------------------------------------------------- */

#define FEED_SLOTS  256 /* per worker thread; a power of two */
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
	unsigned generation;
	int64_t rendered_ms;
	char *body, *gz;
	size_t len, gzlen;
	char etag[40], etag_gz[40]; /* tags unquoted */
	int64_t changed;            /* the second its content last changed */
};

struct feedcache {
	struct feed_entry slots[FEED_SLOTS];
};

/* A rendered body is shared with the answers still sending it (a reference
 * in their output buffer, not a copy): a count sits before the bytes. */
struct shared {
	size_t refs;
	char data[];
};

static char *shared_new(size_t len)
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

static void shared_unref(char *p)
{
	if (p && --shared_of(p)->refs == 0)
		free(shared_of(p));
}

static void shared_sent(const void *data, size_t len, void *arg)
{
	UNUSED(data);
	UNUSED(len);
	shared_unref(arg);
}

struct feedcache *feedcache_new(void)
{
	return calloc(1, sizeof(struct feedcache));
}

static void entry_clear(struct feed_entry *e)
{
	struct feedfetch *inflight = e->inflight;
	shared_unref(e->body);
	shared_unref(e->gz);
	memset(e, 0, sizeof(*e));
	e->inflight = inflight;
}

void feedcache_free(struct feedcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < FEED_SLOTS; i++)
		entry_clear(&c->slots[i]);
	free(c);
}

static struct feed_entry *entry_for(struct feedcache *c, const char *hash)
{
	unsigned idx = 0;
	for (int i = 0; i < 4; i++)
		idx = idx << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return &c->slots[idx & (FEED_SLOTS - 1)];
}

/* gzip (RFC 1952) of data: deflate with window bits 31. */
static char *gzip(const char *data, size_t len, size_t *outlen)
{
	z_stream zs = {0};
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	uLong bound = deflateBound(&zs, (uLong)len);
	char *out = shared_new(bound);
	if (out) {
		zs.next_in = (Bytef *)(uintptr_t)data;
		zs.avail_in = (uInt)len;
		zs.next_out = (Bytef *)out;
		zs.avail_out = (uInt)bound;
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
			shared_unref(out);
			out = NULL;
		} else {
			*outlen = zs.total_out;
		}
	}
	deflateEnd(&zs);
	return out;
}

/* The weight of one Accept-Encoding member ("gzip;q=0.5"): 1 without a q,
 * 0 when the q is not a number from 0 to 1. */
static double coding_q(const char *item, size_t len)
{
	for (const char *p = memchr(item, ';', len); p;
	     p = memchr(p, ';', len - (size_t)(p - item))) {
		p++;
		while (p < item + len && (*p == ' ' || *p == '\t'))
			p++;
		if (p + 2 <= item + len && (*p == 'q' || *p == 'Q') && p[1] == '=') {
			char num[8];
			size_t n = strcspn(p + 2, ",; \t");
			if (n == 0 || n >= sizeof(num) || p + 2 + n > item + len)
				return 0;
			memcpy(num, p + 2, n);
			num[n] = '\0';
			char *end;
			double q = strtod(num, &end);
			return *end || q < 0 || q > 1 ? 0 : q;
		}
	}
	return 1;
}

/* Whether the client takes gzip (RFC 9110, 12.5.3): gzip or x-gzip listed
 * with a weight above 0, or not listed and "*" above 0. */
static int accepts_gzip(struct req *r)
{
	int gzip = -1, any = -1; /* -1: not listed */
	for (const char *p = req_header(r, "Accept-Encoding"); p && *p;) {
		size_t len = strcspn(p, ",");
		const char *name = p + strspn(p, " \t");
		size_t nlen = strcspn(name, ",; \t");
		int positive = coding_q(p, len) > 0;
		if ((nlen == 4 && !strncasecmp(name, "gzip", 4)) ||
		    (nlen == 6 && !strncasecmp(name, "x-gzip", 6)))
			gzip = positive;
		else if (nlen == 1 && *name == '*')
			any = positive;
		p += len + (p[len] == ',');
	}
	return gzip >= 0 ? gzip : any > 0;
}

/* Last-Modified is the second the content last changed (see
 * feed_rendered), never later than now (the Date header); If-Modified-Since
 * gets a 304 only for a date at or after that second. */
static void serve_entry(struct req *r, struct feed_entry *e)
{
	int gz = accepts_gzip(r);
	const char *etag = gz ? e->etag_gz : e->etag;
	int64_t changed = e->changed, now = (int64_t)time(NULL);
	char last_modified[32];
	http_date(changed < now ? changed : now, last_modified);
	req_set_etag(r, etag);
	req_add_header(r, "Last-Modified", last_modified);
	req_add_header(r, "Cache-Control", "max-age=300");
	req_add_header(r, "Vary", "Accept-Encoding");
	const char *inm = req_header(r, "If-None-Match");
	int64_t since = parse_http_date(req_header(r, "If-Modified-Since"));
	if (etag_listed(inm, etag) || (!inm && since >= 0 && changed <= since)) {
		reply_empty(r, 304);
		return;
	}
	/* Compressed when first sent compressed: a rendering that no client
	 * takes gzipped, or that is only revalidated, never costs the deflate
	 * (17 ms for 4 MB). */
	if (gz && !e->gz && !(e->gz = gzip(e->body, e->len, &e->gzlen))) {
		reply_problem(r, 500, "cannot compress the feed");
		return;
	}
	if (gz)
		req_add_header(r, "Content-Encoding", "gzip");
	char *body = gz ? e->gz : e->body;
	shared_of(body)->refs++;
	reply_shared(r, 200, "text/calendar; charset=utf-8", body, gz ? e->gzlen : e->len,
	             shared_sent, body);
}

/* ---- the feed -------------------------------------------------------------- */

struct feedfetch {
	struct req *r;
	char hash[TOKEN_HASH_HEX + 1];
	unsigned generation; /* read before the queries: a change meanwhile stays stale */
	char feed_id[37];
	char name[201];
	int alarms;
	int past_days, future_days; /* the window; future_days 0: none */
	char digest[33];            /* what it rendered to last time, or "" */
	int64_t changed;            /* and since which second */
	/* the events, in feed order: their text, and the zone each uses */
	int n;
	struct vtext **texts;
	char (*ids)[37], (*stamps)[48];
	int *missing; /* positions not in the VEVENT cache: read from the store, else rendered */
	int nmissing;
	int *slots; /* the missing positions by id (position + 1; 0: free), for rows */
	unsigned nslots;
	/* Requests for the same feed that came while this one was rendering:
	 * they get its answer instead of rendering it again. */
	struct req **waiters;
	int nwaiters, capwaiters;
	struct feed_entry *slot;         /* where the rendering will be kept */
	int with_texts;                  /* the first query brings the stored texts */
	int stored_asked;                /* or they were asked for by queries of their own */
	int nmemory, nstored, nrendered; /* where the VEVENTs came from */
	int chunks;                      /* second queries under way */
	int failed, unreachable;         /* one failed; whether the database was unreachable */
};

static void feedfetch_free(struct feedfetch *ff)
{
	if (ff->slot && ff->slot->inflight == ff)
		ff->slot->inflight = NULL;
	free(ff->waiters);
	for (int i = 0; ff->texts && i < ff->n; i++)
		vtext_unref(ff->texts[i]);
	free(ff->texts);
	free(ff->missing);
	free(ff->slots);
	free(ff->ids);
	free(ff->stamps);
	free(ff);
}

/* The database could not be asked: a stale rendering beats none. */
static void serve_stale_or_503(struct req *r, const char *hash)
{
	struct feed_entry *e = entry_for(r->cx->feeds, hash);
	if (e->body && !strcmp(e->hash, hash))
		serve_entry(r, e);
	else
		reply_unavailable(r);
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
	switch (how) {
	case FF_SERVE: serve_entry(r, entry_for(r->cx->feeds, ff->hash)); break;
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
 * same events give the same bytes), the VEVENTs in order, the tail. */
static char *assemble(struct feedfetch *ff, size_t *len)
{
	const char **names = calloc((size_t)ff->n + 1, sizeof(char *));
	size_t nz = 0, total = strlen(ICS_TAIL);
	for (int i = 0; names && i < ff->n; i++) {
		if (!ff->texts[i])
			continue;
		total += ff->texts[i]->len;
		if (ff->texts[i]->zone[0])
			names[nz++] = ff->texts[i]->zone;
	}
	if (!names)
		return NULL;
	qsort(names, nz, sizeof(*names), ics_zone_cmp);
	size_t u = 0;
	for (size_t i = 0; i < nz; i++)
		if (u == 0 || strcmp(names[u - 1], names[i]))
			names[u++] = names[i];
	char *head = ics_render_head(ff->name, names, u);
	free(names);
	char *out = head ? shared_new(strlen(head) + total + 1) : NULL;
	if (out) {
		size_t at = strlen(head);
		memcpy(out, head, at);
		for (int i = 0; i < ff->n; i++) {
			if (!ff->texts[i])
				continue;
			size_t l = ff->texts[i]->len;
			memcpy(out + at, ff->texts[i]->text, l);
			at += l;
		}
		memcpy(out + at, ICS_TAIL, strlen(ICS_TAIL) + 1);
		*len = at + strlen(ICS_TAIL);
	}
	free(head);
	return out;
}

/* When the rendered bytes differ from the last rendering's, the content
 * changed now: the first writer of a digest keeps its time, so instances
 * that render the same change agree on it. Not waited for; a lost write
 * costs a later Last-Modified, never an earlier one. */
/* clang-format off */
static const char sql_feed_state[] =
	"INSERT INTO feed_state (feed_id, digest, size_bytes, events, changed_at, rendered_at)"
	"     VALUES ($1::uuid, $2::text, $3::bigint, $4::integer, to_timestamp($5::bigint), now())"
	" ON CONFLICT (feed_id) DO UPDATE"
	"        SET digest = excluded.digest,"
	"            size_bytes = excluded.size_bytes,"
	"            events = excluded.events,"
	"            changed_at = excluded.changed_at,"
	"            rendered_at = excluded.rendered_at"
	"      WHERE feed_state.digest <> excluded.digest";
/* clang-format on */

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
	if (dbpool_query(ff->r->cx->db, sql_feed_state, 5, p, on_feed_state, NULL) != 0)
		log_warn("recording a feed's state: the database is busy");
}

static void feed_rendered(struct feedfetch *ff)
{
	struct req *r = ff->r;
	log_debug("feed %.8s: %d events, %d from memory, %d stored, %d rendered; stored texts %s",
	          ff->hash, ff->n, ff->nmemory, ff->nstored, ff->nrendered,
	          ff->with_texts     ? "came with the list"
	          : ff->stored_asked ? "asked for after the list"
	                             : "not asked for");
	metrics_add(M_FEED_VEVENTS_MEMORY, (uint64_t)ff->nmemory);
	metrics_add(M_FEED_VEVENTS_STORED, (uint64_t)ff->nstored);
	metrics_add(M_FEED_VEVENTS_RENDERED, (uint64_t)ff->nrendered);
	size_t len = 0;
	char *ics = assemble(ff, &len);
	char digest[TOKEN_HASH_HEX + 1];
	if (!ics || token_hash(ics, len, digest)) {
		shared_unref(ics);
		ff_end(ff, FF_FAILED, "cannot render the feed");
		return;
	}
	digest[32] = '\0';
	/* Different bytes changed this second, or, if the last change took
	 * that second already, the next one: two contents never share a
	 * Last-Modified, so a client's If-Modified-Since can never match
	 * content it does not have. Beyond now, Last-Modified says now until
	 * the clock catches up, and the client revalidates once more. */
	if (strcmp(digest, ff->digest) != 0) {
		int64_t now = (int64_t)time(NULL);
		ff->changed = ff->digest[0] && ff->changed >= now ? ff->changed + 1 : now;
		feed_state_write(ff, digest, len);
	}
	metrics_feed_size(ff->feed_id, len);
	struct feed_entry *e = entry_for(r->cx->feeds, ff->hash);
	entry_clear(e);
	memcpy(e->hash, ff->hash, sizeof(e->hash));
	e->generation = ff->generation;
	e->rendered_ms = now_monotonic_ms();
	e->body = ics;
	e->len = len;
	e->changed = ff->changed;
	/* A strong ETag per content coding. */
	snprintf(e->etag, sizeof(e->etag), "%.32s", digest);
	snprintf(e->etag_gz, sizeof(e->etag_gz), "%.32s-gz", digest);
	ff_end(ff, FF_SERVE, NULL);
}

/* Rows come back in any order and name their event by id: a table of the
 * missing positions, open addressing keyed by the id's hash, finds where
 * each goes. Made once per fetch; what it maps never moves. */
static int slots_make(struct feedfetch *ff)
{
	unsigned n = 16;
	while (n < 2u * (unsigned)ff->nmissing)
		n *= 2;
	if (!(ff->slots = calloc(n, sizeof(*ff->slots))))
		return -1;
	ff->nslots = n;
	for (int k = 0; k < ff->nmissing; k++) {
		unsigned at = str_hash(ff->ids[ff->missing[k]]) & (n - 1);
		while (ff->slots[at])
			at = (at + 1) & (n - 1);
		ff->slots[at] = ff->missing[k] + 1;
	}
	return 0;
}

/* The feed position of a missing event, or -1 for an id the feed did not ask for. */
static int slots_find(const struct feedfetch *ff, const char *id)
{
	for (unsigned at = str_hash(id) & (ff->nslots - 1); ff->slots[at];
	     at = (at + 1) & (ff->nslots - 1))
		if (!strcmp(ff->ids[ff->slots[at] - 1], id))
			return ff->slots[at] - 1;
	return -1;
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
		 * What is rendered is written to the database without waiting, in
		 * the time this loop would otherwise wait for the next chunk. */
		struct vevents_batch *store = NULL;
		for (int k = 0; k < PQntuples(res); k++) {
			int i = slots_find(ff, PQgetvalue(res, k, 0));
			if (i < 0 || ff->texts[i])
				continue;
			struct vtext *v = vevents_render(res, k, ff->alarms);
			if (v) {
				ff->nrendered++;
				ff->texts[i] = v;
				vevents_put(PQgetvalue(res, k, 0), PQgetvalue(res, k, 1),
				            ff->alarms, v);
				vevents_batch_add(&store, PQgetvalue(res, k, 0),
				                  PQgetvalue(res, k, 1), ff->alarms, v->text,
				                  v->zone);
			}
		}
		vevents_store(ff->r->cx->db, store);
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

/* "= ANY", not a join with unnest(), for the reason vevents_load_sql gives. */
const char feeds_missing_sql[] = VEVENT_SELECT "WHERE e.id = ANY($1::uuid[])";

static void on_stored_texts(PGresult *res, void *arg);

/* One query over ff->missing[from..to): the stored texts (stored set) or
 * the events to render. */
static int fetch_chunk(struct feedfetch *ff, int from, int to, int stored)
{
	char *ids = chunk_ids(ff, from, to);
	int rc = -1;
	if (ids) {
		const char *p[] = {ids, ff->alarms ? "t" : "f", vevents_renderer()};
		rc = stored
		         ? dbpool_query(ff->r->cx->db, vevents_load_sql, 3, p, on_stored_texts, ff)
		         : dbpool_query(ff->r->cx->db, feeds_missing_sql, 1, p, on_missing_events,
		                        ff);
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

/* Takes the stored texts among the rows of res (id, stamp, body, zone; rows
 * without a body are not texts) that are current for missing events. */
static void take_texts(struct feedfetch *ff, const PGresult *res)
{
	for (int k = 0; k < PQntuples(res); k++) {
		if (PQgetisnull(res, k, 2))
			continue;
		int i = slots_find(ff, PQgetvalue(res, k, 0));
		if (i < 0 || ff->texts[i] || strcmp(PQgetvalue(res, k, 1), ff->stamps[i]) ||
		    !(ff->texts[i] =
		          vtext_new(PQgetvalue(res, k, 2), (size_t)PQgetlength(res, k, 2),
		                    PQgetvalue(res, k, 3))))
			continue;
		ff->nstored++;
		vevents_put(ff->ids[i], ff->stamps[i], ff->alarms, ff->texts[i]);
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
 * it did not (a daemon just started, or the cache emptied), the first query
 * brings the stored texts along, which spares a second round trip and the
 * 10,000 ids sent back for it; when it did, that would send megabytes the
 * cache already holds. Either guess gives the same bytes. */
static atomic_int memory_warm;

/* The columns of the first query: the feed's events are the rows with a
 * position. */
enum { COL_ID, COL_STAMP, COL_BODY, COL_ZONE, COL_POS };

/* Puts the feed's events in order, each with its VEVENT from memory if the
 * cache has it; 0, or -1 when the rows do not make a feed. */
static int take_events(struct feedfetch *ff, const PGresult *res)
{
	for (int k = 0; k < PQntuples(res); k++)
		ff->n += !PQgetisnull(res, k, COL_POS);
	ff->texts = calloc((size_t)ff->n + 1, sizeof(*ff->texts));
	ff->missing = calloc((size_t)ff->n + 1, sizeof(*ff->missing));
	ff->ids = calloc((size_t)ff->n + 1, sizeof(*ff->ids));
	ff->stamps = calloc((size_t)ff->n + 1, sizeof(*ff->stamps));
	if (!ff->texts || !ff->missing || !ff->ids || !ff->stamps)
		return -1;
	for (int k = 0; k < PQntuples(res); k++) {
		if (PQgetisnull(res, k, COL_POS))
			continue;
		long long pos = strtoll(PQgetvalue(res, k, COL_POS), NULL, 10);
		if (pos < 1 || pos > ff->n || ff->ids[pos - 1][0])
			return -1;
		int i = (int)pos - 1;
		snprintf(ff->ids[i], sizeof(ff->ids[i]), "%s", PQgetvalue(res, k, COL_ID));
		snprintf(ff->stamps[i], sizeof(ff->stamps[i]), "%s", PQgetvalue(res, k, COL_STAMP));
		ff->texts[i] = vevents_get(ff->ids[i], ff->stamps[i], ff->alarms);
	}
	for (int i = 0; i < ff->n; i++)
		if (!ff->texts[i])
			ff->missing[ff->nmissing++] = i;
	return 0;
}

/* First query: which events the feed shows, in order, with their stamps,
 * and maybe their stored texts; those the VEVENT cache holds need nothing
 * more. */
static void on_feed_events(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		ff_fail(ff, res);
		return;
	}
	if (take_events(ff, res) != 0) {
		ff_end(ff, FF_FAILED, "cannot read the feed's events");
		return;
	}
	ff->nmemory = ff->n - ff->nmissing;
	if (ff->n)
		atomic_store(&memory_warm, 2 * ff->nmemory >= ff->n);
	if (!ff->nmissing) {
		feed_rendered(ff);
	} else if (slots_make(ff) != 0) {
		ff_end(ff, FF_FAILED, "out of memory");
	} else if (ff->with_texts) {
		take_texts(ff, res);
		render_rest(ff);
	} else if (vevents_renderer()) {
		ff->stored_asked = 1;
		fetch_chunks(ff, STORED_CHUNK, 1);
	} else {
		render_rest(ff); /* nothing is stored without a renderer's fingerprint */
	}
}

/* The feed's events: what its org may see, through its filter, with the
 * columns above. */
#define FEED_AHEAD(t) " AND " t ".start_utc < (SELECT now() + $%d::integer * interval '1 day')"
static void fetch_events(struct feedfetch *ff, PGresult *feed)
{
	struct req *r = ff->r;
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	json_t *filter = json_loads(PQgetvalue(feed, 0, 2), 0, NULL);
	if (!q || !sql) {
		listq_free(q);
		if (sql)
			evbuffer_free(sql);
		json_decref(filter);
		ff_end(ff, FF_FAILED, "out of memory");
		return;
	}
	ff->with_texts = vevents_renderer() && !atomic_load(&memory_warm);
	int me = listq_param(q, PQgetvalue(feed, 0, 4)),
	    slug = listq_param(q, PQgetvalue(feed, 0, 5)),
	    past = listq_param(q, PQgetvalue(feed, 0, 7));
	/* m: the single events and series the feed shows; then the live
	 * overrides of those series (a cancelled one is its master's EXDATE). */
	/* clang-format off */
	int future = ff->future_days > 0 ? listq_param(q, PQgetvalue(feed, 0, 8)) : 0;
	/* A series is shown when it is in the window itself, or when one of
	 * its live overrides is (a last meeting put off past the series' end,
	 * one kept while the series was cancelled). */
	evbuffer_add_printf(sql,
		"WITH m AS MATERIALIZED ("
		"  SELECT e.id, e.start_utc, " VEVENT_STAMP " AS stamp"
		"    FROM events e"
		"    JOIN orgs o ON o.id = e.org_id"
		"   WHERE e.series_id IS NULL"
		"     AND " EV_VISIBLE("e", "$%d::uuid", "$%d::text")
		"     AND ((" VEVENT_SHOWN("$%d::integer * interval '1 day'"),
		me, slug, past);
	if (future)
		evbuffer_add_printf(sql, FEED_AHEAD("e"), future);
	evbuffer_add_printf(sql,
		"          ) OR (e.rrule IS NOT NULL OR cardinality(e.rdates) > 0) AND e.id IN ("
		"            SELECT x.series_id"
		"              FROM events x"
		"             WHERE x.series_id IS NOT NULL"
		"               AND x.status <> 'cancelled'"
		"               AND x.last_end_utc > (SELECT now() - $%d::integer * interval '1 day')",
		past);
	if (future)
		evbuffer_add_printf(sql, FEED_AHEAD("x"), future);
	evbuffer_add_printf(sql, "))");
	/* clang-format on */
	for (size_t i = 0; i < ARRAY_LEN(filter_json_keys); i++) {
		json_t *vals = json_object_get(filter, filter_json_keys[i].member);
		if (json_array_size(vals)) {
			char *text = json_dumps(vals, JSON_COMPACT);
			filters_sql_condition(sql, filter_json_keys[i].param, listq_param(q, text));
			free(text);
		}
	}
	/* clang-format off */
	evbuffer_add_printf(sql,
		"   ORDER BY e.start_utc, e.id"
		"   LIMIT 50000), "
		"f AS MATERIALIZED ("
		"  SELECT x.id, x.stamp, NULL::text AS body, NULL::text AS zone,"
		"         row_number() OVER (ORDER BY x.start_utc, x.id) AS pos"
		"    FROM (SELECT id, start_utc, stamp"
		"            FROM m"
		"          UNION ALL"
		"          SELECT e.id, e.start_utc, " VEVENT_STAMP
		"            FROM events e"
		"           WHERE e.series_id IN (SELECT id FROM m)"
		"             AND e.status <> 'cancelled') x) "
		"SELECT * FROM f");
	/* clang-format on */
	/* The texts as rows of their own, "= ANY" for the reason
	 * vevents_load_sql gives. */
	if (ff->with_texts) {
		int alarms = listq_param(q, ff->alarms ? "t" : "f"),
		    renderer = listq_param(q, vevents_renderer());
		evbuffer_add_printf(
		    sql,
		    " UNION ALL SELECT t.event_id, t.stamp, t.body, t.zone, NULL "
		    "FROM vevent_texts t WHERE t.event_id = ANY(ARRAY(SELECT f.id FROM f)) "
		    "AND t.alarms = $%d::boolean AND t.renderer = $%d::text",
		    alarms, renderer);
	}
	evbuffer_add(sql, "", 1);
	json_decref(filter);
	int rc = dbpool_query_text(r->cx->db, (const char *)evbuffer_pullup(sql, -1), q->n,
	                           q->params, on_feed_events, ff);
	listq_free(q);
	evbuffer_free(sql);
	if (rc != 0)
		ff_fail(ff, NULL);
}

static void on_feed_found(PGresult *res, void *arg)
{
	struct feedfetch *ff = arg;
	struct req *r = ff->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		ff_fail(ff, res);
		return;
	}
	if (PQntuples(res) != 1) {
		struct feed_entry *e = entry_for(r->cx->feeds, ff->hash);
		if (!strcmp(e->hash, ff->hash))
			entry_clear(e); /* revoked or rotated */
		ff_end(ff, FF_NOT_FOUND, NULL);
		return;
	}
	snprintf(ff->feed_id, sizeof(ff->feed_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(ff->name, sizeof(ff->name), "%s", PQgetvalue(res, 0, 1));
	ff->alarms = PQgetvalue(res, 0, 3)[0] == 't';
	ff->past_days = atoi(PQgetvalue(res, 0, 7));
	ff->future_days = PQgetisnull(res, 0, 8) ? 0 : atoi(PQgetvalue(res, 0, 8));
	snprintf(ff->digest, sizeof(ff->digest), "%s", PQgetvalue(res, 0, 9));
	ff->changed = strtoll(PQgetvalue(res, 0, 10), NULL, 10);
	fetch_events(ff, res);
}

/* The feed, its window, and what it rendered to last (feed_state). */
const char feeds_lookup_sql[] =
    "SELECT f.id, f.name, f.filter::text, f.alarms, f.org_id, o.slug, "
    "extract(epoch FROM f.updated_at)::bigint, f.past_days, f.future_days, s.digest, "
    "floor(extract(epoch FROM s.changed_at))::bigint FROM feeds f JOIN orgs o "
    "ON o.id = f.org_id LEFT JOIN feed_state s ON s.feed_id = f.id "
    "WHERE f.token_hash = $1 AND f.revoked_at IS NULL";

void feeds_serve(struct req *r)
{
	/* Only "<43 base64url characters>.ics": anything else is simply 404,
	 * with no hint whether such a feed ever existed. */
	const char *seg = req_param(r, "token");
	size_t n = seg ? strlen(seg) : 0;
	char token[TOKEN_LEN + 1];
	if (n != TOKEN_LEN + 4 || strcmp(seg + TOKEN_LEN, ".ics") != 0) {
		feed_not_found(r);
		return;
	}
	memcpy(token, seg, TOKEN_LEN);
	token[TOKEN_LEN] = '\0';
	char hash[TOKEN_HASH_HEX + 1];
	if (!token_well_formed(token) || token_hash(token, TOKEN_LEN, hash)) {
		feed_not_found(r);
		return;
	}
	struct feed_entry *e = entry_for(r->cx->feeds, hash);
	unsigned generation = atomic_load(r->cx->data_generation);
	if (e->body && !strcmp(e->hash, hash) && e->generation == generation &&
	    now_monotonic_ms() - e->rendered_ms < FEED_TTL_MS) {
		serve_entry(r, e);
		return;
	}
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
