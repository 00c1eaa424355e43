/* router.c - the matcher over the route table (api/routes.c). */
#include "http/router.h"

#include "macros.h"

#include <stdlib.h>
#include <string.h>

static const struct route *routes;
static size_t nroutes;

void router_set(const struct route *table, size_t n)
{
	routes = table;
	nroutes = n;
}

const struct route *router_routes(size_t *n)
{
	*n = nroutes;
	return routes;
}

int router_index(const struct route *rt)
{
	return (int)(rt - routes);
}

/* Walks pattern and path segment by segment; {name} takes one non-empty
 * segment, or what of it comes before the literal rest of the pattern's
 * segment ("{token}.ics" takes "abc" of "abc.ics"). With r set, captured
 * values are percent-decoded into it. */
static int match(const char *pattern, const char *path, struct req *r)
{
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t seglen = strcspn(s, "/");
			size_t suffix = close ? strcspn(close + 1, "/") : 0;
			if (!close || seglen <= suffix ||
			    strncmp(s + seglen - suffix, close + 1, suffix))
				return 0;
			seglen -= suffix;
			if (r) {
				if (r->nparams == REQ_MAX_PARAMS)
					return 0;
				char *raw = req_strndup(r, s, seglen);
				size_t outlen = 0;
				char *val = raw ? evhttp_uridecode(raw, 0, &outlen) : NULL;
				/* A decoded NUL or slash would smuggle a second segment. */
				if (!val || outlen != strlen(val) || strchr(val, '/')) {
					free(val);
					return 0;
				}
				static const char *const names[] = {"id",          "slug",
				                                    "token",       "recurrence_id",
				                                    "delegate_id", "task_id"};
				const char *name = NULL;
				size_t nlen = (size_t)(close - p - 1);
				for (size_t i = 0; i < ARRAY_LEN(names); i++)
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

enum route_match router_match(struct req *r, const char *path, const struct route **out,
                              char *allow, size_t allowlen)
{
	enum evhttp_cmd_type want = r->method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : r->method;
	int path_seen = 0;
	*allow = '\0';
	for (size_t i = 0; i < nroutes; i++) {
		if (!match(routes[i].pattern, path, NULL))
			continue;
		path_seen = 1;
		allow_add(allow, allowlen, http_method_name(routes[i].method));
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
