/* http.c - request context and answers. Every answer funnels through
 * finish(): it adds the common headers, handles HEAD (headers of GET,
 * no body, our own Content-Length since evhttp 2.1 adds none), writes the
 * access log line, counts the request and frees the context. */
#include "http/http.h"

#include "core/changes.h"
#include "core/metrics.h"
#include "http/context.h"
#include "log.h"
#include "token.h"
#include "clock.h"
#include "cidr.h"
#include "macros.h"
#include "readfloor.h"

#include "config.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A caller's X-Request-Id is kept when it is short and plain. */
static int request_id_acceptable(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 32 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") == n;
}

/* Behind a trusted proxy the client is the rightmost X-Forwarded-For
 * address that is not itself a trusted proxy; anyone else's header is
 * ignored, since any client can send one. */
static void client_behind_proxy(struct req *r)
{
	const struct config *cfg = r->cx->cfg;
	const char *xff = req_header(r, "X-Forwarded-For");
	if (!xff || !cfg->ntrusted || !cidr_match(cfg->trusted, cfg->ntrusted, r->peer))
		return;
	char list[512];
	snprintf(list, sizeof(list), "%s", xff);
	char *end = list + strlen(list);
	while (end > list) {
		char *start = end;
		while (start > list && start[-1] != ',')
			start--;
		char *a = start;
		while (*a == ' ')
			a++;
		char *z = end;
		while (z > a && z[-1] == ' ')
			z--;
		*z = '\0';
		struct cidr probe;
		if (cidr_parse(a, &probe) != 0 || strlen(a) >= sizeof(r->peer))
			return; /* not an address: keep the proxy as the peer */
		if (!cidr_match(cfg->trusted, cfg->ntrusted, a) || start == list) {
			snprintf(r->via, sizeof(r->via), "%s", r->peer);
			memcpy(r->peer, a, strlen(a) + 1); /* shorter than peer: checked above */
			return;
		}
		end = start - 1;
	}
}

/* Request ids need to be unique, not secret: a per-thread counter from a
 * random start, mixed (splitmix64) so that ids do not look sequential.
 * RAND_bytes per request cost a noticeable share of a read by id. */
