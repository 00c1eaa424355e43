/* server.c - threads and lifecycle of `liaisond serve`.
 *
 * The main thread owns signals, systemd notifications, the watchdog and
 * the LISTEN connection; each worker thread owns an event loop, an evhttp,
 * a SO_REUSEPORT listener and a database pool, and a request never leaves
 * its worker. The main thread reaches a worker only by event_active() on
 * an event that worker owns (safe after evthread_use_pthreads()). */
#include "server.h"

#include "http/auth.h"
#include "api/feeds.h"
#include "config.h"
#include "dblisten.h"
#include "dbpool.h"
#include "api/events.h"
#include "core/heap.h"
#include "http/http.h"
#include "http/httpd.h"
#include "log.h"
#include "core/metrics.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "jobs/scheduler.h"
#include "core/vevents.h"
#include "clock.h"
#include "macros.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define HEARTBEAT_MS   500
#define LISTEN_BACKLOG 1024

/* ---- one request --------------------------------------------------------- */

static void run_handler(struct req *r)
{
	r->route->handler(r);
}

/* A body is read only once the route is known and its caller
 * authenticated: an unknown token is refused before a byte of it. Routes
 * of GET, HEAD and DELETE take none: one sent is read and dropped. */
static void with_body(struct req *r)
{
	enum evhttp_cmd_type m = r->route->method;
	httpd_read_body(r, m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PATCH || m == EVHTTP_REQ_PUT,
	                run_handler);
}

/* After authentication: the caller's rate limit, then the body. */
static void authenticated(struct req *r)
{
	int wait = ratelimit_take(r->who.key_id, now_monotonic_ms());
	if (wait > 0) {
		char secs[16];
		snprintf(secs, sizeof(secs), "%d", wait);
		metrics_inc(M_RATE_LIMITED);
		req_add_header(r, "Retry-After", secs);
		reply_problem(r, 429, "too many requests for this API key; slow down");
		return;
	}
	with_body(r);
}

static void dispatch(struct req *r)
{
	if (r->route->flags & ROUTE_AUTH)
		auth_then(r, authenticated);
	else
		with_body(r);
}

/* Before anything is read of it: 413 on the announced length. */
static int body_too_large(struct req *r)
{
	return r->content_length > r->w->srv->cfg->max_body;
}

