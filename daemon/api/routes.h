/* routes.h - the API's route table, and the statements its hottest routes
 * run, for the composition root to hand to the router and the pools. */
#ifndef LIAISON_ROUTES_H
#define LIAISON_ROUTES_H

#include "http/router.h"

#include <stddef.h>

/* Every route of liaisond (api/routes.c). */
const struct route *api_routes(size_t *n);

/* Statements every new worker connection prepares before it takes work
 * (the credential lookup, an event by id, a feed and its first render),
 * and the single-row ones that answer in well under a millisecond, behind
 * which work may be pipelined (dbpool.h). NULL-terminated. */
extern const char *const api_prepared_statements[];
extern const char *const api_quick_statements[];
/* Those a new connection to a standby (read_database) prepares: a feed's
 * render. */
extern const char *const api_standby_statements[];

#endif
