/* httpd.h - liaisond's HTTP/1.1 server on bufferevents, one per worker
 * thread. It reads a request's head (parsed by common/http1.c), hands the
 * request to the worker before any body is read, reads the body only when
 * asked (after authentication), and writes the answers http.c makes.
 *
 * What evhttp 2.1 could not do and this does: a deadline for a request's
 * whole head and body (not an idle timeout), authentication before the
 * body, a cap on the memory of bodies in flight and on connections,
 * refusal of conflicting framing, problem+json for every error (400, 408,
 * 413, 414, 431, 501, 505), and a listener that pauses on EMFILE instead
 * of spinning. */
#ifndef LIAISON_HTTPD_H
#define LIAISON_HTTPD_H

#include "macros.h"

#include <event2/util.h>
#include <stdint.h>

struct ctx;
struct event_base;
struct req;
struct evbuffer;
struct config;
struct httpd;

/* Instance-wide limits, set once before the workers start. nworkers and
 * the descriptor limit size max_connections when it is 0. */
void httpd_configure(const struct config *cfg, int nworkers);

/* Serves the listening socket fd (taken over) on base, the loop of the
 * worker thread whose context is cx; each request whose head has arrived
 * goes to on_request, which must answer it. */
struct httpd *httpd_new(struct event_base *base, struct ctx *cx, evutil_socket_t fd,
                        void (*on_request)(struct req *r)) WUR;
/* Stops accepting and closes the connections that wait for a request;
 * the loop ends once the requests in flight are answered. */
void httpd_stop(struct httpd *h);
void httpd_free(struct httpd *h);

/* Reads r's body, if it has one, and then calls next(r). keep 0 reads and
 * drops it (routes that take no body). Past a deadline, a framing error
 * or the memory cap, it answers r itself (408, 400, 413, 503). */
void httpd_read_body(struct req *r, int keep, void (*next)(struct req *r));
/* Requests from head to last byte written (for /metrics and shutdown). */
int httpd_inflight(const struct httpd *h);
/* For /metrics. */
int64_t httpd_open_connections(void);
int64_t httpd_body_bytes(void);
int httpd_max_connections(void);

#endif
