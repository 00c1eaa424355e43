/* httpd.c - see httpd.h. A connection's life:
 *
 *   IDLE     waiting for a request's first byte (request_timeout); listed
 *            as evictable: past max_connections, or when accept() finds no
 *            descriptor, the longest idle connection is closed first
 *   HEAD     a request's head is arriving (header_timeout from its first
 *            byte, 408 beyond; 414 and 431 past the limits)
 *   WAIT     the head is parsed and the request handed over (routing,
 *            authentication, rate limit): nothing more is read
 *   BODY     the body is read, when asked (body_timeout from then)
 *   HANDLER  the handler has the request
 *   WRITE    its answer is being written; then IDLE again (a pipelined
 *            request already read goes on at once) or LINGER
 *   LINGER   answered with Connection: close: our side is shut, what the
 *            client still sends is read and dropped for a moment, so that
 *            closing with unread bytes does not reset the connection and
 *            lose the answer (a 401 sent before a 4 MiB body, say)
 *
 * One request at a time per connection. A request counts as in flight from
 * its head to its answer's last byte (httpd_inflight); a stopping server
 * ends its loop when the last one is done. */
#include "http/httpd.h"

#include "config.h"
#include "http/context.h"
#include "http/http.h"
#include "http/negotiate.h"
#include "http1.h"
#include "log.h"
#include "core/metrics.h"
#include "clock.h"
#include "macros.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE        8192  /* request line; 414 beyond */
#define MAX_HEAD        32768 /* whole head; 431 beyond */
#define LINGER_MS       2000
#define LINGER_BYTES    (8 << 20)
#define ACCEPT_PAUSE_MS 100
#define OVERSHOOT       64 /* connections past the cap while another worker closes idle ones */
#define MAX_HTTPDS      256
#define SLOW_HEAD_MS    1000 /* past the cap, a head slower than this may be cut */
#define READ_CHUNK      4096 /* bytes read at most per readable event, as libevent does */

static struct {
	int max_conns;
	int64_t max_body, max_bodies;
	int64_t idle_ms, head_ms, body_ms;
} lim = {1024, 1 << 20, 64 << 20, 30000, 10000, 30000};

static _Atomic int64_t open_conns, body_bytes;

enum cstate { C_IDLE, C_HEAD, C_WAIT, C_BODY, C_HANDLER, C_WRITE, C_LINGER };

struct hconn {
	struct httpd *h;
	struct bufferevent *bev; /* writes, and holds the input read by rev */
	struct event *rev;       /* the socket's readability, while reading */
	int reading;
	struct event *timer;
	enum cstate state;
	struct req *req;
	char peer[64];
	struct http1_scan scan; /* of the head, so far */
	/* The current request's framing. */
	int minor, keep_alive, expect_continue;
	int body_pending; /* a body follows that is not read yet */
	int chunked, keep_body;
	int64_t body_left, body_read;
	struct http1_chunked ch;
	void (*next)(struct req *r);
	int close_after;    /* once the answer is written */
	int answer_pending; /* request_done once it is written */
	int corked;         /* TCP_CORK set for this answer (cork) */
	size_t lingered;
	int evictable;
	TAILQ_ENTRY(hconn) idle_link;
	int64_t head_ms; /* when its head began (in heads) */
	int in_heads;
	TAILQ_ENTRY(hconn) head_link;
	LIST_ENTRY(hconn) link;
};

struct httpd {
	struct ctx *cx;
	struct event_base *base;
	_Atomic int inflight; /* requests from head to last byte written */
	struct evconnlistener *listener;
	struct event *resume;
	void (*on_request)(struct req *r);
	TAILQ_HEAD(idle_list, hconn) idle;  /* oldest first */
	TAILQ_HEAD(head_list, hconn) heads; /* heads arriving, oldest first */
	LIST_HEAD(conn_list, hconn) conns;
	int stopping;
	_Atomic int nidle;              /* read by the other workers */
	_Atomic int64_t oldest_head_ms; /* 0: no head arriving */
	_Atomic int evict_asked;        /* idle connections they asked this one to close */
	struct event *evict;            /* activated by them */
};

/* Every worker's server, for a worker at the cap with nothing idle of its
 * own to ask another to close one (registered before the threads start). */
static struct httpd *all[MAX_HTTPDS];
static int nall;
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER; /* a worker may be freed first */

/* ---- limits ---------------------------------------------------------------- */

