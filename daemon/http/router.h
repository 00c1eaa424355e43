/* router.h - the route table: method + path pattern ("/v1/events/{id}")
 * to a handler, with 404 and 405 (and Allow) decided here. */
#ifndef LIAISON_ROUTER_H
#define LIAISON_ROUTER_H

#include <event2/http.h>
#include <stddef.h>

struct req;

typedef void (*route_handler)(struct req *r);

enum route_flags { ROUTE_PUBLIC = 0, ROUTE_AUTH = 1 };

struct route {
	enum evhttp_cmd_type method;
	const char *pattern;
	route_handler handler;
	int flags;
};

enum route_match { MATCH_OK, MATCH_NO_PATH, MATCH_NO_METHOD };

/* Finds the route for method and path; fills r->params. On
 * MATCH_NO_METHOD, allow gets the methods the path does take. */
enum route_match router_match(struct req *r, const char *path, const struct route **out,
                              char *allow, size_t allowlen);
const struct route *router_routes(size_t *n);
int router_index(const struct route *rt);
/* Splits a pattern match without a request (for tests): 1 if it matches. */
int router_pattern_matches(const char *pattern, const char *path);

#endif
