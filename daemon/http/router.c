/* router.c - every HTTP route of liaisond, in one table, and the matcher.
 * To find the code behind a URL, find its line here. */
#include "http/router.h"

#include "api/agreements.h"
#include "api/events.h"
#include "api/feeds.h"
#include "api/occurrences.h"
#include "http/http.h"
#include "api/ops.h"
#include "api/orgs.h"
#include "api/webhooks.h"

#include <stdlib.h>
#include <string.h>

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PATCH  EVHTTP_REQ_PATCH
#define DELETE EVHTTP_REQ_DELETE

static const struct route routes[] = {
    /* operations: ops.c */
    {GET, "/healthz", ops_healthz, ROUTE_PUBLIC},
    {GET, "/readyz", ops_readyz, ROUTE_PUBLIC},
    {GET, "/metrics", ops_metrics, ROUTE_PUBLIC},
    {GET, "/v1/openapi.json", ops_openapi, ROUTE_PUBLIC},
    /* organisations and API keys: orgs.c */
    {GET, "/v1/orgs", orgs_list, ROUTE_AUTH},
    {POST, "/v1/orgs", orgs_create, ROUTE_AUTH},
    {GET, "/v1/orgs/{slug}", orgs_get, ROUTE_AUTH},
    {POST, "/v1/orgs/{slug}/keys", orgs_create_first_key, ROUTE_AUTH},
    {GET, "/v1/keys", keys_list, ROUTE_AUTH},
    {POST, "/v1/keys", keys_create, ROUTE_AUTH},
    {DELETE, "/v1/keys/{id}", keys_delete, ROUTE_AUTH},
    /* events: events.c, SQL in event_sql.h, validation in common/event.c */
    {GET, "/v1/events", events_list, ROUTE_AUTH},
    {POST, "/v1/events", events_create, ROUTE_AUTH},
    {GET, "/v1/events/{id}", events_get, ROUTE_AUTH},
    {PATCH, "/v1/events/{id}", events_patch, ROUTE_AUTH},
    {DELETE, "/v1/events/{id}", events_cancel, ROUTE_AUTH},
    {DELETE, "/v1/events/{id}/occurrences/{recurrence_id}", events_cancel_occurrence, ROUTE_AUTH},
    /* occurrences: occurrences.c */
    {GET, "/v1/occurrences", occurrences_list, ROUTE_AUTH},
    /* agreements: agreements.c */
    {GET, "/v1/agreements", agreements_list, ROUTE_AUTH},
    {POST, "/v1/agreements", agreements_create, ROUTE_AUTH},
    {GET, "/v1/agreements/{id}", agreements_get, ROUTE_AUTH},
    {PATCH, "/v1/agreements/{id}", agreements_patch, ROUTE_AUTH},
    /* feeds: feeds.c, rendering in common/ics_render.c */
    {GET, "/v1/feeds", feeds_list, ROUTE_AUTH},
    {POST, "/v1/feeds", feeds_create, ROUTE_AUTH},
    {GET, "/v1/feeds/{id}", feeds_get, ROUTE_AUTH},
    {PATCH, "/v1/feeds/{id}", feeds_patch, ROUTE_AUTH},
    {DELETE, "/v1/feeds/{id}", feeds_delete, ROUTE_AUTH},
    {POST, "/v1/feeds/{id}/rotate", feeds_rotate, ROUTE_AUTH},
    {GET, "/feeds/{token}", feeds_serve, ROUTE_PUBLIC},
    /* webhooks: webhooks.c (API), scheduler.c + sender.c (delivery), SQL in sql/007 */
    {GET, "/v1/webhooks", webhooks_list, ROUTE_AUTH},
    {POST, "/v1/webhooks", webhooks_create, ROUTE_AUTH},
    {GET, "/v1/webhooks/{id}", webhooks_get, ROUTE_AUTH},
    {PATCH, "/v1/webhooks/{id}", webhooks_patch, ROUTE_AUTH},
    {DELETE, "/v1/webhooks/{id}", webhooks_delete, ROUTE_AUTH},
    {POST, "/v1/webhooks/{id}/rotate", webhooks_rotate, ROUTE_AUTH},
    {POST, "/v1/webhooks/{id}/test", webhooks_test, ROUTE_AUTH},
    {POST, "/v1/webhooks/{id}/recover", webhooks_recover, ROUTE_AUTH},
    {GET, "/v1/webhooks/{id}/deliveries", webhooks_deliveries, ROUTE_AUTH},
    {POST, "/v1/deliveries/{id}/retry", deliveries_retry, ROUTE_AUTH},
    {GET, "/v1/events/{id}/reminders", events_reminders, ROUTE_AUTH},
};

const struct route *router_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

int router_index(const struct route *rt)
{
	return (int)(rt - routes);
}

/* Walks pattern and path segment by segment; {name} takes one non-empty
 * segment. With r set, captured values are percent-decoded into it. */
static int match(const char *pattern, const char *path, struct req *r)
{
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t seglen = strcspn(s, "/");
			if (!close || seglen == 0)
				return 0;
			if (r) {
				if (r->nparams == REQ_MAX_PARAMS)
					return 0;
				char *raw = strndup(s, seglen);
				size_t outlen = 0;
				char *val = raw ? evhttp_uridecode(raw, 0, &outlen) : NULL;
				free(raw);
				/* A decoded NUL or slash would smuggle a second segment. */
				if (!val || outlen != strlen(val) || strchr(val, '/')) {
					free(val);
					return 0;
				}
				static const char *const names[] = {"id", "slug", "token",
				                                    "recurrence_id"};
				const char *name = NULL;
				size_t nlen = (size_t)(close - p - 1);
				for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
					if (strlen(names[i]) == nlen &&
					    !strncmp(names[i], p + 1, nlen))
						name = names[i];
				if (!name) {
					free(val);
					return 0;
				}
				r->params[r->nparams].name = name;
				r->params[r->nparams].value = val;
				r->nparams++;
			}
			p = close + 1;
			s += seglen;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

int router_pattern_matches(const char *pattern, const char *path)
{
	return match(pattern, path, NULL);
}

static void clear_params(struct req *r)
{
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i].value);
	r->nparams = 0;
}

static void allow_add(char *allow, size_t len, const char *m)
{
	if (strstr(allow, m))
		return;
	if (*allow)
		strncat(allow, ", ", len - strlen(allow) - 1);
	strncat(allow, m, len - strlen(allow) - 1);
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PUT: return "PUT";
	default: return "";
	}
}

enum route_match router_match(struct req *r, const char *path, const struct route **out,
                              char *allow, size_t allowlen)
{
	enum evhttp_cmd_type want = r->method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : r->method;
	int path_seen = 0;
	*allow = '\0';
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!match(routes[i].pattern, path, NULL))
			continue;
		path_seen = 1;
		allow_add(allow, allowlen, method_name(routes[i].method));
		if (routes[i].method == EVHTTP_REQ_GET)
			allow_add(allow, allowlen, "HEAD");
		if (routes[i].method != want)
			continue;
		clear_params(r);
		if (!match(routes[i].pattern, path, r)) {
			clear_params(r);
			return MATCH_NO_PATH; /* a segment that does not decode */
		}
		*out = &routes[i];
		return MATCH_OK;
	}
	if (!path_seen)
		return MATCH_NO_PATH;
	allow_add(allow, allowlen, "OPTIONS");
	return MATCH_NO_METHOD;
}