/* A request whose head has arrived (httpd.c); nothing of its body is read. */
static void on_request(struct req *r)
{
	const char *rawpath = r->path;
	if (r->method == EVHTTP_REQ_OPTIONS && !strcmp(rawpath, "*")) {
		req_add_header(r, "Allow", "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
		reply_empty(r, 204);
		return;
	}
	if (!*rawpath || strlen(rawpath) > 2048 || strchr(rawpath, '#')) {
		reply_problem(r, 404, "no such resource");
		return;
	}
	if (r->rawquery && evhttp_parse_query_str(r->rawquery, &r->query) != 0) {
		reply_problem(r, 400, "malformed query string");
		return;
	}
	if (body_too_large(r)) {
		reply_problem(r, 413, "the request body is too large");
		return;
	}
	char allow[128];
	switch (router_match(r, r->path, &r->route, allow, sizeof(allow))) {
	case MATCH_OK: dispatch(r); return;
	case MATCH_NO_METHOD:
		req_add_header(r, "Allow", allow);
		if (r->method == EVHTTP_REQ_OPTIONS)
			reply_empty(r, 204);
		else
			reply_problem(r, 405, "this method is not allowed here");
		return;
	case MATCH_NO_PATH: reply_problem(r, 404, "no such resource"); return;
	}
}

void worker_request_done(struct worker *w)
{
	if (atomic_fetch_sub(&w->inflight, 1) == 1 && w->stopping)
		event_base_loopexit(w->base, NULL);
}

/* ---- worker thread ------------------------------------------------------- */

static evutil_socket_t bind_socket(const struct config *cfg, int reuseport)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0 || !ai)
		return -1;
	evutil_socket_t fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	     /* Inherited by accepted sockets: without it a reply written in two
	      * parts waits 40 ms for the client's delayed ACK. */
	     setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	     (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	     bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0)) {
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(ai);
	return fd;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct worker *w = arg;
	w->stopping = 1;
	if (w->httpd)
		httpd_stop(w->httpd);
	if (atomic_load(&w->inflight) == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	int64_t ms = atomic_load(&w->srv->shutdown_timeout_ms);
	struct timeval tv = timeval_ms(ms);
	evtimer_add(w->drain_timer, &tv);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct worker *w = arg;
	log_warn("worker %d: %d requests still open at shutdown", w->index,
	         atomic_load(&w->inflight));
	event_base_loopexit(w->base, NULL);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct worker *w = arg;
	atomic_store(&w->last_beat_ms, now_monotonic_ms());
}

/* A worker's loop. With epoll's changelist, the adds and deletes a request
 * makes to its connection's events within one loop turn (evhttp turns
 * reading off and writing on, then back) go to the kernel as at most one
 * epoll_ctl per descriptor, not one each. libevent's caveat, descriptors
 * cloned with dup(), does not apply: workers never dup one. */
static struct event_base *worker_base(void)
{
	struct event_config *ec = event_config_new();
	if (!ec)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	struct event_base *base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/* What every new connection prepares before it takes work (dbpool.h):
 * the statements of the hottest routes and of a feed's first render. */
static const char *const hot_statements[] = {auth_key_sql,     events_get_sql,    feeds_lookup_sql,
                                             vevents_load_sql, feeds_missing_sql, NULL};

/* Single rows by key, answered in well under a millisecond: under load,
 * work may be pipelined behind them (dbpool.c). */
static const char *const quick_statements[] = {auth_key_sql, events_get_sql, feeds_lookup_sql,
                                               NULL};

static int worker_setup(struct worker *w)
{
	const struct config *cfg = w->srv->cfg;
	w->base = worker_base();
	w->auth = authcache_new();
	w->feeds = feedcache_new();
	w->stop_ev = w->base ? event_new(w->base, -1, 0, on_stop, w) : NULL;
	w->drain_timer = w->base ? evtimer_new(w->base, on_drain_timeout, w) : NULL;
	w->heartbeat = w->base ? event_new(w->base, -1, EV_PERSIST, on_heartbeat, w) : NULL;
	if (!w->base || !w->auth || !w->feeds || !w->stop_ev || !w->drain_timer || !w->heartbeat)
		return -1;
	struct dbpool_options opt = {.conninfo = cfg->database,
	                             .size = cfg->db_pool_size,
	                             .queue_max = cfg->db_queue_max,
	                             .query_timeout_ms = cfg->db_query_timeout_ms,
	                             .prepare = hot_statements,
	                             .quick = quick_statements};
	w->db = dbpool_new(w->base, &opt);
	if (!w->db)
		return -1;
	evutil_socket_t fd = bind_socket(cfg, 1);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", cfg->listen, strerror(errno));
		return -1;
	}
	w->httpd = httpd_new(w, fd, on_request);
	if (!w->httpd)
		return -1;
	struct timeval beat = timeval_ms(HEARTBEAT_MS);
	atomic_store(&w->last_beat_ms, now_monotonic_ms());
	return event_add(w->heartbeat, &beat);
}

static void worker_teardown(struct worker *w)
{
	httpd_free(w->httpd);
	dbpool_free(w->db);
	authcache_free(w->auth);
	feedcache_free(w->feeds);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->drain_timer)
		event_free(w->drain_timer);
	if (w->heartbeat)
		event_free(w->heartbeat);
	if (w->base)
		event_base_free(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	heap_prefault((size_t)w->srv->cfg->render_memory / (size_t)w->srv->nworkers);
	event_base_dispatch(w->base);
	return NULL;
}

/* ---- main thread --------------------------------------------------------- */

struct mainloop {
	struct server *srv;
	struct event_base *base;
	struct config *cfg;
	const char *cfg_path;
	int nflags;
	char **flags;
	uint64_t watchdog_usec;
	int stopping;
};

static int config_reload(struct mainloop *m)
{
	struct config fresh;
	config_init(&fresh);
	char err[CONFIG_ERR_LEN];
	extern char **environ;
	int rc = (m->cfg_path && config_load_file(&fresh, m->cfg_path, err, sizeof(err))) ||
	         config_load_env(&fresh, environ, err, sizeof(err));
	for (int i = 0; !rc && i + 1 < m->nflags; i += 2)
		if (config_set(&fresh, m->flags[i], m->flags[i + 1], err, sizeof(err)))
			rc = -1;
	if (!rc && config_finish(&fresh) != 0) {
		snprintf(err, sizeof(err), "out of memory");
		rc = -1;
	}
	if (rc) {
		log_error("reload refused, keeping the running settings: %s", err);
		config_free(&fresh);
		return -1;
	}
	char fixed[1024];
	int nfixed = config_restart_list(m->cfg, &fresh, fixed, sizeof(fixed));
	if (nfixed)
		log_warn("reload: %s %s changed; %s effect after a restart",
		         nfixed > 1 ? "settings" : "setting", fixed,
		         nfixed > 1 ? "each takes" : "it takes");
	if (log_open(fresh.log_file) != 0)
		log_error("reload: cannot open log file %s", fresh.log_file);
	log_set_level(fresh.log_level);
	/* Only reloadable scalars are copied into the live settings that
	 * workers read; strings stay put, so no worker sees freed memory. */
	atomic_store(&m->srv->shutdown_timeout_ms, fresh.shutdown_timeout_ms);
	ratelimit_configure_burst(fresh.rate_limit, fresh.rate_limit_burst);
	authlimit_configure(fresh.auth_failure_limit, fresh.auth_failure_limit_burst);
	config_free(&fresh);
	return 0;
}

static void notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	           (unsigned long long)ts.tv_sec * 1000000ULL +
	               (unsigned long long)ts.tv_nsec / 1000);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	UNUSED(what);
	struct mainloop *m = arg;
	if (sig == SIGHUP) {
		notify_reloading();
		log_info("SIGHUP: reloading settings");
		int rc = config_reload(m);
		sd_notify(0, "READY=1");
		UNUSED(rc);
		return;
	}
	if (m->stopping)
		return;
	m->stopping = 1;
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sd_notify(0, "STOPPING=1");
	for (int i = 0; i < m->srv->nworkers; i++)
		event_active(m->srv->workers[i].stop_ev, 0, 0);
	event_base_loopexit(m->base, NULL);
}

