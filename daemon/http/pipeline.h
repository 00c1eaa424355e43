/* pipeline.h - one request's way from its head to its handler:
 *
 *   head parsed (httpd.c)
 *     -> OPTIONS *, target and query checks, 413 on the announced length
 *     -> route (router.c: 404, 405 with Allow)
 *     -> authentication (auth.c: 401, 429 for an address guessing tokens)
 *     -> the key's rate limit (ratelimit.c: 429)
 *     -> the body, read only now (httpd.c: 408, 413, 503)
 *     -> the route's access (min_role, host org: 403)
 *     -> the handler (api/)
 *
 * It knows the handlers only through the route table (router_set). */
#ifndef LIAISON_PIPELINE_H
#define LIAISON_PIPELINE_H

struct req;

/* What httpd_new is given: takes a request whose head has arrived. */
void pipeline_request(struct req *r);

#endif
