/* feeds.c - /v1/feeds, for an org's admins: create (the token and URL are
 * shown once), list, read (with what the last rendering found), patch,
 * rotate the token, revoke. The feed itself is feed_serve.c; one feed
 * with the whole of its health, feed_health.c. */
#include "api/feeds.h"

#include "api/feeds_sql.h"
#include "api/filters.h"
#include "api/jsonv.h"
#include "config.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "token.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static const char *const feed_fields[] = {"name",        "filter", "alarms",   "past_days",
                                          "future_days", "mode",   "language", NULL};
static const char *const feed_ignored[] = {"id",         "created_at", "url",         "size_bytes",
                                           "events",     "warnings",   "changed_at",  "rendered_at",
                                           "last_fetch", "fetched_by", "fetches_24h", NULL};

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

/* A feed's "mode": "events" or "freebusy"; dflt when absent, NULL (named
 * in errors) when bad. */
static const char *mode_member(json_t *body, const char *dflt, json_t *errors)
{
	json_t *m = json_object_get(body, "mode");
	const char *mode = !m || json_is_null(m) ? dflt : json_string_value(m);
	if (m && (!mode || (strcmp(mode, "events") && strcmp(mode, "freebusy")))) {
		jv_error(errors, "mode", "must be \"events\" or \"freebusy\"");
		return NULL;
	}
	return mode;
}

/* What a new free/busy feed may not have: alarms, a window without an end
 * or longer than FREEBUSY_MAX_DAYS (sql/015 holds the same rules); and its
 * window's defaults: from today, 90 days. */
#define FREEBUSY_MAX_DAYS 366
#define FREEBUSY_WINDOW_MESSAGE                                                                    \
	"a free/busy feed's window (past_days + future_days) must end and span at most 366 days"
static void freebusy_check(int alarms, char past[16], char future[16], int *has_future,
                           json_t *errors)
{
	int given = *has_future > 0;
	if (alarms)
		jv_error(errors, "alarms", "a free/busy feed has no alarms");
	if (!past[0])
		snprintf(past, 16, "0");
	if (*has_future < 0) {
		snprintf(future, 16, "90");
		*has_future = 1;
	} else if (*has_future == 0) {
		jv_error(errors, "future_days", FREEBUSY_WINDOW_MESSAGE);
		return;
	}
	if (atoi(past) + atoi(future) > FREEBUSY_MAX_DAYS)
		jv_error(errors, given ? "future_days" : "past_days", FREEBUSY_WINDOW_MESSAGE);
}

/* A write refused by one of a free/busy feed's rules (sql/015), which a
 * patch can break with what the feed has already: 422 naming the field. */
static int freebusy_refused(struct req *r, const PGresult *res, json_t *body)
{
	const char *c = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	const char *field = NULL, *message = NULL;
	if (c && !strcmp(c, "feeds_freebusy_alarms")) {
		field = "alarms";
		message = "a free/busy feed has no alarms";
	} else if (c && !strcmp(c, "feeds_freebusy_window")) {
		field = json_object_get(body, "past_days") && !json_object_get(body, "future_days")
		            ? "past_days"
		            : "future_days";
		message = FREEBUSY_WINDOW_MESSAGE;
	}
	if (!field)
		return 0;
	reply_problem_field(r, 422, "the feed is not valid", field, message);
	return 1;
}

/* language: a language tag (titles given in several languages show in
 * it), or null for none. Returns 1 when given (its text in out, "" for
 * null), 0 when absent. */