void httpd_configure(const struct config *cfg, int nworkers)
{
	lim.max_body = cfg->max_body;
	lim.max_bodies = cfg->max_bodies_in_flight;
	lim.idle_ms = cfg->request_timeout_ms;
	lim.head_ms = cfg->header_timeout_ms;
	lim.body_ms = cfg->body_timeout_ms;
	if (cfg->max_connections > 0) {
		lim.max_conns = cfg->max_connections;
		return;
	}
	/* What else the process holds open: database connections (workers and
	 * the scheduler), webhook transfers, loops, listeners, logs, and the
	 * rendered feeds' files (http/context.h). */
	struct rlimit rl;
	long soft = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	                ? (long)rl.rlim_cur
	                : 1000000;
	long reserve = 64 + FEED_FILES_MAX + (long)nworkers * (cfg->db_pool_size + 8) +
	               cfg->webhook_concurrency + cfg->db_pool_size + 16;
	long cap = soft - reserve;
	if (cap < soft / 4)
		cap = soft / 4;
	lim.max_conns = (int)(cap < 16 ? 16 : cap > 1000000 ? 1000000 : cap);
}

int64_t httpd_open_connections(void)
{
	return atomic_load(&open_conns);
}

int64_t httpd_body_bytes(void)
{
	return atomic_load(&body_bytes);
}

int httpd_max_connections(void)
{
	return lim.max_conns;
}

static int body_reserve(struct req *r, int64_t n)
{
	if (atomic_fetch_add(&body_bytes, n) + n > lim.max_bodies) {
		atomic_fetch_sub(&body_bytes, n);
		return 0;
	}
	r->body_reserved += (size_t)n;
	return 1;
}

static void body_release(struct req *r)
{
	if (r->body_reserved)
		atomic_fetch_sub(&body_bytes, (int64_t)r->body_reserved);
	r->body_reserved = 0;
}

/* At most one line a second for conditions that repeat per connection. */
static int log_allowed(_Atomic int64_t *last, _Atomic unsigned *skipped, unsigned *n)
{
	int64_t now = now_monotonic_ms(), was = atomic_load(last);
	if (now - was < 1000 || !atomic_compare_exchange_strong(last, &was, now)) {
		atomic_fetch_add(skipped, 1);
		return 0;
	}
	*n = atomic_exchange(skipped, 0);
	return 1;
}

int httpd_inflight(const struct httpd *h)
{
	return atomic_load(&h->inflight);
}

/* A request's answer is written (or dropped): a stopping server's loop
 * ends with its last one. */
static void request_done(struct httpd *h)
{
	if (atomic_fetch_sub(&h->inflight, 1) == 1 && h->stopping)
		event_base_loopexit(h->base, NULL);
}

/* ---- connections ------------------------------------------------------------- */

static void arm(struct hconn *c, int64_t ms)
{
	struct timeval tv = timeval_ms(ms);
	evtimer_add(c->timer, &tv);
}

static void evictable(struct hconn *c, int on)
{
	if (on && !c->evictable) {
		TAILQ_INSERT_TAIL(&c->h->idle, c, idle_link);
		atomic_fetch_add(&c->h->nidle, 1);
	} else if (!on && c->evictable) {
		TAILQ_REMOVE(&c->h->idle, c, idle_link);
		atomic_fetch_sub(&c->h->nidle, 1);
	}
	c->evictable = on;
}

static void heads_listed(struct hconn *c, int on)
{
	if (on && !c->in_heads) {
		c->head_ms = now_monotonic_ms();
		TAILQ_INSERT_TAIL(&c->h->heads, c, head_link);
	} else if (!on && c->in_heads) {
		TAILQ_REMOVE(&c->h->heads, c, head_link);
	}
	c->in_heads = on;
	struct hconn *first = TAILQ_FIRST(&c->h->heads);
	atomic_store(&c->h->oldest_head_ms, first ? first->head_ms : 0);
}

static void conn_free(struct hconn *c)
{
	if (c->req) {
		c->req->conn = NULL; /* its handler answers into the void */
		c->req = NULL;
	}
	if (c->answer_pending)
		request_done(c->h);
	evictable(c, 0);
	heads_listed(c, 0);
	LIST_REMOVE(c, link);
	event_free(c->timer);
	event_free(c->rev);
	bufferevent_free(c->bev);
	atomic_fetch_sub(&open_conns, 1);
	free(c);
}

