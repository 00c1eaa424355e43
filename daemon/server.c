/* server.c - threads and lifecycle of `liaisond serve`.
 *
 * The main thread owns signals, systemd notifications, the watchdog and
 * the LISTEN connection; each worker thread owns an event loop, an evhttp,
 * a SO_REUSEPORT listener and a database pool, and a request never leaves
 * its worker. The main thread reaches a worker only by event_active() on
 * an event that worker owns (safe after evthread_use_pthreads()). */
#include "server.h"

#include "api/feed_cache.h"
#include "api/feed_fetches.h"
#include "api/feed_page.h"
#include "api/feed_state.h"
#include "api/routes.h"
#include "clock.h"
#include "config.h"
#include "core/changes.h"
#include "core/rowcache.h"
#include "core/heap.h"
#include "core/metrics.h"
#include "core/vevents.h"
#include "dblisten.h"
#include "dbpool.h"
#include "http/auth.h"
#include "http/context.h"
#include "http/httpd.h"
#include "http/pipeline.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "jobs/scheduler.h"
#include "log.h"
#include "macros.h"
#include "readfloor.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define HEARTBEAT_MS   500
#define LISTEN_BACKLOG 1024
#define SETTLE_TICK_MS 5 /* a stopping worker looks whether its pools are idle */

/* One HTTP worker thread: its loop, its server, and the context its
 * requests see (http/context.h). */
struct worker {
	int index;
	pthread_t thread;
	struct server *srv;
	struct event_base *base;
	struct httpd *httpd;   /* HTTP/1.1 on its listener (http/httpd.c) */
	struct ctx cx;         /* its pool and caches, for its requests */
	struct event *stop_ev; /* activated from the main thread */
	struct event *drain_timer;
	struct event *heartbeat;
	struct event *floor_tick; /* worker 0 with a standby: readfloor_refresh */
	_Atomic int64_t last_beat_ms;
	int64_t settle_by_ms; /* monotonic: when a stop gives up on what runs on */
	int running;          /* its thread was started: join it at the end */
};

struct server {
	const struct config *cfg;
	struct worker *workers;
	int nworkers;
	struct scheduler *scheduler; /* reminders and webhook deliveries */
	/* Bumped when API keys change anywhere: cached credentials older than
	 * this generation are looked up again. */
	_Atomic unsigned auth_generation;
	/* Bumped when events or feeds change anywhere: rendered feeds cached
	 * under an older generation are rendered again. */
	_Atomic unsigned data_generation;
	/* With a standby (read_database): when it may answer reads. */
	struct readfloor *floor;
	/* Reloadable settings that workers read: copied here, never read from
	 * the config that a SIGHUP rewrites. */
	_Atomic int64_t shutdown_timeout_ms;
};

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
	if (w->settle_by_ms) /* stopping already: stop_workers asks again */
		return;
	int64_t ms = atomic_load(&w->srv->shutdown_timeout_ms);
	w->settle_by_ms = now_monotonic_ms() + ms;
	if (w->httpd)
		httpd_stop(w->httpd);
	if (!w->httpd || httpd_inflight(w->httpd) == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	struct timeval tv = timeval_ms(ms);
	evtimer_add(w->drain_timer, &tv);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct worker *w = arg;
	log_warn("worker %d: %d requests still open at shutdown", w->index,
	         httpd_inflight(w->httpd));
	event_base_loopexit(w->base, NULL);
}