static int feed_language(json_t *body, char out[36], json_t *errors)
{
	json_t *v = json_object_get(body, "language");
	out[0] = '\0';
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	if (s && valid_lang_tag(s))
		snprintf(out, 36, "%s", s);
	else if (!json_is_null(v))
		jv_error(errors, "language",
		         "must be a language tag such as vi, en or ko, or null");
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
	json_t *filter = filters_check_feed_json(json_object_get(body, "filter"), errors);
	char past[16], future[16], lang[36];
	int has_future = window_days(body, past, future, errors);
	feed_language(body, lang, errors);
	const char *mode = mode_member(body, "events", errors);
	if (mode && !strcmp(mode, "freebusy"))
		freebusy_check(json_is_true(alarms), past, future, &has_future, errors);
	if (json_array_size(errors)) {
		json_decref(filter);
		json_decref(body);
		reply_problem_fields(r, 422, "the feed is not valid", errors);
		return;
	}
	json_decref(errors);
	/* A failure here is the server's, not the request's: 500, as rotate. */
	struct feedop *op = calloc(1, sizeof(*op));
	char hash[TOKEN_HASH_HEX + 1];
	if (!op || token_generate(op->token) || token_hash(op->token, TOKEN_LEN, hash)) {
		free(op);
		json_decref(filter);
		json_decref(body);
		reply_problem(r, 500, "cannot make a token");
		return;
	}
	char *ftext = json_dumps(filter, JSON_COMPACT | JSON_SORT_KEYS);
	const char *p[] = {r->who.org_id,
	                   name,
	                   hash,
	                   ftext ? ftext : "{}",
	                   json_is_true(alarms) ? "true" : "false",
	                   past[0] ? past : "365",
	                   has_future > 0 ? future : NULL,
	                   mode,
	                   lang[0] ? lang : NULL};
	op->r = r;
	op->status = 201;
	if (dbpool_query(r->cx->db, SQL_FEED_CREATE, 9, p, on_feed_written, op) != 0) {
		free(op);
		reply_unavailable(r);
	}
	free(ftext);
	json_decref(filter);
	json_decref(body);
}

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
	if (dbpool_query(r->cx->db, SQL_FEED_ROTATE, 3, p, on_feed_written, op) != 0) {
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
	if (dbpool_query(r->cx->db_read, SQL_FEED_LIST, 1, p, on_feed_list, r) != 0)
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

/* A patch's answer: a free/busy feed's rules and its mode first, then as
 * a feed's. */
struct patchop {
	struct req *r;
	json_t *body;
};

static void on_feed_patched(PGresult *res, void *arg)
{
	struct patchop *op = arg;
	struct req *r = op->r;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    PQgetvalue(res, 0, 2)[0] == 't') {
		reply_problem_field(r, 422, "the feed is not valid", "mode",
		                    "cannot be changed: make a feed of the other mode instead");
	} else if (!res || PQresultStatus(res) == PGRES_TUPLES_OK ||
	           !freebusy_refused(r, res, op->body)) {
		on_feed_one(res, r);
	}
	json_decref(op->body);
	free(op);
}

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
	json_t *filter = f ? filters_check_feed_json(f, errors) : NULL;
	char past[16], future[16], lang[36];
	int has_future = window_days(body, past, future, errors);
	int has_lang = feed_language(body, lang, errors);
	if (json_is_null(json_object_get(body, "past_days")))
		jv_error(errors, "past_days", "must be a whole number of days from 0 to 3660");
	/* The mode stays what it was made: a URL handed out for busy time
	 * only must never start to carry titles. Sent back unchanged, it
	 * passes (SQL_FEED_PATCH compares it). */
	const char *mode = mode_member(body, NULL, errors);
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
	                   has_future > 0 ? future : NULL,
	                   mode,
	                   has_lang ? "true" : "false",
	                   lang[0] ? lang : NULL};
	struct patchop *op = malloc(sizeof(*op));
	if (!op) {
		reply_problem(r, 500, "out of memory");
	} else {
		op->r = r;
		op->body = json_incref(body);
		if (dbpool_query(r->cx->db, SQL_FEED_PATCH, 15, p, on_feed_patched, op) != 0) {
			json_decref(op->body);
			free(op);
			reply_unavailable(r);
		}
	}
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
	if (dbpool_query(r->cx->db, SQL_FEED_DELETE, 2, p, on_feed_revoked, r) != 0)
		reply_unavailable(r);
}