/* The client is gone. A request whose body was being read is answered
 * (logged) here; one with its handler finishes without a connection. */
static void conn_drop(struct hconn *c)
{
	struct req *r = c->req;
	int in_body = c->state == C_BODY;
	conn_free(c);
	if (r && in_body)
		reply_problem(r, 400, "the client left before its body ended");
}

/* Closes the longest idle connection whose client has not started a
 * request (one of the oldest few): one with bytes waiting would be reset,
 * its request unread and its client never answered. With none, the
 * oldest head that has taken over SLOW_HEAD_MS (a client's head comes in
 * one packet; a slowloris' never ends). Returns 0 when there is neither. */
static int evict_one(struct httpd *h)
{
	struct hconn *c = TAILQ_FIRST(&h->idle), *pick = NULL;
	for (int i = 0; c && i < 8; i++, c = TAILQ_NEXT(c, idle_link)) {
		int waiting = 0;
		if (c->state == C_LINGER ||
		    (!evbuffer_get_length(bufferevent_get_input(c->bev)) &&
		     ioctl(bufferevent_getfd(c->bev), FIONREAD, &waiting) == 0 && waiting == 0)) {
			pick = c;
			break;
		}
	}
	if (!pick && (pick = TAILQ_FIRST(&h->heads)) &&
	    now_monotonic_ms() - pick->head_ms < SLOW_HEAD_MS)
		pick = NULL;
	if (!pick)
		return 0;
	if (pick->state == C_HEAD)
		metrics_inc(M_HTTP_DEADLINES);
	conn_free(pick);
	return 1;
}

/* Reading on or off; a change is an epoll_ctl, so it is made only when
 * it changes something. */
static void reading(struct hconn *c, int on)
{
	if (on && !c->reading)
		event_add(c->rev, NULL);
	else if (!on && c->reading)
		event_del(c->rev);
	c->reading = on;
}

static void set_idle(struct hconn *c)
{
	c->state = C_IDLE;
	memset(&c->scan, 0, sizeof(c->scan));
	evictable(c, 1);
	arm(c, lim.idle_ms);
	reading(c, 1);
}

static void start_linger(struct hconn *c)
{
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	c->state = C_LINGER;
	c->lingered = 0;
	evictable(c, 1);
	arm(c, LINGER_MS);
	reading(c, 1);
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void linger_read(struct hconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	c->lingered += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->lingered > LINGER_BYTES)
		conn_free(c);
}

/* ---- requests ------------------------------------------------------------------ */

static void respond(struct req *r, int status, struct evbuffer *body);
static const struct req_transport transport = {respond, body_release};

/* A request context for c; with head, its fields become the input
 * headers. */
static struct req *make_req(struct hconn *c, enum evhttp_cmd_type m, const char *target,
                            const char *head, const struct http1_head *hd)
{
	struct req *r = req_new(c->h->cx, &transport, m, target, c->peer, head,
	                        hd ? hd->fields : NULL, hd ? hd->nfields : 0);
	if (!r)
		return NULL;
	r->server = c->h;
	atomic_fetch_add(&c->h->inflight, 1);
	r->content_length = hd ? hd->content_length : -1;
	r->chunked = hd ? hd->chunked : 0;
	r->conn = c;
	c->req = r;
	return r;
}

/* Reading stays enabled: turning it off and on again costs two epoll_ctl
 * calls per request. What comes in meanwhile (a pipelined request, a body
 * sent late) turns it off then, in on_read, so that no more is read until
 * the request is answered. */
static void hand_over(struct hconn *c)
{
	c->state = C_WAIT;
	evictable(c, 0);
	heads_listed(c, 0);
	evtimer_del(c->timer);
}

/* An answer for a request whose head could not be read: problem+json
 * through the usual path (logged, counted), then the connection closes. */
static void early_error(struct hconn *c, int status, const char *why, const char *target)
{
	struct req *r = make_req(c, 0, target ? target : "", NULL, NULL);
	if (!r) {
		conn_free(c);
		return;
	}
	hand_over(c);
	c->close_after = 1;
	c->body_pending = 0;
	c->keep_alive = 0;
	c->minor = 1;
	reply_problem(r, status, why);
}

/* The origin-form path of a target in absolute form ("http://h/p?q"). */
static const char *origin_form(const char *t)
{
	if (strncasecmp(t, "http://", 7) && strncasecmp(t, "https://", 8))
		return t;
	const char *p = strchr(strstr(t, "//") + 2, '/');
	return p ? p : "/";
}