static void on_floor_tick(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct worker *w = arg;
	readfloor_refresh(w->cx.floor, w->cx.db);
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

static int worker_setup(struct worker *w)
{
	const struct config *cfg = w->srv->cfg;
	w->base = worker_base();
	w->cx.base = w->base;
	w->cx.worker = w->index;
	w->cx.cfg = cfg;
	w->cx.auth = authcache_new();
	w->cx.feeds = feedcache_new();
	w->cx.pages = pagecache_new();
	w->cx.rows = rowcache_new(cfg->row_cache_ttl_ms);
	w->cx.auth_generation = &w->srv->auth_generation;
	w->cx.data_generation = &w->srv->data_generation;
	w->stop_ev = w->base ? event_new(w->base, -1, 0, on_stop, w) : NULL;
	w->drain_timer = w->base ? evtimer_new(w->base, on_drain_timeout, w) : NULL;
	w->heartbeat = w->base ? event_new(w->base, -1, EV_PERSIST, on_heartbeat, w) : NULL;
	if (!w->base || !w->cx.auth || !w->cx.feeds || !w->cx.pages || !w->cx.rows || !w->stop_ev ||
	    !w->drain_timer || !w->heartbeat)
		return -1;
	struct dbpool_options opt = {.conninfo = cfg->database,
	                             .size = cfg->db_pool_size,
	                             .queue_max = cfg->db_queue_max,
	                             .query_timeout_ms = cfg->db_query_timeout_ms,
	                             .prepare = api_prepared_statements,
	                             .quick = api_quick_statements};
	w->cx.db = dbpool_new(w->base, &opt);
	if (!w->cx.db)
		return -1;
	metrics_pool(w->index, w->cx.db);
	if (!(w->cx.fetches = fetchlog_new(w->base, w->cx.db)))
		return -1;
	w->cx.db_read = w->cx.db;
	w->cx.floor = w->srv->floor;
	if (w->srv->floor) {
		struct dbpool_options ro = {.conninfo = cfg->read_database,
		                            .size = cfg->db_pool_size,
		                            .queue_max = cfg->db_queue_max,
		                            .query_timeout_ms = cfg->db_query_timeout_ms,
		                            .prepare = api_standby_statements,
		                            .primary = w->cx.db,
		                            .floor = readfloor_policy(w->srv->floor)};
		w->cx.db_read = dbpool_new(w->base, &ro);
		if (!w->cx.db_read)
			return -1;
		metrics_standby_pool(w->index, w->cx.db_read);
		/* One worker keeps the floor young for all, from the start. */
		struct timeval tick = timeval_ms(READFLOOR_REFRESH_MS);
		if (w->index == 0 &&
		    (!(w->floor_tick = event_new(w->base, -1, EV_PERSIST, on_floor_tick, w)) ||
		     event_add(w->floor_tick, &tick) != 0))
			return -1;
		if (w->floor_tick)
			event_active(w->floor_tick, 0, 0);
	}
	evutil_socket_t fd = bind_socket(cfg, 1);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", cfg->listen, strerror(errno));
		return -1;
	}
	w->httpd = httpd_new(w->base, &w->cx, fd, pipeline_request);
	if (!w->httpd)
		return -1;
	struct timeval beat = timeval_ms(HEARTBEAT_MS);
	atomic_store(&w->last_beat_ms, now_monotonic_ms());
	return event_add(w->heartbeat, &beat);
}

static void worker_teardown(struct worker *w)
{
	httpd_free(w->httpd);
	fetchlog_free(w->cx.fetches);
	if (w->cx.db_read != w->cx.db)
		dbpool_free(w->cx.db_read); /* first: it hands work to db */
	dbpool_free(w->cx.db);
	authcache_free(w->cx.auth);
	feedcache_free(w->cx.feeds);
	rowcache_free(w->cx.rows);
	pagecache_free(w->cx.pages);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->drain_timer)
		event_free(w->drain_timer);
	if (w->heartbeat)
		event_free(w->heartbeat);
	if (w->floor_tick)
		event_free(w->floor_tick);
	if (w->base)
		event_base_free(w->base);
}

static int worker_settled(const struct worker *w)
{
	return dbpool_idle(w->cx.db) && dbpool_idle(w->cx.db_read);
}

static void on_settle_tick(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct worker *w = arg;
	if (worker_settled(w) || now_monotonic_ms() >= w->settle_by_ms)
		event_base_loopexit(w->base, NULL);
}

/* After the last answer, the statements a request left running (a feed's
 * stored texts asked for beside its list, the VEVENTs it rendered, its
 * state) are let finish, within the stop's time: freeing the pools would
 * drop them, and with their callbacks what those free. */
static void worker_settle(struct worker *w)
{
	if (w->drain_timer) /* the requests are done: it would warn of none */
		evtimer_del(w->drain_timer);
	if (worker_settled(w))
		return;
	struct event *tick = event_new(w->base, -1, EV_PERSIST, on_settle_tick, w);
	struct timeval tv = timeval_ms(SETTLE_TICK_MS);
	if (tick && event_add(tick, &tv) == 0)
		event_base_dispatch(w->base);
	if (tick)
		event_free(tick);
	if (!worker_settled(w))
		log_warn("worker %d: statements still running at shutdown were dropped", w->index);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	heap_prefault((size_t)w->srv->cfg->render_memory / (size_t)w->srv->nworkers);
	event_base_dispatch(w->base);
	worker_settle(w);
	return NULL;
}

/* ---- main thread --------------------------------------------------------- */

struct mainloop {
	struct server *srv;
	struct event_base *base;
	struct config *cfg;
	const struct config_sources *src;
	uint64_t watchdog_usec;
	int stopping;
};

/* Reads the settings again from the sources start-up read them from
 * (config_load), applies those a reload may change, and names in one line
 * those that changed and need a restart. */
