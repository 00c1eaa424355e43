/* webhooks.c - the webhook API: an org's admins register endpoints (URL,
 * message types, filter), get the signing secret at creation and rotation
 * only, send a test, read the delivery log, retry one message or recover
 * every failed one since a time. Sending is the scheduler's work
 * (jobs/delivery.c). */
#include "api/webhooks.h"

#include "config.h"
#include "dbpool.h"
#include "api/filters.h"
#include "http/http.h"
#include "api/jsonv.h"
#include "netguard.h"
#include "http/context.h"
#include "clock.h"
#include "macros.h"
#include "validate.h"
#include "api/webhooks_sql.h"
#include "whsig.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_URL            2048
#define DELIVERIES_DEFAULT 50
#define DELIVERIES_MAX     200

static const char *const types_known[] = {
    "reminder.due",      "event.created",     "event.updated",     "event.cancelled",
    "agreement.created", "agreement.updated", "agreement.dormant", "agreement.expiring",
    "visit.created",     "visit.updated",     "visit.cancelled",   "visit.task_overdue",
    "endpoint.disabled", "webhook.test"};

static int endpoint_id_ok(struct req *r)
{
	if (!valid_uuid(req_param(r, "id"))) {
		reply_problem(r, 404, "no such webhook endpoint");
		return 0;
	}
	return 1;
}

/* ---- validation ------------------------------------------------------------- */

/* An absolute http(s) URL without credentials; an IP literal must be
 * public unless private targets are allowed (names are checked on every
 * connection, on the address dialled). */
static void check_url(const char *url, int allow_private, json_t *errors)
{
	size_t n = strlen(url);
	if (n == 0 || n > MAX_URL) {
		jv_error(errors, "url", "must be 1-2048 bytes");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f) {
			jv_error(errors, "url",
			         "must be an absolute URL of printable ASCII "
			         "(percent-encode the rest)");
			return;
		}
	}
	struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	if (!u || !scheme || (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")))
		jv_error(errors, "url", "must be an absolute http:// or https:// URL");
	else if (!host || !*host)
		jv_error(errors, "url", "must name a host");
	else if (evhttp_uri_get_userinfo(u) || strchr(host, '@'))
		jv_error(errors, "url", "must not carry credentials; the signature authenticates");
	else if (!allow_private && netguard_blocked_literal(host) == 1)
		jv_error(errors, "url", "is a loopback, private, link-local or reserved address");
	if (u)
		evhttp_uri_free(u);
}

/* Message types; absent means all of them. Returns a PostgreSQL array. */
static char *check_types(json_t *v, json_t *errors)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return NULL;
	int rc = 0;
	if (!v) {
		for (size_t i = 0; i < ARRAY_LEN(types_known); i++)
			rc |= db_array_add(b, types_known[i]);
	} else if (!json_is_array(v) || json_array_size(v) == 0 ||
	           json_array_size(v) > ARRAY_LEN(types_known) * 2) {
		jv_error(errors, "types", "must be a non-empty array of message types");
	} else {
		size_t i;
		json_t *t;
		json_array_foreach(v, i, t)
		{
			char field[32];
			snprintf(field, sizeof(field), "types[%zu]", i);
			const char *s = json_string_value(t);
			int known = 0;
			for (size_t k = 0; s && k < ARRAY_LEN(types_known); k++)
				known |= !strcmp(s, types_known[k]);
			if (!known)
				jv_error(errors, field,
				         "must be one of reminder.due, event.created, "
				         "event.updated, event.cancelled, agreement.created, "
				         "agreement.updated, agreement.dormant, "
				         "agreement.expiring, visit.created, visit.updated, "
				         "visit.cancelled, visit.task_overdue, endpoint.disabled, "
				         "webhook.test");
			else
				rc |= db_array_add(b, s);
		}
	}
	char *out = rc == 0 ? db_array_end(b) : NULL;
	evbuffer_free(b);
	return out;
}

/* Messages per second, 0.01 to 10000; null clears it. */
static int check_rate(json_t *v, char out[32], json_t *errors)
{
	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	double d = json_is_number(v) ? json_number_value(v) : -1;
	if (!json_is_number(v) || !isfinite(d) || d < 0.01 || d > 10000) {
		jv_error(errors, "rate_limit",
		         "must be a number of messages per second, 0.01-10000");
		return -1;
	}
	snprintf(out, 32, "%.6g", d);
	return 0;
}

/* ---- answers ------------------------------------------------------------------ */