static void start_request(struct hconn *c, char *head, size_t len)
{
	struct http1_head hd;
	const char *why = NULL;
	int st = http1_parse_head(head, len, MAX_LINE, &hd, &why);
	if (st) {
		early_error(c, st, why, NULL);
		return;
	}
	head[hd.target.off + hd.target.len] = '\0';
	const char *target = origin_form(head + hd.target.off);
	enum evhttp_cmd_type m = http_method_parse(head + hd.method.off, hd.method.len);
	c->minor = hd.minor;
	c->keep_alive = hd.keep_alive;
	c->expect_continue = hd.expect_continue;
	c->chunked = hd.chunked;
	c->body_left = hd.content_length > 0 ? hd.content_length : 0;
	c->body_read = 0;
	c->body_pending = hd.chunked || hd.content_length > 0;
	c->close_after = 0;
	memset(&c->ch, 0, sizeof(c->ch));
	struct req *r = make_req(c, m, target, head, &hd);
	if (!r) {
		early_error(c, 500, "out of memory", NULL);
		return;
	}
	hand_over(c);
	if (!m || m == EVHTTP_REQ_CONNECT) {
		c->close_after = 1;
		reply_problem(r, 501,
		              m ? "CONNECT is not served here" : "this method is not served");
	} else if (*target != '/' && !(m == EVHTTP_REQ_OPTIONS && !strcmp(target, "*"))) {
		c->close_after = 1;
		reply_problem(r, 400, "malformed request target");
	} else if (hd.expect_continue < 0) {
		c->close_after = 1;
		reply_problem(r, 417, "only Expect: 100-continue is understood");
	} else {
		c->h->on_request(r);
	}
}

static void read_head(struct hconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (c->state == C_IDLE) {
		size_t len = evbuffer_get_length(in), peek = len < 64 ? len : 64;
		const char *p = peek ? (const char *)evbuffer_pullup(in, (ev_ssize_t)peek) : NULL;
		if (p)
			evbuffer_drain(in, http1_skip_blank(p, peek));
		if (!evbuffer_get_length(in))
			return;
		evictable(c, 0);
		heads_listed(c, 1);
		c->state = C_HEAD;
		memset(&c->scan, 0, sizeof(c->scan));
		arm(c, lim.head_ms);
	}
	size_t len = evbuffer_get_length(in), look = len < MAX_HEAD + 4 ? len : MAX_HEAD + 4;
	const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
	if (!p) {
		early_error(c, 500, "out of memory", NULL);
		return;
	}
	size_t hl = 0;
	int st = http1_head_scan(p, look, &c->scan, MAX_LINE, MAX_HEAD, &hl);
	if (st != 1) {
		if (st)
			early_error(c, st,
			            st == 414   ? "the request line is too long"
			            : st == 431 ? "the request head is too large"
			                        : "a line of the head ends in LF without CR",
			            NULL);
		return;
	}
	char *head = malloc(hl + 1);
	if (!head) {
		early_error(c, 500, "out of memory", NULL);
		return;
	}
	evbuffer_remove(in, head, hl);
	head[hl] = '\0';
	start_request(c, head, hl);
	free(head);
}

static void body_done(struct hconn *c)
{
	c->body_pending = 0;
	c->state = C_HANDLER;
	evtimer_del(c->timer);
	c->next(c->req);
}

static void body_fail(struct hconn *c, int status, const char *why)
{
	struct req *r = c->req;
	c->close_after = 1;
	if (status == 503) {
		metrics_inc(M_HTTP_BODIES_REFUSED);
		req_add_header(r, "Retry-After", "1");
	}
	reply_problem(r, status, why);
}