static void request_id_next(char out[17])
{
	static _Thread_local uint64_t next;
	static _Thread_local int seeded;
	if (!seeded) {
		if (RAND_bytes((unsigned char *)&next, sizeof(next)) != 1)
			next = (uint64_t)now_monotonic_us() ^ (uint64_t)(uintptr_t)&next;
		seeded = 1;
	}
	uint64_t z = (next += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	snprintf(out, 17, "%016llx", (unsigned long long)z);
}

/* The arena's first block comes with the request: enough for a target
 * and the header fields of a usual request and answer. */
#define REQ_ARENA 2048

struct req_block {
	struct req_block *next;
	_Alignas(max_align_t) char data[];
};

static void *arena_alloc(struct req *r, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (n > r->arena_left) {
		size_t size = n > REQ_ARENA ? n : REQ_ARENA;
		struct req_block *b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = r->blocks;
		r->blocks = b;
		r->arena = b->data;
		r->arena_left = size;
	}
	void *p = r->arena;
	r->arena += n;
	r->arena_left -= n;
	return p;
}

char *req_strndup(struct req *r, const char *s, size_t n)
{
	char *p = arena_alloc(r, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static struct req_field *field_new(struct req *r, const char *name, size_t nlen, const char *value,
                                   size_t vlen)
{
	struct req_field *f = arena_alloc(r, sizeof(*f));
	char *n = f ? req_strndup(r, name, nlen) : NULL;
	char *v = n ? req_strndup(r, value, vlen) : NULL;
	if (!v)
		return NULL;
	f->name = n;
	f->value = v;
	f->next = NULL;
	return f;
}

/* The blocks beyond the first, and r with the first. */
static void arena_free(struct req *r)
{
	while (r->blocks) {
		struct req_block *b = r->blocks;
		r->blocks = b->next;
		free(b);
	}
	free(r);
}

struct req *req_new(struct ctx *cx, const struct req_transport *io, enum evhttp_cmd_type method,
                    const char *target, const char *peer, const char *head,
                    const struct http1_field *fields, size_t nfields)
{
	struct req *r = malloc(sizeof(*r) + REQ_ARENA);
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->arena = r->first_block;
	r->arena_left = REQ_ARENA;
	r->out_end = &r->out;
	r->cx = cx;
	r->io = io;
	r->route_index = -1;
	r->method = method;
	r->start_us = now_monotonic_us();
	r->content_length = -1;
	TAILQ_INIT(&r->query);
	size_t tlen = strlen(target), plen = strcspn(target, "?");
	r->target = req_strndup(r, target, tlen);
	r->path = req_strndup(r, target, plen);
	struct req_field **end = &r->in;
	size_t i = 0;
	for (; r->target && r->path && i < nfields; i++) {
		const struct http1_field *f = &fields[i];
		if (!(*end = field_new(r, head + f->name.off, f->name.len, head + f->value.off,
		                       f->value.len)))
			break;
		end = &(*end)->next;
	}
	if (!r->target || !r->path || i < nfields) {
		arena_free(r);
		return NULL;
	}
	r->rawquery = r->target[plen] == '?' ? r->target + plen + 1 : NULL;
	const char *rid = req_header(r, "X-Request-Id");
	if (rid && request_id_acceptable(rid))
		memcpy(r->id, rid, strlen(rid) + 1);
	else
		request_id_next(r->id);
	snprintf(r->peer, sizeof(r->peer), "%s", peer ? peer : "-");
	client_behind_proxy(r);
	return r;
}

static void req_free(struct req *r)
{
	if (r->rerun)
		event_free(r->rerun);
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i].value);
	evhttp_clear_headers(&r->query);
	r->io->release(r);
	if (r->body)
		evbuffer_free(r->body);
	arena_free(r);
}

static void on_rerun(evutil_socket_t fd, short what, void *arg)
{
	struct req *r = arg;
	UNUSED(fd);
	UNUSED(what);
	r->handler(r);
}

int req_rerun(struct req *r, int64_t delay_us)
{
	if (!r->handler || (!r->rerun && !(r->rerun = evtimer_new(r->cx->base, on_rerun, r))))
		return -1;
	struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
	if (evtimer_add(r->rerun, &tv) != 0)
		return -1;
	r->reruns++;
	return 0;
}

const char *req_param(const struct req *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

const char *req_query(const struct req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

static const char *field_find(const struct req_field *f, const char *name)
{
	for (; f; f = f->next)
		if (!strcasecmp(f->name, name))
			return f->value;
	return NULL;
}

const char *req_header(const struct req *r, const char *name)
{
	return field_find(r->in, name);
}

const char *req_answer_header(const struct req *r, const char *name)
{
	return field_find(r->out, name);
}

void req_add_header(struct req *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
		return;
	struct req_field *f = field_new(r, name, strlen(name), value, strlen(value));
	if (!f)
		return; /* as any header that does not fit: the answer goes without it */
	*r->out_end = f;
	r->out_end = &f->next;
}

/* Takes the answer's fields of that name out (their bytes stay in the
 * arena until the request is freed). */
static void answer_header_remove(struct req *r, const char *name)
{
	struct req_field **p = &r->out;
	r->out_end = &r->out;
	while (*p) {
		if (!strcasecmp((*p)->name, name)) {
			*p = (*p)->next;
			continue;
		}
		r->out_end = &(*p)->next;
		p = &(*p)->next;
	}
}

const char *req_body(struct req *r, size_t *len)
{
	*len = r->body ? evbuffer_get_length(r->body) : 0;
	if (!*len)
		return "";
	return (const char *)evbuffer_pullup(r->body, -1);
}

void req_set_etag(struct req *r, const char *value)
{
	char etag[80];
	snprintf(etag, sizeof(etag), "\"%s\"", value);
	req_add_header(r, "ETag", etag);
}

/* etagc (RFC 9110 8.8.3): what an opaque-tag holds between its quotes. */
static int is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* "*" stands alone (not in a list): any current representation. */
static int etag_is_star(const char *header)
{
	const char *p = header + strspn(header, " \t");
	return *p == '*' && p[1 + strspn(p + 1, " \t")] == '\0';
}

int etag_listed(const char *header, const char *value, enum etag_cmp cmp)
{
	if (!header)
		return 0;
	/* The resources asked about have a current representation whenever
	 * a condition is evaluated (a missing one is 404 first). */
	if (etag_is_star(header))
		return 1;
	const char *p = header;
	/* #entity-tag, read whole: a substring search took W/"1" for "1" and
	 * a malformed list for whatever it happened to contain. A field that
	 * is not such a list names nothing, so If-Match fails (412) and
	 * If-None-Match sends the whole answer. */
	size_t vlen = strlen(value);
	int found = 0;
	for (;;) {
		p += strspn(p, " \t");
		if (*p == ',') { /* empty list elements are allowed (RFC 9110 5.6.1) */
			p++;
			continue;
		}
		if (!*p)
			return found;
		int weak = p[0] == 'W' && p[1] == '/';
		if (weak)
			p += 2;
		if (*p != '"')
			return 0;
		const char *tag = ++p;
		while (is_etagc((unsigned char)*p))
			p++;
		if (*p != '"')
			return 0;
		/* Strong comparison: both tags strong and the same; weak: the
		 * same opaque-tag either way (ours are always strong). */
		if ((!weak || cmp == ETAG_WEAK) && (size_t)(p - tag) == vlen &&
		    !memcmp(tag, value, vlen))
			found = 1;
		p++;
		p += strspn(p, " \t");
		if (*p && *p != ',')
			return 0;
	}
}

int req_if_match_fails(const struct req *r, const char *version)
{
	const char *h = req_header(r, "If-Match");
	return h && !etag_listed(h, version, ETAG_STRONG);
}

int req_if_match_names_version(const struct req *r)
{
	const char *h = req_header(r, "If-Match");
	return h && !etag_is_star(h);
}

static const struct {
	const char *name;
	enum evhttp_cmd_type type;
} methods[] = {
    {"GET", EVHTTP_REQ_GET},     {"HEAD", EVHTTP_REQ_HEAD},       {"POST", EVHTTP_REQ_POST},
    {"PUT", EVHTTP_REQ_PUT},     {"DELETE", EVHTTP_REQ_DELETE},   {"OPTIONS", EVHTTP_REQ_OPTIONS},
    {"TRACE", EVHTTP_REQ_TRACE}, {"CONNECT", EVHTTP_REQ_CONNECT}, {"PATCH", EVHTTP_REQ_PATCH}};

const char *http_method_name(enum evhttp_cmd_type m)
{
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (methods[i].type == m)
			return methods[i].name;
	return "";
}

enum evhttp_cmd_type http_method_parse(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strlen(methods[i].name) == len && !memcmp(methods[i].name, name, len))
			return methods[i].type;
	return 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 100: return "Continue";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* The target as logged: a feed's token (the key to its feed) becomes the
 * first 12 hex digits of its SHA-256, which is how feeds.token_hash
 * stores it ("/feeds/sha256:1a2b3c4d5e6f.ics"), so a line can still be
 * matched to its feed; then every field is escaped. */
static void logged_target(const char *target, char *out, size_t outlen)
{
	static const char feeds[] = "/feeds/";
	char buf[600];
	const char *t = target;
	if (!strncmp(target, feeds, sizeof(feeds) - 1)) {
		const char *tok = target + sizeof(feeds) - 1;
		size_t n = strcspn(tok, "/?."), hn = strlen(tok);
		char hash[TOKEN_HASH_HEX + 1];
		if (n && token_hash(tok, n, hash) == 0) {
			snprintf(buf, sizeof(buf), "%ssha256:%.12s%.*s", feeds, hash,
			         (int)(hn - n > 400 ? 400 : hn - n), tok + n);
			t = buf;
		} else if (n) {
			snprintf(buf, sizeof(buf), "%s(token)", feeds);
			t = buf;
		}
	}
	log_escape(t, 512, out, outlen);
}

static void access_log(const struct req *r, int status, size_t bytes, int64_t dur_us)
{
	if (!log_enabled(LOG_INFO))
		return; /* nor hash a feed token, nor escape, for a line not written */
	const char *m = *http_method_name(r->method) ? http_method_name(r->method) : "?";
	char uri[2200], org[140];
	logged_target(r->target ? r->target : "", uri, sizeof(uri));
	log_escape(r->who.org_slug, sizeof(r->who.org_slug), org, sizeof(org));
	log_info("request id=%s peer=%s%s%s method=%s uri=\"%s\" status=%d bytes=%zu "
	         "ms=%.3f%s%s",
	         r->id, r->peer, r->via[0] ? " via=" : "", r->via, m, uri, status, bytes,
	         (double)dur_us / 1000.0, r->who.org_slug[0] ? " org=" : "", org);
}

static void finish(struct req *r, int status, struct evbuffer *body)
{
	size_t len = body ? evbuffer_get_length(body) : 0;
	req_add_header(r, "X-Request-Id", r->id);
	if (r->method == EVHTTP_REQ_HEAD && status != 304 && status != 204) {
		char cl[24];
		snprintf(cl, sizeof(cl), "%zu", len);
		answer_header_remove(r, "Content-Length");
		req_add_header(r, "Content-Length", cl);
		if (body)
			evbuffer_drain(body, len);
	}
	int64_t dur = now_monotonic_us() - r->start_us;
	access_log(r, status, len, dur);
	metrics_request(r->route_index, status, dur);
	/* A change made here shows in this instance's feeds at once (read your
	 * writes); other instances hear of it through NOTIFY. Reads go to the
	 * primary until a standby has replayed it: after a success, and after
	 * a 5xx, which may follow a commit whose answer was lost; not for a
	 * refusal, nor for anyone without a key. */
	int writes = r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD &&
	             r->method != EVHTTP_REQ_OPTIONS;
	if (writes && r->who.key_id[0] && (status < 400 || status >= 500))
		readfloor_changed(r->cx->floor);
	/* Kept feeds and rows are read again after the same (a 5xx may have
	 * followed a commit; it may reach any of them). */
	if (writes && (status < 300 || (status >= 500 && r->who.key_id[0])))
		changes_bump(r->cx->data_generation, NULL);
	/* A request counts as done once its answer is written, so that a
	 * stopping worker does not close connections with answers unsent
	 * (and a stopping one says Connection: close). */
	/* Its body's share of max_bodies_in_flight ends with the answer, not
	 * when the request is freed after it: a client answered may send the
	 * next body at once (and the gauge says so). */
	r->io->release(r);
	r->io->respond(r, status, body);
	if (body)
		evbuffer_free(body);
	req_free(r);
}

void reply_raw(struct req *r, int status, const char *content_type, const void *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	if (b && len && evbuffer_add(b, data, len) != 0) {
		evbuffer_free(b);
		b = NULL;
	}
	if (!b) {
		finish(r, 500, NULL);
		return;
	}
	if (content_type)
		req_add_header(r, "Content-Type", content_type);
	finish(r, status, b);
}

void reply_shared(struct req *r, int status, const char *content_type, const void *data, size_t len,
                  void (*sent)(const void *data, size_t len, void *arg), void *arg)
{
	struct evbuffer *b = evbuffer_new();
	if (!b || evbuffer_add_reference(b, data, len, sent, arg) != 0) {
		if (b)
			evbuffer_free(b);
		sent(data, len, arg);
		finish(r, 500, NULL);
		return;
	}
	if (content_type)
		req_add_header(r, "Content-Type", content_type);
	finish(r, status, b);
}

void reply_file_segment(struct req *r, int status, const char *content_type,
                        struct evbuffer_file_segment *seg, size_t offset, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	/* Without the flag libevent maps the segment and copies it out. */
	if (!b || evbuffer_set_flags(b, EVBUFFER_FLAG_DRAINS_TO_FD) != 0 ||
	    evbuffer_add_file_segment(b, seg, (ev_off_t)offset, (ev_off_t)len) != 0) {
		if (b)
			evbuffer_free(b);
		finish(r, 500, NULL);
		return;
	}
	if (content_type)
		req_add_header(r, "Content-Type", content_type);
	finish(r, status, b);
}

void reply_empty(struct req *r, int status)
{
	finish(r, status, NULL);
}

char *reply_json_text(json_t *body, size_t *len)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text) {
		*len = strlen(text) + 1;
		text[*len - 1] = '\n'; /* over the NUL */
	}
	return text;
}

static void reply_json_typed(struct req *r, int status, json_t *body, const char *type)
{
	size_t n;
	char *text = reply_json_text(body, &n);
	if (!text) {
		/* Out of memory: a fixed answer needs no allocation of ours. */
		static const char oom[] = "{\"type\":\"about:blank\",\"title\":\"Internal Server "
		                          "Error\",\"status\":500}";
		reply_raw(r, 500, "application/problem+json", oom, sizeof(oom) - 1);
		return;
	}
	reply_raw(r, status, type, text, n);
	free(text);
}

void reply_json(struct req *r, int status, json_t *body)
{
	reply_json_typed(r, status, body, "application/json");
}

static const char *problem_type(int status)
{
	switch (status) {
	case 422: return "urn:liaison:problem:validation";
	case 409: return "urn:liaison:problem:conflict";
	case 429: return "urn:liaison:problem:rate-limited";
	case 503: return "urn:liaison:problem:unavailable";
	default: return "about:blank";
	}
}

/* Keeps the first PROBLEM_MAX_ERRORS of errors; returns how many more
 * there were (jv_error counts those past the cap in a trailing integer). */
static json_int_t errors_cap(json_t *errors)
{
	json_int_t more = 0;
	size_t n = json_array_size(errors);
	json_t *last = n ? json_array_get(errors, n - 1) : NULL;
	if (json_is_integer(last)) {
		more = json_integer_value(last);
		json_array_remove(errors, --n);
	}
	while (n > PROBLEM_MAX_ERRORS) {
		json_array_remove(errors, --n);
		more++;
	}
	return more;
}

void reply_problem_fields(struct req *r, int status, const char *detail, json_t *errors)
{
	json_t *p = json_pack("{s:s, s:s, s:i}", "type", problem_type(status), "title",
	                      http_reason(status), "status", status);
	json_int_t more = errors ? errors_cap(errors) : 0;
	if (p && detail && more) {
		char text[512];
		snprintf(text, sizeof(text), "%.400s; %lld more errors not listed", detail,
		         (long long)more);
		json_object_set_new(p, "detail", json_string(text));
		json_object_set_new(p, "errors_omitted", json_integer(more));
	} else if (p && detail) {
		json_object_set_new(p, "detail", json_string(detail));
	}
	if (p && errors)
		json_object_set(p, "errors", errors);
	json_decref(errors);
	reply_json_typed(r, status, p, "application/problem+json");
}

void reply_problem_field(struct req *r, int status, const char *detail, const char *field,
                         const char *message)
{
	json_t *errors = json_array();
	if (errors && problem_add(errors, field, message) != 0) {
		json_decref(errors);
		errors = NULL;
	}
	reply_problem_fields(r, status, detail, errors);
}

void reply_problem(struct req *r, int status, const char *detail)
{
	reply_problem_fields(r, status, detail, NULL);
}

void reply_db_error(struct req *r, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "no result";
	log_error("request id=%s: database error: %.*s", r->id, (int)strcspn(msg, "\n"), msg);
	reply_problem(r, 500, "database error");
}

void reply_query_failed(struct req *r, const PGresult *res)
{
	if (res)
		reply_db_error(r, res);
	else
		reply_unavailable(r);
}

void reply_retry_after(struct req *r, int status, int seconds, const char *detail)
{
	char secs[16];
	snprintf(secs, sizeof(secs), "%d", seconds);
	req_add_header(r, "Retry-After", secs);
	reply_problem(r, status, detail);
}

void reply_unavailable(struct req *r)
{
	req_add_header(r, "Retry-After", "2");
	reply_problem(r, 503, "the database is unavailable; try again shortly");
}

int problem_add(json_t *errors, const char *field, const char *message)
{
	json_t *e = json_pack("{s:s, s:s}", "field", field, "message", message);
	return e ? json_array_append_new(errors, e) : -1;
}

static int content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	if (!ct || strncasecmp(ct, want, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

json_t *req_json_body(struct req *r, int allow_merge_patch)
{
	const char *ct = req_header(r, "Content-Type");
	if (!content_type_is(ct, "application/json") &&
	    !(allow_merge_patch && content_type_is(ct, "application/merge-patch+json"))) {
		reply_problem(r, 415,
		              allow_merge_patch
		                  ? "send application/merge-patch+json or application/json"
		                  : "send application/json");
		return NULL;
	}
	size_t len;
	const char *data = req_body(r, &len);
	if (!data) {
		reply_problem(r, 500, "out of memory");
		return NULL;
	}
	json_error_t err;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		char detail[300];
		snprintf(detail, sizeof(detail), "malformed JSON at line %d, column %d: %s",
		         err.line, err.column, err.text);
		reply_problem(r, 400, detail);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_problem(r, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}
