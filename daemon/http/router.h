/* router.h - routes and the matcher: method + path pattern
 * ("/v1/events/{id}") to a handler, with 404 and 405 (and Allow) decided
 * here. The table itself is the API's (api/routes.c); the composition root
 * hands it over once, before the workers start. */
#ifndef LIAISON_ROUTER_H
#define LIAISON_ROUTER_H

#include "http/http.h"

#include <event2/http.h>
#include <stddef.h>

typedef void (*route_handler)(struct req *r);

/* Who may call a route. The pipeline (pipeline.c) enforces it once, after
 * authentication; a handler checks only what depends on the row it reads
 * (the owner org of an event, say). */
enum route_access {
	ROUTE_PUBLIC = 0, /* no token: health, metrics, a feed by its token */
	ROUTE_AUTH = 1,   /* a key of at least min_role */
	ROUTE_HOST = 3,   /* the same, and of the host org (ROUTE_AUTH with a bit more) */
};

struct route {
	enum evhttp_cmd_type method;
	const char *pattern;
	route_handler handler;
	enum route_access access;
	enum role min_role; /* ROLE_NONE for public routes */
};

enum route_match { MATCH_OK, MATCH_NO_PATH, MATCH_NO_METHOD };

/* The table every later match uses (it must outlive the workers). */
void router_set(const struct route *table, size_t n);
/* Finds the route for method and path; fills r->params. On
 * MATCH_NO_METHOD, allow gets the methods the path does take. */
enum route_match router_match(struct req *r, const char *path, const struct route **out,
                              char *allow, size_t allowlen);
const struct route *router_routes(size_t *n);
int router_index(const struct route *rt);
/* Splits a pattern match without a request (for tests): 1 if it matches. */
int router_pattern_matches(const char *pattern, const char *path);

#endif