static void read_body(struct hconn *c)
{
	struct req *r = c->req;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *body = r->body;
	if (!c->chunked) {
		size_t n = evbuffer_get_length(in);
		if ((int64_t)n > c->body_left)
			n = (size_t)c->body_left;
		if (c->keep_body && evbuffer_remove_buffer(in, body, n) != (int)n) {
			body_fail(c, 500, "out of memory");
			return;
		}
		if (!c->keep_body)
			evbuffer_drain(in, n);
		c->body_left -= (int64_t)n;
		if (c->body_left == 0)
			body_done(c);
		return;
	}
	while (evbuffer_get_length(in)) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used, dlen;
		const char *data;
		int rc = http1_chunked_next(&c->ch, v.iov_base, v.iov_len, &used, &data, &dlen);
		if (rc == HTTP1_CHUNK_BAD) {
			body_fail(c, 400, "malformed chunked body");
			return;
		}
		if (dlen) {
			c->body_read += (int64_t)dlen;
			if (c->body_read > lim.max_body) {
				body_fail(c, 413, "the request body is too large");
				return;
			}
			if (c->keep_body && !body_reserve(r, (int64_t)dlen)) {
				body_fail(
				    c, 503,
				    "too many request bodies are arriving; try again shortly");
				return;
			}
			if (c->keep_body && evbuffer_add(body, data, dlen) != 0) {
				body_fail(c, 500, "out of memory");
				return;
			}
		}
		evbuffer_drain(in, used);
		if (rc == HTTP1_CHUNK_END) {
			body_done(c);
			return;
		}
	}
}

void httpd_read_body(struct req *r, int keep, void (*next)(struct req *r))
{
	struct hconn *c = r->conn;
	if (!c) {
		reply_problem(r, 400, "the client left before its body was read");
		return;
	}
	if (!c->body_pending) {
		next(r);
		return;
	}
	c->keep_body = keep;
	c->next = next;
	if (keep && !r->body && !(r->body = evbuffer_new())) {
		body_fail(c, 500, "out of memory");
		return;
	}
	if (keep && !c->chunked && !body_reserve(r, c->body_left)) {
		body_fail(c, 503, "too many request bodies are arriving; try again shortly");
		return;
	}
	c->state = C_BODY;
	arm(c, lim.body_ms);
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (c->expect_continue == 1 && c->minor >= 1 && !evbuffer_get_length(in) &&
	    bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) {
		body_fail(c, 500, "out of memory");
		return;
	}
	reading(c, 1);
	read_body(c);
}

/* The Date header, made once a second per thread. */
static const char *http_date(void)
{
	static _Thread_local char buf[32];
	static _Thread_local time_t at;
	time_t now = time(NULL);
	if (now != at) {
		http_date_format((int64_t)now, buf);
		at = now;
	}
	return buf;
}

/* The answer's head is built by copying into a buffer on the stack (a
 * printf per header was a visible share of a short answer's cost); a head
 * too large for it goes on in an evbuffer. */
struct head_buf {
	char *p;
	size_t len, cap;
	struct evbuffer *spill;
	int bad;
};

static void head_add(struct head_buf *h, const char *s, size_t n)
{
	if (h->bad)
		return;
	if (!h->spill && h->len + n <= h->cap) {
		memcpy(h->p + h->len, s, n);
		h->len += n;
		return;
	}
	if (!h->spill && (!(h->spill = evbuffer_new()) || evbuffer_add(h->spill, h->p, h->len))) {
		h->bad = 1;
		return;
	}
	h->bad = evbuffer_add(h->spill, s, n) != 0;
}

static void head_str(struct head_buf *h, const char *s)
{
	head_add(h, s, strlen(s));
}

static void head_uint(struct head_buf *h, size_t v)
{
	char digits[24];
	size_t i = sizeof(digits);
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	head_add(h, digits + i, sizeof(digits) - i);
}

/* The answer is out: the connection waits for the next request, or
 * lingers. Returns whether a pipelined request is already read. */
/* A large answer is written corked (TCP_CORK), as nginx's tcp_nopush
 * does, and uncorked once all of it is in the socket: with TCP_NODELAY
 * alone the head left as a packet of its own and sendfile's chunks as
 * segments of ~38 kB, not 64 kB, and the client acknowledged and woke
 * for each (21 segments a 477 kB feed against nginx's 12, and the
 * client's CPU per answer 210 us against 135). Two system calls an
 * answer; small answers, one writev, gain nothing from it. */
#define CORK_MIN 16384