struct whop {
	struct req *r;
	char secret[WHSEC_LEN + 1];
	int status;
};

/* Rows of (endpoint JSON, missing filter member) from WH_CREATE and the like. */
static void on_endpoint_written(PGresult *res, void *arg)
{
	struct whop *op = arg;
	struct req *r = op->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) != 1 || (PQgetisnull(res, 0, 0) && PQgetisnull(res, 0, 1))) {
		reply_problem(r, 404, "no such webhook endpoint");
	} else if (!PQgetisnull(res, 0, 1)) {
		json_t *errors = json_array();
		char field[96];
		snprintf(field, sizeof(field), "filter.%s", PQgetvalue(res, 0, 1));
		jv_error(errors, field, "names an org that does not exist");
		reply_problem_fields(r, 422, "the webhook endpoint is not valid", errors);
	} else {
		json_t *ep = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (ep && op->secret[0])
			json_object_set_new(ep, "secret", json_string(op->secret));
		if (ep && op->status == 201) {
			char loc[64];
			snprintf(loc, sizeof(loc), "/v1/webhooks/%s",
			         json_string_value(json_object_get(ep, "id")));
			req_add_header(r, "Location", loc);
		}
		if (ep)
			reply_json(r, op->status, ep);
		else
			reply_problem(r, 500, "cannot read the endpoint");
	}
	memset(op->secret, 0, sizeof(op->secret));
	free(op);
}

static void submit(struct req *r, struct whop *op, const char *sql, int n, const char *const *p)
{
	if (dbpool_query(r->cx->db, sql, n, p, on_endpoint_written, op) != 0) {
		memset(op->secret, 0, sizeof(op->secret));
		free(op);
		reply_unavailable(r);
	}
}

static struct whop *whop_new(struct req *r, int status, int with_secret)
{
	struct whop *op = calloc(1, sizeof(*op));
	if (!op || (with_secret && whsig_secret_new(op->secret) != 0)) {
		free(op);
		reply_problem(r, 500, "cannot make a secret");
		return NULL;
	}
	op->r = r;
	op->status = status;
	return op;
}

/* ---- routes --------------------------------------------------------------------- */

static const char *const allowed_fields[] = {"url",     "description", "types", "filter",
                                             "enabled", "rate_limit",  NULL};
static const char *const ignored_fields[] = {
    "id",         "disabled_reason", "disabled_at", "failing_since", "rotation_ends_at",
    "created_at", "updated_at",      NULL};

/* The fields common to create and patch, checked into errors. */
struct endpoint_in {
	const char *url, *description;
	char *types;
	char *filter;
	char rate[32];
	int has_description, has_rate;
	json_t *enabled;
};

static void endpoint_in_free(struct endpoint_in *in)
{
	free(in->types);
	free(in->filter);
}

