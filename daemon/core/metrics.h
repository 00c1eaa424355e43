/* metrics.h - Prometheus counters: requests by route and status, a
 * latency histogram per route, database pool gauges. Lock-free: every
 * thread adds with relaxed atomics, /metrics reads them. A leaf: modules
 * report into it, and the composition root tells it, once before the
 * threads start, the routes' names, the pools and the gauges to read. */
#ifndef LIAISON_METRICS_H
#define LIAISON_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct dbpool;
struct evbuffer;

/* The labels of route i (its pattern and method), i < 128. */
void metrics_route(size_t i, const char *pattern, const char *method);
/* A worker's pool, by the worker's index (at most 256). */
void metrics_pool(int worker, struct dbpool *db);
/* A worker's standby pool (read_database): the same figures, labelled
 * database="standby", and where its reads went. */
void metrics_standby_pool(int worker, struct dbpool *db);
/* A gauge read when /metrics renders (at most 16), in the order given. */
void metrics_gauge(const char *name, int64_t (*read)(void *arg), void *arg);
/* route_index: position in the route table, or -1 for unmatched paths. */
void metrics_request(int route_index, int status, int64_t duration_us);
/* Renders the exposition text into out. */
int metrics_render(struct evbuffer *out);
/* Named counters other subsystems bump (e.g. "auth_cache_hits"). */
enum metric_counter {
	M_AUTH_CACHE_HIT,
	M_AUTH_CACHE_MISS,
	M_AUTH_FAILED,
	M_RATE_LIMITED,
	M_REMINDERS_FIRED,
	M_REMINDERS_MISSED,
	M_WEBHOOK_ATTEMPTS,
	M_WEBHOOK_DELIVERED,
	M_WEBHOOK_FAILED_ATTEMPTS,
	M_WEBHOOK_ENDPOINTS_DISABLED,
	M_FEED_VEVENTS_MEMORY,     /* VEVENTs a rendering found in memory */
	M_FEED_VEVENTS_STORED,     /* ... took from the database's stored texts */
	M_FEED_VEVENTS_RENDERED,   /* ... rendered through libical */
	M_AUTH_THROTTLED,          /* lookups refused: too many failures from an address */
	M_HTTP_CONN_REFUSED,       /* connections answered 503: max_connections */
	M_HTTP_DEADLINES,          /* requests cut off: header_timeout, body_timeout */
	M_HTTP_ACCEPT_ERRORS,      /* accept() failures (descriptors out) */
	M_HTTP_BODIES_REFUSED,     /* bodies refused: max_bodies_in_flight */
	M_REMINDER_PLAN_FAILURES,  /* plans that failed, retries included */
	M_REMINDER_PLANS_PARKED,   /* events whose plan failed a first time */
	M_WEBHOOK_WITHHELD,        /* messages cancelled at claim: no longer visible */
	M_AGREEMENT_NOTICES,       /* agreement.dormant and .expiring notices written */
	M_TASKS_OVERDUE,           /* visits' tasks found open past their deadline */
	M_FEED_FETCHES_UNRECORDED, /* feed fetches not written: table full, database away */
	M_FEED_KEPT_THROUGH,       /* renderings kept through changes that cannot reach them */
	M_FEED_LISTS_SPLICED,      /* feed lists made from the last one and what changed */
	M_FEED_LISTS_READ,         /* ... read in full */
	M_ROW_CACHE_HIT,           /* single rows answered from core/rowcache.c */
	M_ROW_CACHE_MISS,          /* ... read from the database */
	M_COUNTER_COUNT
};
void metrics_inc(enum metric_counter c);
void metrics_add(enum metric_counter c, uint64_t n);
/* The agreements dormant and expiring now, as this instance's scheduler
 * last counted them (liaison_agreements_dormant, _expiring: absent until
 * it has). */
void metrics_agreements(int64_t dormant, int64_t expiring);
/* The size of a feed as last rendered here (liaison_feed_size_bytes, by
 * feed id; Google Calendar drops subscriptions over about 1 MB). */
void metrics_feed_size(const char *feed_id, size_t bytes);
/* Feed fetches by kind of client (liaison_feed_fetches_total{client}):
 * the kinds' names, once before the threads start (at most 8), then a
 * fetch by kind i. */
void metrics_feed_clients(const char *const *names, size_t n);
void metrics_feed_fetch(size_t client);

#endif
