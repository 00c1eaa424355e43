/* sender.c - webhook POSTs through libcurl's multi-socket API driven by a
 * libevent loop: curl tells us which sockets to watch (one EV_PERSIST event
 * each, kept with curl_multi_assign) and when to call it back (one timer).
 * No redirects are followed, only http(s) is spoken, the answer is cut at
 * SENDER_KEEP_BYTES, and every address dialled passes the private-address
 * guard unless the operator allows private targets. */
#include "jobs/sender.h"

#include "log.h"
#include "netguard.h"
#include "clock.h"
#include "macros.h"
#include "version.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct sender {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct sender_options opt;
	char *ca_file;
	struct transfer *all; /* every transfer in flight, for sender_free */
};

struct transfer {
	struct sender *s;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *resp;
	size_t resp_len;
	int64_t retry_after_ms;
	int blocked; /* the guard refused the address */
	int64_t started_ms;
	char errbuf[CURL_ERROR_SIZE];
	send_done_cb cb;
	void *arg;
	struct transfer *prev, *next;
};

static int sender_initialised;

/* ---- answers -------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;
	size_t room = SENDER_KEEP_BYTES - t->resp_len;
	size_t take = len < room ? len : room;
	if (take) {
		memcpy(t->resp + t->resp_len, data, take);
		t->resp_len += take;
		t->resp[t->resp_len] = '\0';
	}
	/* The rest is read and dropped: a 2xx with a huge body still counts,
	 * and the status line has decided the attempt already. */
	return len;
}

int64_t sender_retry_after_ms(const char *v)
{
	while (*v == ' ')
		v++;
	char *end;
	long long secs = strtoll(v, &end, 10);
	if (end != v && (*end == '\0' || *end == '\r' || *end == '\n' || *end == ' '))
		return secs < 0 ? 0 : secs > 86400 ? 86400000LL : secs * 1000LL;
	time_t when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	int64_t ms = (int64_t)when * 1000 - now_realtime_ms();
	return ms < 0 ? 0 : ms > 86400000LL ? 86400000LL : ms;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof(name) - 1 && len < 256 && !strncasecmp(data, name, sizeof(name) - 1)) {
		char v[256];
		memcpy(v, data + sizeof(name) - 1, len - (sizeof(name) - 1));
		v[len - (sizeof(name) - 1)] = '\0';
		t->retry_after_ms = sender_retry_after_ms(v);
	}
	return len;
}

