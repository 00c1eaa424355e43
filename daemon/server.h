/* server.h - the serving process: HTTP worker threads, each with its own
 * event loop, listener (SO_REUSEPORT) and database pool, and the main
 * thread that starts, reloads and stops them. */
#ifndef LIAISON_SERVER_H
#define LIAISON_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct config;
struct authcache;
struct feedcache;
struct scheduler;

struct worker {
	int index;
	pthread_t thread;
	struct server *srv;
	struct event_base *base;
	struct httpd *httpd; /* HTTP/1.1 on its listener (httpd.c) */
	struct dbpool *db;
	struct authcache *auth;
	struct feedcache *feeds;
	struct event *stop_ev; /* activated from the main thread */
	struct event *drain_timer;
	struct event *heartbeat;
	_Atomic int64_t last_beat_ms;
	_Atomic int inflight;
	int stopping;
	int running; /* its thread was started: join it at the end */
};

struct server {
	const struct config *cfg;
	char *public_url;
	struct worker *workers;
	int nworkers;
	struct scheduler *scheduler; /* reminders and webhook deliveries */
	/* Bumped when API keys change anywhere: cached credentials older than
	 * this generation are looked up again. */
	_Atomic unsigned auth_generation;
	/* Bumped when events or feeds change anywhere: rendered feeds cached
	 * under an older generation are rendered again. */
	_Atomic unsigned data_generation;
	/* Reloadable settings that workers read: copied here, never read from
	 * the config that a SIGHUP rewrites. */
	_Atomic int64_t shutdown_timeout_ms;
	int64_t started_ms;
};

/* Runs the server until SIGTERM/SIGINT. cfg_path and flags are kept for
 * SIGHUP reloads. Returns the process exit code. */
int server_run(struct config *cfg, const char *cfg_path, int nflags, char **flags);

/* Called by the HTTP layer when a request has been answered. */
void worker_request_done(struct worker *w);

#endif