static void cork(struct hconn *c, int on)
{
	if (c->corked == on)
		return;
	c->corked = on;
	(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static int answer_written(struct hconn *c)
{
	cork(c, 0);
	c->answer_pending = 0;
	request_done(c->h);
	if (c->close_after) {
		start_linger(c);
		return 0;
	}
	set_idle(c);
	return evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
}

/* The head and body are written straight to the socket, in one writev, in
 * the loop iteration that made them: handing them to the bufferevent cost
 * an epoll_ctl to watch for writability, a loop iteration to write, and
 * another epoll_ctl to stop watching. What the socket does not take at
 * once (or a write that fails: the bufferevent then reports it) goes
 * through the bufferevent, as does everything behind a 100 Continue not
 * yet written. */
static void respond(struct req *r, int status, struct evbuffer *body)
{
	struct hconn *c = r->conn;
	if (!c) {
		request_done(r->server);
		return;
	}
	r->conn = NULL;
	c->req = NULL;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *conn_hdr = req_answer_header(r, "Connection");
	int closing = c->close_after || !c->keep_alive || c->body_pending || c->h->stopping ||
	              (conn_hdr && !strcasecmp(conn_hdr, "close"));
	size_t len = body ? evbuffer_get_length(body) : 0;
	char stack[2048];
	struct head_buf hb = {stack, 0, sizeof(stack), NULL, 0};
	head_str(&hb, "HTTP/1.1 ");
	head_uint(&hb, (size_t)status);
	head_str(&hb, " ");
	head_str(&hb, http_reason(status));
	head_str(&hb, "\r\nDate: ");
	head_str(&hb, http_date());
	head_str(&hb, "\r\n");
	int have_length = 0;
	for (const struct req_field *f = r->out; f; f = f->next) {
		if (strcasecmp(f->name, "Connection") != 0) {
			head_str(&hb, f->name);
			head_str(&hb, ": ");
			head_str(&hb, f->value);
			head_str(&hb, "\r\n");
		}
		have_length |= !strcasecmp(f->name, "Content-Length");
	}
	if (status >= 200 && status != 204 && status != 304 && !have_length) {
		head_str(&hb, "Content-Length: ");
		head_uint(&hb, len);
		head_str(&hb, "\r\n");
	}
	if (closing)
		head_str(&hb, "Connection: close\r\n\r\n");
	else if (c->minor == 0)
		head_str(&hb, "Connection: keep-alive\r\n\r\n");
	else
		head_str(&hb, "\r\n");
	c->close_after = closing;
	c->answer_pending = 1;
	struct evbuffer *msg = body ? body : evbuffer_new();
	int bad = hb.bad || !msg ||
	          (hb.spill ? evbuffer_prepend_buffer(msg, hb.spill)
	                    : evbuffer_prepend(msg, stack, hb.len)) != 0;
	if (hb.spill)
		evbuffer_free(hb.spill);
	/* A body kept in a file (reply_file_segment) goes by sendfile after the
	 * head's writev: one write each, in this call too. */
	if (!bad && !evbuffer_get_length(out) && evbuffer_get_length(msg) >= CORK_MIN)
		cork(c, 1);
	if (!bad && !evbuffer_get_length(out))
		while (evbuffer_get_length(msg) &&
		       evbuffer_write(msg, bufferevent_getfd(c->bev)) > 0)
			;
	int done = !bad && !evbuffer_get_length(msg);
	if (!bad && !done)
		bad = evbuffer_add_buffer(out, msg) != 0;
	if (msg && msg != body)
		evbuffer_free(msg);
	if (bad) {
		conn_free(c); /* out of memory: half an answer must not go out */
		return;
	}
	if (done) {
		/* A pipelined request waits for the loop: answered at once, the
		 * next would be read here, inside this answer's call. */
		if (answer_written(c))
			bufferevent_trigger(c->bev, EV_READ,
			                    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
		return;
	}
	c->state = C_WRITE;
	evtimer_del(c->timer);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* ---- bufferevent callbacks ---------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	UNUSED(bev);
	struct hconn *c = arg;
	switch (c->state) {
	case C_IDLE:
	case C_HEAD: read_head(c); break;
	case C_BODY: read_body(c); break;
	case C_LINGER: linger_read(c); break;
	default:
		/* Kept for after the answer, and no more read until then. */
		reading(c, 0);
		break;
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;
	UNUSED(bev);
	if (c->state != C_WRITE)
		return; /* a 100 Continue went out */
	if (answer_written(c))
		read_head(c); /* a pipelined request */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	UNUSED(bev);
	UNUSED(what);
	conn_drop(arg); /* a write that failed or stalled */
}

/* The socket is readable: one readv into the input buffer. (The
 * bufferevent's own reading asked the kernel first how much was waiting,
 * an ioctl per read: a system call more per request.) */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(what);
	struct hconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	int nv = evbuffer_reserve_space(in, READ_CHUNK, v, 2);
	if (nv < 1) {
		conn_drop(c); /* out of memory */
		return;
	}
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	ssize_t n = readv(fd, iov, nv);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return; /* what was reserved stays for the next read */
	if (n == 0 && (c->state == C_WAIT || c->state == C_HANDLER || c->state == C_WRITE ||
	               (c->state == C_IDLE && evbuffer_get_length(in)))) {
		/* A client that shuts its side after its requests still gets the
		 * answers, also those of requests read but not started yet (idle
		 * with input: the next one's turn is a deferred callback away).
		 * The end of input is met again once reading resumes. */
		reading(c, 0);
		return;
	}
	if (n <= 0) {
		conn_drop(c); /* end of input, or an error */
		return;
	}
	size_t got = (size_t)n;
	int used = 0;
	for (int i = 0; i < nv && got; i++, used++) {
		if (v[i].iov_len > got)
			v[i].iov_len = got;
		got -= v[i].iov_len;
	}
	if (evbuffer_commit_space(in, v, used) != 0) {
		conn_drop(c);
		return;
	}
	on_read(c->bev, c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct hconn *c = arg;
	switch (c->state) {
	case C_HEAD:
		metrics_inc(M_HTTP_DEADLINES);
		early_error(c, 408, "the request head did not arrive in time", NULL);
		break;
	case C_BODY:
		metrics_inc(M_HTTP_DEADLINES);
		c->close_after = 1;
		reply_problem(c->req, 408, "the request body did not arrive in time");
		break;
	case C_IDLE:
	case C_LINGER: conn_free(c); break;
	default: break;
	}
}

/* ---- accepting ------------------------------------------------------------------ */

static _Atomic int64_t refused_log_ms, accept_log_ms;
static _Atomic unsigned refused_skipped, accept_skipped;

/* Over max_connections with nothing idle to close: a fixed 503 written
 * straight to the new socket (a few hundred bytes fit its empty send
 * buffer), then closed. */
static void refuse(evutil_socket_t fd)
{
	static const char body[] = "{\"type\":\"urn:liaison:problem:unavailable\",\"title\":"
	                           "\"Service Unavailable\",\"status\":503,\"detail\":\"too many "
	                           "connections; try again shortly\"}\n";
	char msg[512];
	int n = snprintf(msg, sizeof(msg),
	                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
	                 "application/problem+json\r\nRetry-After: 1\r\nConnection: "
	                 "close\r\nContent-Length: %zu\r\n\r\n%s",
	                 sizeof(body) - 1, body);
	ssize_t sent = send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	UNUSED(sent);
	shutdown(fd, SHUT_WR);
	char sink[4096];
	ssize_t got = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	UNUSED(got);
	close(fd);
	metrics_inc(M_HTTP_CONN_REFUSED);
	unsigned skipped;
	if (log_allowed(&refused_log_ms, &refused_skipped, &skipped))
		log_warn("%d connections open, the most allowed (max_connections): answered 503 "
		         "(%u more in the last second)",
		         lim.max_conns, skipped);
}

/* Asks another worker that has idle connections to close one. */
static int evict_elsewhere(struct httpd *h)
{
	int asked = 0;
	int64_t now = now_monotonic_ms();
	pthread_mutex_lock(&all_lock);
	for (int i = 0; i < nall && !asked; i++) {
		struct httpd *o = all[i];
		int64_t head = atomic_load(&o->oldest_head_ms);
		if (o == h || (atomic_load(&o->nidle) <= atomic_load(&o->evict_asked) &&
		               (!head || now - head < SLOW_HEAD_MS)))
			continue;
		atomic_fetch_add(&o->evict_asked, 1);
		event_active(o->evict, 0, 0);
		asked = 1;
	}
	pthread_mutex_unlock(&all_lock);
	return asked;
}

static void on_evict(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct httpd *h = arg;
	for (int n = atomic_exchange(&h->evict_asked, 0); n > 0 && evict_one(h); n--)
		;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	UNUSED(l);
	UNUSED(salen);
	struct httpd *h = arg;
	int64_t open = atomic_fetch_add(&open_conns, 1);
	if (open >= lim.max_conns) {
		if (evict_one(h)) {
			/* it took its count with it */
		} else if (open >= lim.max_conns + OVERSHOOT || !evict_elsewhere(h)) {
			atomic_fetch_sub(&open_conns, 1);
			refuse(fd);
			return;
		}
	}
	struct hconn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev =
	    c ? bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	struct event *timer = bev ? evtimer_new(h->base, on_timer, c) : NULL;
	struct event *rev =
	    timer ? event_new(h->base, fd, EV_READ | EV_PERSIST, on_readable, c) : NULL;
	if (!rev) {
		if (timer)
			event_free(timer);
		if (bev)
			bufferevent_free(bev);
		else
			close(fd);
		free(c);
		atomic_fetch_sub(&open_conns, 1);
		return;
	}
	c->h = h;
	/* bufferevent_socket_new freezes the input's end for its own reads
	 * only; on_readable adds to it. */
	evbuffer_unfreeze(bufferevent_get_input(bev), 0);
	c->bev = bev;
	c->rev = rev;
	c->timer = timer;
	c->keep_alive = 1;
	const void *addr = sa->sa_family == AF_INET6
	                       ? (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr
	                       : (const void *)&((struct sockaddr_in *)sa)->sin_addr;
	if (!inet_ntop(sa->sa_family, addr, c->peer, sizeof(c->peer)))
		strcpy(c->peer, "-");
	LIST_INSERT_HEAD(&h->conns, c, link);
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	struct timeval wt = timeval_ms(lim.idle_ms);
	bufferevent_set_timeouts(bev, NULL, &wt);
	set_idle(c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct httpd *h = arg;
	if (h->listener && !h->stopping)
		evconnlistener_enable(h->listener);
}

/* accept() failed for want of descriptors (or memory): close the longest
 * idle connection for the next one, or pause accepting for a moment; the
 * connections we have keep being served. Logged once a second at most. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct httpd *h = arg;
	int err = EVUTIL_SOCKET_ERROR();
	metrics_inc(M_HTTP_ACCEPT_ERRORS);
	struct hconn *old = TAILQ_FIRST(&h->idle);
	unsigned skipped;
	if (log_allowed(&accept_log_ms, &accept_skipped, &skipped))
		log_warn("accept: %s: %s (%u more in the last second)", strerror(err),
		         old ? "closing the longest idle connection"
		             : "pausing new connections for a moment",
		         skipped);
	if ((err == EMFILE || err == ENFILE) && evict_one(h))
		return;
	evconnlistener_disable(l);
	struct timeval tv = timeval_ms(ACCEPT_PAUSE_MS);
	evtimer_add(h->resume, &tv);
}

struct httpd *httpd_new(struct event_base *base, struct ctx *cx, evutil_socket_t fd,
                        void (*on_request)(struct req *r))
{
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		return NULL;
	}
	h->cx = cx;
	h->base = base;
	h->on_request = on_request;
	TAILQ_INIT(&h->idle);
	TAILQ_INIT(&h->heads);
	LIST_INIT(&h->conns);
	h->resume = evtimer_new(h->base, on_resume, h);
	h->evict = event_new(h->base, -1, 0, on_evict, h);
	h->listener = h->resume && h->evict && nall < MAX_HTTPDS
	                  ? evconnlistener_new(h->base, on_accept, h,
	                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)
	                  : NULL;
	if (!h->listener) {
		close(fd);
		httpd_free(h);
		return NULL;
	}
	evconnlistener_set_error_cb(h->listener, on_accept_error);
	pthread_mutex_lock(&all_lock);
	all[nall++] = h;
	pthread_mutex_unlock(&all_lock);
	return h;
}

void httpd_stop(struct httpd *h)
{
	h->stopping = 1;
	if (h->listener)
		evconnlistener_free(h->listener);
	h->listener = NULL;
	struct hconn *c = LIST_FIRST(&h->conns);
	while (c) {
		struct hconn *next = LIST_NEXT(c, link);
		if (c->state == C_IDLE || c->state == C_HEAD || c->state == C_LINGER)
			conn_free(c);
		c = next;
	}
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&all_lock);
	for (int i = 0; i < nall; i++)
		if (all[i] == h)
			all[i] = all[--nall];
	pthread_mutex_unlock(&all_lock);
	if (h->listener)
		evconnlistener_free(h->listener);
	struct hconn *c;
	while ((c = LIST_FIRST(&h->conns))) {
		c->answer_pending = 0; /* the loop is over: nobody waits for it */
		conn_free(c);
	}
	if (h->resume)
		event_free(h->resume);
	if (h->evict)
		event_free(h->evict);
	free(h);
}
