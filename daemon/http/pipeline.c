/* pipeline.c - see pipeline.h. */
#include "http/pipeline.h"

#include "config.h"
#include "core/metrics.h"
#include "http/auth.h"
#include "http/context.h"
#include "http/http.h"
#include "http/httpd.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "clock.h"

#include <stdio.h>
#include <string.h>

/* Roles are checked once the body is read, where each handler used to
 * check them, so that a refused request is answered as before (its body
 * read and the connection kept). */
static void run_handler(struct req *r)
{
	const struct route *rt = r->route;
	if (rt->access & ROUTE_AUTH) {
		if (r->who.role < rt->min_role ||
		    ((rt->access & ROUTE_HOST) == ROUTE_HOST && !r->who.is_host)) {
			reply_problem(r, 403,
			              (rt->access & ROUTE_HOST) == ROUTE_HOST
			                  ? "only the host org's admins may do this"
			              : rt->min_role == ROLE_ADMIN
			                  ? "only the org's admins may do this"
			                  : "your key's role does not allow changes");
			return;
		}
	}
	r->handler = rt->handler;
	rt->handler(r);
}

/* A body is read only once the route is known and its caller
 * authenticated: an unknown token is refused before a byte of it. Routes
 * of GET, HEAD and DELETE take none: one sent is read and dropped. */
static void with_body(struct req *r)
{
	enum evhttp_cmd_type m = r->route->method;
	httpd_read_body(r, m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PATCH || m == EVHTTP_REQ_PUT,
	                run_handler);
}

/* After authentication: the caller's rate limit, then the body. */
static void authenticated(struct req *r)
{
	int wait = ratelimit_take(r->who.key_id, now_monotonic_ms());
	if (wait > 0) {
		metrics_inc(M_RATE_LIMITED);
		reply_retry_after(r, 429, wait, "too many requests for this API key; slow down");
		return;
	}
	with_body(r);
}

static void dispatch(struct req *r)
{
	if (r->route->access & ROUTE_AUTH)
		auth_then(r, authenticated);
	else
		with_body(r);
}

static int hex(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The name of the first query parameter whose percent-encoding is broken
 * ('%' not followed by two hex digits, kept as it is by libevent) or that
 * decodes to a NUL (which would cut its value short unseen); NULL when
 * there is none. Written into field (at most len bytes, printable ASCII). */
static const char *bad_query_param(const char *q, char *field, size_t len, const char **why)
{
	while (*q) {
		size_t n = strcspn(q, "&");
		for (size_t i = 0; i < n; i++) {
			if (q[i] != '%')
				continue;
			if (i + 2 >= n || !hex(q[i + 1]) || !hex(q[i + 2]))
				*why =
				    "is not percent-encoded correctly ('%' takes two hex digits)";
			else if (q[i + 1] == '0' && q[i + 2] == '0')
				*why = "holds a NUL (%00)";
			else
				continue;
			size_t name = strcspn(q, "=&"), o = 0;
			for (size_t k = 0; k < name && o + 1 < len; k++)
				field[o++] = q[k] > 0x20 && q[k] < 0x7f ? q[k] : '?';
			field[o] = '\0';
			if (!o)
				snprintf(field, len, "query");
			return field;
		}
		q += n;
		if (*q)
			q++;
	}
	return NULL;
}

void pipeline_request(struct req *r)
{
	const char *rawpath = r->path;
	if (r->method == EVHTTP_REQ_OPTIONS && !strcmp(rawpath, "*")) {
		req_add_header(r, "Allow", "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
		reply_empty(r, 204);
		return;
	}
	if (!*rawpath || strlen(rawpath) > 2048 || strchr(rawpath, '#')) {
		reply_problem(r, 404, "no such resource");
		return;
	}
	char field[64];
	const char *why = NULL;
	if (r->rawquery && bad_query_param(r->rawquery, field, sizeof(field), &why)) {
		reply_problem_field(r, 400, "malformed query string", field, why);
		return;
	}
	if (r->rawquery && evhttp_parse_query_str(r->rawquery, &r->query) != 0) {
		reply_problem(r, 400, "malformed query string");
		return;
	}
	/* Before anything is read of it: 413 on the announced length. */
	if (r->content_length > r->cx->cfg->max_body) {
		reply_problem(r, 413, "the request body is too large");
		return;
	}
	char allow[128];
	switch (router_match(r, r->path, &r->route, allow, sizeof(allow))) {
	case MATCH_OK:
		r->route_index = router_index(r->route);
		dispatch(r);
		return;
	case MATCH_NO_METHOD:
		req_add_header(r, "Allow", allow);
		if (r->method == EVHTTP_REQ_OPTIONS)
			reply_empty(r, 204);
		else
			reply_problem(r, 405, "this method is not allowed here");
		return;
	case MATCH_NO_PATH: reply_problem(r, 404, "no such resource"); return;
	}
}