/* WATCHDOG=1 only while every worker loop has beaten recently. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct mainloop *m = arg;
	int64_t now = now_monotonic_ms(), limit = (int64_t)(m->watchdog_usec / 1000);
	for (int i = 0; i < m->srv->nworkers; i++) {
		if (now - atomic_load(&m->srv->workers[i].last_beat_ms) > limit / 2) {
			log_error("worker %d has not run for %lld ms", i,
			          (long long)(now - atomic_load(&m->srv->workers[i].last_beat_ms)));
			return;
		}
	}
	if (!scheduler_alive(m->srv->scheduler, limit / 2)) {
		log_error("the scheduler has not run for %lld ms", (long long)(limit / 2));
		return;
	}
	sd_notify(0, "WATCHDOG=1");
}

static void on_data_changed(const char *payload, void *arg)
{
	struct server *srv = arg;
	UNUSED(payload); /* NULL after a reconnect: anything may have changed */
	atomic_fetch_add(&srv->data_generation, 1);
}

static void on_keys_changed(const char *payload, void *arg)
{
	struct server *srv = arg;
	UNUSED(payload); /* NULL after a reconnect: also drop everything */
	atomic_fetch_add(&srv->auth_generation, 1);
}

/* Fails early and clearly when another process holds the port: with
 * SO_REUSEPORT alone we would silently share it with that process. */
