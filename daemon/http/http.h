/* http.h - one HTTP request's life: its context, JSON bodies, and every
 * way of answering it (JSON, problem+json, raw bytes). Each answer goes
 * through one function that logs the request, counts it and frees it. */
#ifndef LIAISON_HTTP_H
#define LIAISON_HTTP_H

#include "http1.h"
#include "macros.h"

#include <sys/queue.h> /* TAILQ_INIT for struct evkeyvalq */

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct ctx;
struct route;
struct req;
struct evbuffer;
struct evbuffer_file_segment;

#define REQ_MAX_PARAMS 4

enum role { ROLE_NONE = 0, ROLE_VIEWER = 1, ROLE_EDITOR = 2, ROLE_ADMIN = 3 };

/* Who is asking: filled by authentication for routes that need it. */
struct principal {
	char key_id[37];
	char org_id[37];
	char org_slug[64];
	char org_tz[65];
	enum role role;
	int is_host;
};

struct hconn;
struct httpd;

/* How an answer leaves: the connection layer (httpd.c) sets this, so that
 * answering knows nothing of connections. */
struct req_transport {
	/* Sends status, r's output headers and body (moved out of it; NULL for
	 * none). */
	void (*respond)(struct req *r, int status, struct evbuffer *body);
	/* r is about to be freed: give back what its connection held for it. */
	void (*release)(struct req *r);
};

/* A header field, name and value NUL-terminated, in its request's arena. */
struct req_field {
	const char *name, *value;
	struct req_field *next;
};

struct req_block;

/* A request as our own HTTP/1.1 layer (httpd.c) read it: libevent 2.1's
 * evhttp could not authenticate before a body or answer its own errors in
 * problem+json. What lives as long as the request (its target, its header
 * fields and its answer's) is cut from an arena that comes in the same
 * allocation, so that a short request is one malloc, not three a header. */
struct req {
	struct ctx *cx;                 /* the worker thread's (context.h) */
	const struct req_transport *io; /* set by httpd.c */
	struct httpd *server;           /* the HTTP server it came through */
	struct hconn *conn;             /* NULL once answered or once its client left */
	char *target;                   /* the request target as sent */
	const char *rawquery;           /* into target, after '?', or NULL */
	int64_t content_length;         /* -1: none */
	int chunked;
	size_t body_reserved;      /* of max_bodies_in_flight, given back when freed */
	const struct route *route; /* NULL when nothing matched */
	int route_index;           /* its position in the table, or -1 (metrics) */
	enum evhttp_cmd_type method;
	char id[33];
	char peer[64]; /* the client: the connection's peer, or from X-Forwarded-For */
	char via[64];  /* the trusted proxy it came through, or "" */
	char *path;    /* percent-decoded */
	struct evkeyvalq query;
	int nparams;
	struct {
		const char *name;
		char *value;
	} params[REQ_MAX_PARAMS];
	struct principal who;
	int64_t start_us;
	struct req_field *in;             /* the request's header fields, in order */
	struct req_field *out, **out_end; /* the answer's, in order */
	struct evbuffer *body;            /* the body as read (httpd.c), or NULL */
	void (*handler)(struct req *);    /* the route's, once the pipeline called it */
	struct event *rerun;              /* req_rerun's pause, or NULL */
	int reruns;                       /* how often req_rerun ran the handler again */
	char *arena;                      /* what is left of the current block */
	size_t arena_left;
	struct req_block *blocks;                 /* blocks beyond the first */
	_Alignas(max_align_t) char first_block[]; /* REQ_ARENA bytes */
};

/* A request on the worker thread of cx, answered through io: target is
 * copied, peer is the connection's address, and the nfields header fields
 * are copied from the spans of head they name. */
struct req *req_new(struct ctx *cx, const struct req_transport *io, enum evhttp_cmd_type method,
                    const char *target, const char *peer, const char *head,
                    const struct http1_field *fields, size_t nfields) WUR;
/* n bytes of s and a NUL, in r's arena (freed with r); NULL if out of memory. */
char *req_strndup(struct req *r, const char *s, size_t n) WUR;
/* The body read, contiguous ("" when none), and its length; NULL if out of
 * memory. */
const char *req_body(struct req *r, size_t *len) WUR;
/* A path parameter by name ("id" of /v1/events/{id}); NULL if absent. */
const char *req_param(const struct req *r, const char *name);
/* A query parameter; NULL if absent. */
const char *req_query(const struct req *r, const char *name);
const char *req_header(const struct req *r, const char *name);
/* Adds a header field to the answer; one whose name or value holds a CR or
 * LF (a header smuggled in) is left out. */