static void read_endpoint(struct req *r, json_t *body, int create, struct endpoint_in *in,
                          json_t *errors)
{
	jv_known(body, allowed_fields, ignored_fields, errors);
	in->url = jv_string(body, "url", create, MAX_URL, 0, errors);
	if (in->url)
		check_url(in->url, r->cx->cfg->webhook_allow_private, errors);
	json_t *d = json_object_get(body, "description");
	in->has_description = d != NULL;
	in->description =
	    json_is_null(d) ? NULL : jv_string(body, "description", 0, 500, 0, errors);
	json_t *types = json_object_get(body, "types");
	if (create || types)
		in->types = check_types(types, errors);
	json_t *f = json_object_get(body, "filter");
	if (create || f) {
		json_t *filter = filters_check_json(f, errors);
		in->filter = filter ? json_dumps(filter, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(filter);
	}
	json_t *rate = json_object_get(body, "rate_limit");
	in->has_rate = rate != NULL;
	if (check_rate(rate, in->rate, errors) == 0 && rate && !json_is_null(rate))
		in->has_rate = 1;
	in->enabled = json_object_get(body, "enabled");
	if (in->enabled && !json_is_boolean(in->enabled))
		jv_error(errors, "enabled", "must be true or false");
	if (create && in->enabled)
		jv_error(errors, "enabled", "is set with PATCH; a new endpoint is enabled");
}

void webhooks_create(struct req *r)
{
	json_t *body = req_json_body(r, 0);
	if (!body)
		return;
	json_t *errors = json_array();
	struct endpoint_in in = {0};
	read_endpoint(r, body, 1, &in, errors);
	if (json_array_size(errors)) {
		endpoint_in_free(&in);
		json_decref(body);
		reply_problem_fields(r, 422, "the webhook endpoint is not valid", errors);
		return;
	}
	json_decref(errors);
	struct whop *op = whop_new(r, 201, 1);
	if (op) {
		const char *p[] = {r->who.org_id,
		                   in.url,
		                   in.description,
		                   in.types,
		                   in.filter,
		                   op->secret,
		                   in.rate[0] ? in.rate : NULL};
		submit(r, op, WH_CREATE, 7, p);
	}
	endpoint_in_free(&in);
	json_decref(body);
}

void webhooks_patch(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	json_t *body = req_json_body(r, 1);
	if (!body)
		return;
	json_t *errors = json_array();
	struct endpoint_in in = {0};
	read_endpoint(r, body, 0, &in, errors);
	if (json_array_size(errors)) {
		endpoint_in_free(&in);
		json_decref(body);
		reply_problem_fields(r, 422, "the webhook endpoint is not valid", errors);
		return;
	}
	json_decref(errors);
	struct whop *op = whop_new(r, 200, 0);
	if (op) {
		const char *enabled = !in.enabled                ? NULL
		                      : json_is_true(in.enabled) ? "true"
		                                                 : "false";
		const char *p[] = {r->who.org_id,
		                   req_param(r, "id"),
		                   in.url,
		                   in.has_description ? "true" : "false",
		                   in.description,
		                   in.types,
		                   enabled,
		                   in.filter,
		                   in.has_rate ? "true" : "false",
		                   in.rate[0] ? in.rate : NULL};
		submit(r, op, WH_PATCH, 10, p);
	}
	endpoint_in_free(&in);
	json_decref(body);
}

void webhooks_get(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	struct whop *op = whop_new(r, 200, 0);
	if (op) {
		const char *p[] = {r->who.org_id, req_param(r, "id")};
		submit(r, op, WH_GET, 2, p);
	}
}

void webhooks_rotate(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	struct whop *op = whop_new(r, 200, 1);
	if (op) {
		const char *p[] = {r->who.org_id, req_param(r, "id"), op->secret};
		submit(r, op, WH_ROTATE, 3, p);
	}
}

static void on_list(PGresult *res, void *arg)
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

void webhooks_list(struct req *r)
{
	const char *p[] = {r->who.org_id};
	if (dbpool_query(r->cx->db_read, WH_LIST, 1, p, on_list, r) != 0)
		reply_unavailable(r);
}

static void on_deleted(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		reply_query_failed(r, res);
	else if (PQntuples(res) != 1)
		reply_problem(r, 404, "no such webhook endpoint");
	else
		reply_empty(r, 204);
}

void webhooks_delete(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	const char *p[] = {r->who.org_id, req_param(r, "id")};
	if (dbpool_query(r->cx->db, WH_DELETE, 2, p, on_deleted, r) != 0)
		reply_unavailable(r);
}

static void on_test(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
	} else if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such webhook endpoint");
	} else {
		int enabled = PQgetvalue(res, 0, 1)[0] == 't';
		reply_json(r, 202,
		           json_pack("{s:s, s:s, s:s}", "message_id", PQgetvalue(res, 0, 0),
		                     "state", "pending", "note",
		                     enabled
		                         ? "sent in a moment; see the deliveries"
		                         : "the endpoint is disabled: it is sent once re-enabled"));
	}
}

void webhooks_test(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	const char *p[] = {r->who.org_id, req_param(r, "id")};
	if (dbpool_query(r->cx->db, WH_TEST, 2, p, on_test, r) != 0)
		reply_unavailable(r);
}

static void on_recover(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		reply_query_failed(r, res);
	else if (!strcmp(PQgetvalue(res, 0, 0), "0"))
		reply_problem(r, 404, "no such webhook endpoint");
	else
		reply_json(r, 202,
		           json_pack("{s:I}", "recovered",
		                     (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10)));
}