static int port_free(const struct config *cfg)
{
	evutil_socket_t fd = bind_socket(cfg, 0);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", cfg->listen, strerror(errno));
		return 0;
	}
	close(fd);
	return 1;
}

static int start_workers(struct server *srv)
{
	for (int i = 0; i < srv->nworkers; i++) {
		struct worker *w = &srv->workers[i];
		w->index = i;
		w->srv = srv;
		if (worker_setup(w) != 0)
			return -1;
	}
	for (int i = 0; i < srv->nworkers; i++) {
		if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]))
			return -1;
		srv->workers[i].running = 1;
	}
	return 0;
}

static void stop_workers(struct server *srv)
{
	for (int i = 0; i < srv->nworkers; i++) {
		struct worker *w = &srv->workers[i];
		if (w->running) {
			event_active(w->stop_ev, 0, 0);
			pthread_join(w->thread, NULL);
		}
		worker_teardown(w);
	}
}

static int main_events(struct mainloop *m, struct event **evs, size_t n)
{
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < 3 && i < n; i++) {
		evs[i] = evsignal_new(m->base, sigs[i], on_signal, m);
		if (!evs[i] || event_add(evs[i], NULL))
			return -1;
	}
	if (sd_watchdog_enabled(0, &m->watchdog_usec) > 0 && n > 3) {
		evs[3] = event_new(m->base, -1, EV_PERSIST, on_watchdog, m);
		struct timeval tv = timeval_ms((int64_t)(m->watchdog_usec / 2000));
		if (!evs[3] || event_add(evs[3], &tv))
			return -1;
	}
	return 0;
}

int server_run(struct config *cfg, const char *cfg_path, int nflags, char **flags)
{
	struct server srv = {.cfg = cfg, .started_ms = now_monotonic_ms()};
	struct mainloop m = {
	    .srv = &srv, .cfg = cfg, .cfg_path = cfg_path, .nflags = nflags, .flags = flags};
	struct event *evs[4] = {0};
	struct dblisten *listen = NULL;
	int rc = 1;
	atomic_store(&srv.shutdown_timeout_ms, cfg->shutdown_timeout_ms);
	ratelimit_configure_burst(cfg->rate_limit, cfg->rate_limit_burst);
	authlimit_configure(cfg->auth_failure_limit, cfg->auth_failure_limit_burst);
	(void)vevents_renderer(); /* made once, here rather than in a first feed's time */
	srv.nworkers = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (srv.nworkers < 1)
		srv.nworkers = 1;
	httpd_configure(cfg, srv.nworkers);
	heap_configure();
	srv.workers = calloc((size_t)srv.nworkers, sizeof(struct worker));
	m.base = event_base_new();
	if (!srv.workers || !m.base || !port_free(cfg))
		goto out;
	listen = dblisten_new(m.base, cfg->database);
	if (!listen || dblisten_on(listen, "liaison_keys", on_keys_changed, &srv) ||
	    dblisten_on(listen, "liaison_changes", on_data_changed, &srv) || dblisten_start(listen))
		goto out;
	if (main_events(&m, evs, 4) || start_workers(&srv)) {
		log_error("cannot start the workers");
		goto out;
	}
	srv.scheduler = scheduler_start(cfg);
	if (!srv.scheduler)
		goto out;
	log_info("liaisond %s listening on http://%s (%d threads)", LIAISON_VERSION, cfg->listen,
	         srv.nworkers);
	sd_notify(0, "READY=1");
	event_base_dispatch(m.base);
	rc = 0;
out:
	if (m.stopping == 0 && rc == 0)
		sd_notify(0, "STOPPING=1");
	if (srv.workers)
		stop_workers(&srv);
	scheduler_stop(srv.scheduler, atomic_load(&srv.shutdown_timeout_ms));
	vevents_clear();
	dblisten_free(listen);
	for (size_t i = 0; i < 4; i++)
		if (evs[i])
			event_free(evs[i]);
	if (m.base)
		event_base_free(m.base);
	free(srv.workers);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