static void config_reload(struct mainloop *m)
{
	struct config fresh;
	config_init(&fresh);
	char err[CONFIG_ERR_LEN];
	if (config_load(&fresh, m->src, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running settings: %s", err);
		config_free(&fresh);
		return;
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
	log_info("SIGHUP: settings reloaded");
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
		config_reload(m);
		sd_notify(0, "READY=1");
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

/* The floor first: a worker that sees the new generation renders from a
 * standby only once it has replayed the change. A change of private
 * events names whose feeds it can reach (sql/020: "events:" and the
 * orgs); any other may reach every feed, as may anything after a
 * reconnect (payload NULL). */
static void on_data_changed(const char *payload, void *arg)
{
	struct server *srv = arg;
	static const char scoped[] = "events:";
	const char *reach =
	    payload && !strncmp(payload, scoped, strlen(scoped)) ? payload + strlen(scoped) : NULL;
	readfloor_changed(srv->floor);
	changes_bump(&srv->data_generation, reach);
}

static void on_keys_changed(const char *payload, void *arg)
{
	struct server *srv = arg;
	UNUSED(payload); /* NULL after a reconnect: also drop everything */
	readfloor_changed(srv->floor);
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

/* What /metrics reads besides counters: requests in flight over the
 * workers, the HTTP layer's connection and body gauges, and what the
 * rendered feeds kept hold. */
static int64_t gauge_inflight(void *arg)
{
	struct server *srv = arg;
	int64_t n = 0;
	for (int i = 0; i < srv->nworkers; i++)
		if (srv->workers[i].httpd)
			n += httpd_inflight(srv->workers[i].httpd);
	return n;
}

static int64_t gauge_connections(void *arg)
{
	UNUSED(arg);
	return httpd_open_connections();
}

static int64_t gauge_connections_max(void *arg)
{
	UNUSED(arg);
	return httpd_max_connections();
}

static int64_t gauge_body_bytes(void *arg)
{
	UNUSED(arg);
	return httpd_body_bytes();
}

static int64_t gauge_feed_bytes(void *arg)
{
	UNUSED(arg);
	return feed_cache_bytes();
}

static int64_t gauge_feed_files(void *arg)
{
	UNUSED(arg);
	return feed_cache_files();
}

/* The route table to the router, its labels to the metrics. */
static void wire_routes(struct server *srv)
{
	size_t n;
	const struct route *routes = api_routes(&n);
	router_set(routes, n);
	for (size_t i = 0; i < n; i++)
		metrics_route(i, routes[i].pattern, http_method_name(routes[i].method));
	metrics_feed_clients(fetch_client_names, FC_COUNT);
	metrics_gauge("liaison_http_requests_in_flight", gauge_inflight, srv);
	metrics_gauge("liaison_http_connections", gauge_connections, NULL);
	metrics_gauge("liaison_http_connections_max", gauge_connections_max, NULL);
	metrics_gauge("liaison_http_body_bytes", gauge_body_bytes, NULL);
	metrics_gauge("liaison_feed_cache_bytes", gauge_feed_bytes, NULL);
	metrics_gauge("liaison_feed_cache_files", gauge_feed_files, NULL);
}

int server_run(struct config *cfg, const struct config_sources *src, const char *db_identity)
{
	struct server srv = {.cfg = cfg};
	struct mainloop m = {.srv = &srv, .cfg = cfg, .src = src};
	struct event *evs[4] = {0};
	struct dblisten *listen = NULL;
	int rc = 1;
	char *state_stamp = NULL;
	struct feed_saver *saver = NULL;
	atomic_store(&srv.shutdown_timeout_ms, cfg->shutdown_timeout_ms);
	ratelimit_configure_burst(cfg->rate_limit, cfg->rate_limit_burst);
	authlimit_configure(cfg->auth_failure_limit, cfg->auth_failure_limit_burst);
	(void)vevents_renderer(); /* made once, here rather than in a first feed's time */
	srv.nworkers = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (srv.nworkers < 1)
		srv.nworkers = 1;
	httpd_configure(cfg, srv.nworkers);
	heap_configure();
	feed_cache_configure((size_t)cfg->feed_cache_memory, cfg->feed_file_dir);
	wire_routes(&srv);
	srv.workers = calloc((size_t)srv.nworkers, sizeof(struct worker));
	m.base = event_base_new();
	if (cfg->read_database && *cfg->read_database && !(srv.floor = readfloor_new()))
		goto out;
	if (!srv.workers || !m.base || !port_free(cfg))
		goto out;
	/* Read before any rendering, as of a generation before the first;
	 * once the port is known to be ours (the files are read once). */
	state_stamp = db_identity ? feed_state_stamp(db_identity) : NULL;
	feed_state_restore(cfg->feed_state_dir, state_stamp,
	                   atomic_load(&srv.data_generation) - 1u);
	saver = feed_state_saver_start(cfg->feed_state_dir, state_stamp, cfg->feed_state_every_ms);
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
	feed_state_saver_stop(saver);
	if (rc == 0)
		feed_state_save(cfg->feed_state_dir, state_stamp);
	free(state_stamp);
	vevents_clear();
	feed_cache_clear();
	dblisten_free(listen);
	for (size_t i = 0; i < 4; i++)
		if (evs[i])
			event_free(evs[i]);
	if (m.base)
		event_base_free(m.base);
	free(srv.workers);
	readfloor_free(srv.floor);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