void req_add_header(struct req *r, const char *name, const char *value);
/* The answer's header field by name, or NULL. */
const char *req_answer_header(const struct req *r, const char *name);
/* Runs r's route's handler once more, from the start, after delay_us
 * (r->reruns counts them): for a write that lost a race and is taken
 * again (api/write_again.c). -1 when it cannot be (the caller answers). */
int req_rerun(struct req *r, int64_t delay_us) WUR;

/* Reads a JSON object body. On failure it has answered (400/413/415) and
 * returns NULL. allow_merge_patch accepts application/merge-patch+json. */
json_t *req_json_body(struct req *r, int allow_merge_patch) WUR;

/* Adds ETag: "value" (a strong entity tag). */
void req_set_etag(struct req *r, const char *value);
/* How a condition compares entity-tags (RFC 9110 8.8.3.2): If-Match
 * strongly (a weak tag never matches), If-None-Match weakly. */
enum etag_cmp { ETAG_STRONG, ETAG_WEAK };
/* Whether an If-Match / If-None-Match field value lists the strong tag
 * "value" (unquoted) under cmp, or is "*". Any element of the list may
 * match; a value that is not "*" or a list of entity-tags matches nothing.
 * NULL header: 0. */
int etag_listed(const char *header, const char *value, enum etag_cmp cmp);
/* Whether r's If-Match, when given, fails for the current version (412). */
int req_if_match_fails(const struct req *r, const char *version);
/* Whether r's If-Match asks for particular versions: given and not "*"
 * (which any current version meets). */
int req_if_match_names_version(const struct req *r);

/* Answers; each takes ownership and finishes the request. */
void reply_json(struct req *r, int status, json_t *body);
/* The bytes reply_json sends of body (compact, a newline at the end, no
 * NUL after it), *len of them, malloc'd; takes body's reference. NULL
 * when out of memory. */
char *reply_json_text(json_t *body, size_t *len) WUR;
void reply_raw(struct req *r, int status, const char *content_type, const void *data, size_t len);
/* The same for bytes that outlive the call: referenced, not copied; sent()
 * is called once they are written (or the answer is dropped). */
void reply_shared(struct req *r, int status, const char *content_type, const void *data, size_t len,
                  void (*sent)(const void *data, size_t len, void *arg), void *arg);
/* The same for bytes [offset, offset + len) of a file segment (a reference
 * is taken): marked as draining to a descriptor, the body goes out by
 * sendfile from the file, never through user memory, so a transport must
 * move it into the socket's buffer as it is, not read it. */
void reply_file_segment(struct req *r, int status, const char *content_type,
                        struct evbuffer_file_segment *seg, size_t offset, size_t len);
void reply_empty(struct req *r, int status);
void reply_problem(struct req *r, int status, const char *detail);
/* An answer lists this many errors at most, and how many more there were. */
#define PROBLEM_MAX_ERRORS 100
/* 422 (or another status) with errors: [{"field", "message"}]; steals errors.
 * Past PROBLEM_MAX_ERRORS, detail says how many more and "errors_omitted"
 * counts them. */
void reply_problem_fields(struct req *r, int status, const char *detail, json_t *errors);
/* The same with one error: field at fault and what is wrong with it. */
void reply_problem_field(struct req *r, int status, const char *detail, const char *field,
                         const char *message);
/* 500 for a query that failed: logs the database's message (never sent
 * to the client) with the request id. */
void reply_db_error(struct req *r, const PGresult *res);
/* A query that did not succeed: 503 when the database was unreachable
 * (res NULL), else 500 as reply_db_error. */
void reply_query_failed(struct req *r, const PGresult *res);
/* status (429, 503) with Retry-After: seconds. */
void reply_retry_after(struct req *r, int status, int seconds, const char *detail);
/* 503 with Retry-After: the database is unavailable. */
void reply_unavailable(struct req *r);

/* Appends {"field": field, "message": message} to errors. */
int problem_add(json_t *errors, const char *field, const char *message) WUR;
const char *http_reason(int status);
/* The one table of methods: a method's name ("PATCH"; "" for none), and
 * the method a name stands for (0 when unknown). */
const char *http_method_name(enum evhttp_cmd_type m);
enum evhttp_cmd_type http_method_parse(const char *name, size_t len);

#endif