/* The address about to be dialled: the place where DNS rebinding cannot
 * get past the guard. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer *t = arg;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!t->s->opt.allow_private && netguard_blocked(&a->addr)) {
		t->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void transfer_free(struct transfer *t)
{
	struct sender *s = t->s;
	if (t->prev)
		t->prev->next = t->next;
	else
		s->all = t->next;
	if (t->next)
		t->next->prev = t->prev;
	curl_multi_remove_handle(s->multi, t->easy);
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t->body);
	free(t->resp);
	free(t);
}

static void finish(struct transfer *t, CURLcode rc)
{
	struct send_result res = {.retry_after_ms = -1};
	res.duration_ms = now_monotonic_ms() - t->started_ms;
	res.response = t->resp;
	res.response_len = t->resp_len;
	if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &res.status);
	if (res.status == 429 || res.status == 503)
		res.retry_after_ms = t->retry_after_ms;
	if (rc != CURLE_OK) {
		if (t->blocked)
			snprintf(res.error, sizeof(res.error),
			         "refused: the address is private, loopback or link-local");
		else
			snprintf(res.error, sizeof(res.error), "%.100s%s%.150s",
			         curl_easy_strerror(rc), t->errbuf[0] ? ": " : "", t->errbuf);
	}
	t->cb(&res, t->arg);
	transfer_free(t);
}

static void drain_done(struct sender *s)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct transfer *t = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (t)
			finish(t, m->data.result);
	}
}

/* ---- curl on libevent ------------------------------------------------------ */

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;
	int flags =
	    (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(s->multi, fd, flags, &running);
	drain_done(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct sender *s = arg;
	int running;
	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain_done(s);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	UNUSED(easy);
	struct sender *s = arg;
	struct event *ev = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (ev) {
			event_free(ev);
			curl_multi_assign(s->multi, fd, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	             (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (ev) {
		event_del(ev);
		if (event_assign(ev, s->base, fd, kind, on_socket_event, s) != 0)
			return -1;
	} else {
		ev = event_new(s->base, fd, kind, on_socket_event, s);
		if (!ev)
			return -1;
		curl_multi_assign(s->multi, fd, ev);
	}
	return event_add(ev, NULL) == 0 ? 0 : -1;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	UNUSED(multi);
	struct sender *s = arg;
	if (timeout_ms < 0)
		return evtimer_del(s->timer) == 0 ? 0 : -1;
	/* 0 means "soon": never call back into curl from inside this callback. */
	struct timeval tv = timeval_ms(timeout_ms);
	return evtimer_add(s->timer, &tv) == 0 ? 0 : -1;
}

/* ---- the module ----------------------------------------------------------- */

struct sender *sender_new(struct event_base *base, const struct sender_options *opt)
{
	if (!sender_initialised) {
		/* Called from the main thread before any other thread starts. */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		sender_initialised = 1;
	}
	struct sender *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->opt = *opt;
	s->ca_file = opt->ca_file && *opt->ca_file ? strdup(opt->ca_file) : NULL;
	s->multi = curl_multi_init();
	s->timer = evtimer_new(base, on_timer, s);
	if (!s->multi || !s->timer || (opt->ca_file && *opt->ca_file && !s->ca_file) ||
	    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s) != CURLM_OK ||
	    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s) != CURLM_OK) {
		sender_free(s);
		return NULL;
	}
	s->opt.ca_file = s->ca_file;
	return s;
}

void sender_free(struct sender *s)
{
	if (!s)
		return;
	while (s->all)
		transfer_free(s->all);
	if (s->multi)
		curl_multi_cleanup(s->multi); /* may call the socket callback */
	if (s->timer)
		event_free(s->timer);
	free(s->ca_file);
	free(s);
}

static int add_header(struct transfer *t, const char *name, const char *value)
{
	char line[1024];
	if (snprintf(line, sizeof(line), "%s:%s%s", name, *value ? " " : "", value) >=
	    (int)sizeof(line))
		return -1;
	struct curl_slist *l = curl_slist_append(t->headers, line);
	if (!l)
		return -1;
	t->headers = l;
	return 0;
}

static int setup(struct transfer *t, const struct send_request *rq)
{
	const struct sender_options *o = &t->s->opt;
	char ts[24];
	snprintf(ts, sizeof(ts), "%lld", (long long)rq->timestamp);
	/* "Expect:" with no value stops curl from waiting for 100-continue. */
	if (add_header(t, "Content-Type", "application/json") ||
	    add_header(t, "User-Agent", "liaison/" LIAISON_VERSION " (webhooks)") ||
	    add_header(t, "webhook-id", rq->msg_id) || add_header(t, "webhook-timestamp", ts) ||
	    add_header(t, "webhook-signature", rq->signature) || add_header(t, "Expect", "") ||
	    add_header(t, "Accept", "*/*"))
		return -1;
	CURL *e = t->easy;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, rq->url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body) != CURLE_OK;
	bad |=
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	if (o->ca_file)
		bad |= curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, t) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t) != CURLE_OK;
	/* No proxy from the environment: the guard must see the real target. */
	bad |= curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK;
	return bad ? -1 : 0;
}

int sender_post(struct sender *s, const struct send_request *rq, send_done_cb cb, void *arg)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->s = s;
	t->cb = cb;
	t->arg = arg;
	t->retry_after_ms = -1;
	t->started_ms = now_monotonic_ms();
	t->easy = curl_easy_init();
	t->resp = malloc(SENDER_KEEP_BYTES + 1);
	t->body = malloc(rq->body_len + 1);
	if (!t->easy || !t->resp || !t->body) {
		curl_easy_cleanup(t->easy);
		free(t->resp);
		free(t->body);
		free(t);
		return -1;
	}
	t->resp[0] = '\0';
	memcpy(t->body, rq->body, rq->body_len);
	t->body[rq->body_len] = '\0';
	t->next = s->all;
	if (s->all)
		s->all->prev = t;
	s->all = t;
	if (setup(t, rq) != 0 || curl_multi_add_handle(s->multi, t->easy) != CURLM_OK) {
		transfer_free(t);
		return -1;
	}
	return 0;
}