void webhooks_recover(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	json_t *body = req_json_body(r, 0);
	if (!body)
		return;
	json_t *errors = json_array();
	static const char *const allowed[] = {"since", NULL};
	jv_known(body, allowed, NULL, errors);
	const char *since = jv_string(body, "since", 1, 64, 0, errors);
	int64_t t = 0;
	if (since && parse_instant(since, &t) != 0)
		jv_error(errors, "since", "must be an RFC 3339 time such as 2026-11-20T00:00:00Z");
	else if (since && t > now_realtime_ms() / 1000)
		jv_error(errors, "since", "must not be in the future");
	if (json_array_size(errors)) {
		json_decref(body);
		reply_problem_fields(r, 422, "the recovery is not valid", errors);
		return;
	}
	json_decref(errors);
	json_decref(body);
	char ts[24];
	snprintf(ts, sizeof(ts), "%lld", (long long)t);
	const char *p[] = {r->who.org_id, req_param(r, "id"), ts};
	if (dbpool_query(r->cx->db, WH_RECOVER, 3, p, on_recover, r) != 0)
		reply_unavailable(r);
}

/* ---- the delivery log ----------------------------------------------------------- */

static void on_deliveries(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		reply_query_failed(r, res);
		return;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		reply_problem(r, 404, "no such webhook endpoint");
		return;
	}
	json_t *items = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	size_t limit =
	    (size_t)filters_int_param(r, "limit", 1, DELIVERIES_MAX, DELIVERIES_DEFAULT, NULL);
	json_t *next = json_null();
	if (items && json_array_size(items) > limit) {
		json_array_remove(items, limit);
		/* The cursor: the last item's creation time in microseconds and id. */
		json_t *last = json_array_get(items, limit - 1);
		json_decref(next);
		next = json_string(json_string_value(json_object_get(last, "cursor")));
	}
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		json_object_del(it, "cursor");
	}
	if (!items) {
		reply_problem(r, 500, "cannot read the deliveries");
		return;
	}
	reply_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

void webhooks_deliveries(struct req *r)
{
	if (!endpoint_id_ok(r))
		return;
	json_t *errors = json_array();
	const char *status = req_query(r, "status");
	static const char *const states[] = {"pending", "sending", "delivered", "failed",
	                                     "cancelled"};
	int known = !status;
	for (size_t i = 0; status && i < ARRAY_LEN(states); i++)
		known |= !strcmp(status, states[i]);
	if (!known)
		jv_error(errors, "status",
		         "must be pending, sending, delivered, failed or cancelled");
	int limit = filters_int_param(r, "limit", 1, DELIVERIES_MAX, DELIVERIES_DEFAULT, errors);
	const char *cursor = req_query(r, "cursor");
	char cur_t[24] = "", cur_id[64] = "";
	if (cursor) {
		const char *dot = strchr(cursor, '.');
		/* Microseconds since 1970 fit 18 digits until the year 33658: more
		 * would overflow the bigint the database reads them as. */
		if (!dot || dot - cursor > 18 || dot == cursor ||
		    strspn(cursor, "0123456789") != (size_t)(dot - cursor) ||
		    strlen(dot + 1) >= sizeof(cur_id) || strncmp(dot + 1, "msg_", 4) != 0)
			jv_error(errors, "cursor", "is not a cursor this API gave");
		else {
			memcpy(cur_t, cursor, (size_t)(dot - cursor));
			snprintf(cur_id, sizeof(cur_id), "%s", dot + 1);
		}
	}
	if (json_array_size(errors)) {
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	char lim1[16];
	snprintf(lim1, sizeof(lim1), "%d", limit + 1);
	const char *p[] = {r->who.org_id,           req_param(r, "id"),       status,
	                   cur_t[0] ? cur_t : NULL, cur_t[0] ? cur_id : NULL, lim1};
	if (dbpool_query(r->cx->db_read, WH_DELIVERIES, 6, p, on_deliveries, r) != 0)
		reply_unavailable(r);
}

static void on_retry(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		reply_query_failed(r, res);
	else if (PQgetisnull(res, 0, 0))
		reply_problem(r, 404, "no such delivery");
	else if (!strcmp(PQgetvalue(res, 0, 1), "0"))
		reply_problem(r, 409, "this message is still being delivered");
	else
		reply_json(r, 202,
		           json_pack("{s:s, s:s}", "id", req_param(r, "id"), "state", "pending"));
}

void deliveries_retry(struct req *r)
{
	const char *id = req_param(r, "id");
	if (strncmp(id, "msg_", 4) != 0 || strlen(id) > 64 ||
	    strspn(id + 4, "0123456789abcdef") != strlen(id + 4)) {
		reply_problem(r, 404, "no such delivery");
		return;
	}
	const char *p[] = {r->who.org_id, id};
	if (dbpool_query(r->cx->db, WH_RETRY, 2, p, on_retry, r) != 0)
		reply_unavailable(r);
}
