/* auth.h - Bearer token authentication with a per-thread cache. */
#ifndef LIAISON_AUTH_H
#define LIAISON_AUTH_H

#include "macros.h"

struct req;
struct authcache;

struct authcache *authcache_new(void) WUR;
void authcache_free(struct authcache *c);

/* Identifies the caller of r and then calls next(r); on a missing or bad
 * token it answers 401 itself, on a database failure 503. */
void auth_then(struct req *r, void (*next)(struct req *r));

/* The credential lookup ($1 token hash), prepared by every new connection. */
extern const char auth_key_sql[];

#endif
