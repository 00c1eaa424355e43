/* metrics.c - Prometheus text exposition. Counters are global arrays of
 * relaxed atomics indexed by route: adding takes no lock, and the render reads a consistent-enough
 * snapshot. */
#include "core/metrics.h"

#include "dbpool.h"
#include "macros.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROUTES  128
#define ROUTE_SLOTS (MAX_ROUTES + 1) /* last slot: unmatched */

static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409,
                               412, 413, 414, 415, 422, 429, 431, 500, 501, 503};
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]) + 1) /* + other */

/* Upper bounds in microseconds. */
static const int64_t buckets_us[] = {500,   1000,   2500,   5000,   10000,   25000,
                                     50000, 100000, 250000, 500000, 1000000, 2500000};
#define N_BUCKETS (sizeof(buckets_us) / sizeof(buckets_us[0]))

static _Atomic uint64_t req_count[ROUTE_SLOTS][N_STATUS];
static _Atomic uint64_t lat_bucket[ROUTE_SLOTS][N_BUCKETS + 1];
static _Atomic uint64_t lat_sum_us[ROUTE_SLOTS];
static _Atomic uint64_t counters[M_COUNTER_COUNT];

static const char *const counter_names[M_COUNTER_COUNT] = {
    "liaison_auth_cache_hits_total",
    "liaison_auth_cache_misses_total",
    "liaison_auth_failures_total",
    "liaison_rate_limited_total",
    "liaison_reminders_fired_total",
    "liaison_reminders_missed_total",
    "liaison_webhook_attempts_total",
    "liaison_webhook_delivered_total",
    "liaison_webhook_failed_attempts_total",
    "liaison_webhook_endpoints_disabled_total",
    "liaison_feed_vevents_memory_total",
    "liaison_feed_vevents_stored_total",
    "liaison_feed_vevents_rendered_total",
    "liaison_auth_throttled_total",
    "liaison_http_connections_refused_total",
    "liaison_http_deadlines_total",
    "liaison_http_accept_errors_total",
    "liaison_http_bodies_refused_total",
    "liaison_reminder_plan_failures_total",
    "liaison_reminder_plans_parked_total",
    "liaison_webhook_messages_withheld_total",
    "liaison_agreement_notices_total",
    "liaison_visit_tasks_overdue_total",
    "liaison_feed_fetches_unrecorded_total",
    "liaison_feed_kept_through_changes_total",
    "liaison_feed_lists_spliced_total",
    "liaison_feed_lists_read_total",
    "liaison_row_cache_hits_total",
    "liaison_row_cache_misses_total"};

#define MAX_POOLS  256
#define MAX_GAUGES 16

static struct {
	const char *pattern, *method;
} route_labels[MAX_ROUTES];
static size_t nroute_labels;
static struct dbpool *pools[MAX_POOLS], *standby_pools[MAX_POOLS];
static int npools;
static struct {
	const char *name;
	int64_t (*read)(void *arg);
	void *arg;
} gauges[MAX_GAUGES];
static size_t ngauges;

void metrics_route(size_t i, const char *pattern, const char *method)
{
	if (i >= MAX_ROUTES)
		return;
	route_labels[i].pattern = pattern;
	route_labels[i].method = method;
	if (i >= nroute_labels)
		nroute_labels = i + 1;
}

void metrics_pool(int worker, struct dbpool *db)
{
	if (worker < 0 || worker >= MAX_POOLS)
		return;
	pools[worker] = db;
	if (worker >= npools)
		npools = worker + 1;
}

void metrics_standby_pool(int worker, struct dbpool *db)
{
	if (worker >= 0 && worker < MAX_POOLS)
		standby_pools[worker] = db;
}

void metrics_gauge(const char *name, int64_t (*read)(void *arg), void *arg)
{
	if (ngauges < MAX_GAUGES) {
		gauges[ngauges].name = name;
		gauges[ngauges].read = read;
		gauges[ngauges].arg = arg;
		ngauges++;
	}
}

static size_t status_slot(int status)
{
	for (size_t i = 0; i + 1 < N_STATUS; i++)
		if (statuses[i] == status)
			return i;
	return N_STATUS - 1;
}

void metrics_request(int route_index, int status, int64_t duration_us)
{
	size_t r = route_index >= 0 && route_index < MAX_ROUTES ? (size_t)route_index : MAX_ROUTES;
	atomic_fetch_add_explicit(&req_count[r][status_slot(status)], 1, memory_order_relaxed);
	size_t b = 0;
	while (b < N_BUCKETS && duration_us > buckets_us[b])
		b++;
	atomic_fetch_add_explicit(&lat_bucket[r][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_sum_us[r], (uint64_t)(duration_us > 0 ? duration_us : 0),
	                          memory_order_relaxed);
}

void metrics_add(enum metric_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void metrics_inc(enum metric_counter c)
{
	metrics_add(c, 1);
}

/* Feed sizes by feed id, for the feeds rendered here: a small table under
 * a lock (held far shorter than the rendering that reports). When full, a
 * new feed takes the smallest one's place: the large ones matter. */
#define FEED_SIZES 1024
static struct {
	char id[37];
	size_t bytes;
} feed_sizes[FEED_SIZES];
static int nfeed_sizes;
static pthread_mutex_t feed_sizes_lock = PTHREAD_MUTEX_INITIALIZER;

void metrics_feed_size(const char *feed_id, size_t bytes)
{
	pthread_mutex_lock(&feed_sizes_lock);
	int at = -1, smallest = 0;
	for (int i = 0; i < nfeed_sizes && at < 0; i++) {
		if (!strcmp(feed_sizes[i].id, feed_id))
			at = i;
		else if (feed_sizes[i].bytes < feed_sizes[smallest].bytes)
			smallest = i;
	}
	if (at < 0 && nfeed_sizes < FEED_SIZES)
		at = nfeed_sizes++;
	else if (at < 0 && feed_sizes[smallest].bytes < bytes)
		at = smallest;
	if (at >= 0) {
		snprintf(feed_sizes[at].id, sizeof(feed_sizes[at].id), "%s", feed_id);
		feed_sizes[at].bytes = bytes;
	}
	pthread_mutex_unlock(&feed_sizes_lock);
}

static int render_feed_sizes(struct evbuffer *out)
{
	int rc =
	    evbuffer_add_printf(out, "# HELP liaison_feed_size_bytes A feed's size as last "
	                             "rendered here (Google Calendar drops subscriptions over "
	                             "about 1 MB).\n# TYPE liaison_feed_size_bytes gauge\n") < 0;
	pthread_mutex_lock(&feed_sizes_lock);
	for (int i = 0; i < nfeed_sizes; i++)
		rc |= evbuffer_add_printf(out, "liaison_feed_size_bytes{feed=\"%s\"} %zu\n",
		                          feed_sizes[i].id, feed_sizes[i].bytes) < 0;
	pthread_mutex_unlock(&feed_sizes_lock);
	return rc;
}

#define FEED_CLIENTS 8
static const char *const *feed_client_names;
static size_t nfeed_clients;
static _Atomic uint64_t feed_fetches[FEED_CLIENTS];

void metrics_feed_clients(const char *const *names, size_t n)
{
	feed_client_names = names;
	nfeed_clients = n < FEED_CLIENTS ? n : FEED_CLIENTS;
}

void metrics_feed_fetch(size_t client)
{
	if (client < FEED_CLIENTS)
		atomic_fetch_add_explicit(&feed_fetches[client], 1, memory_order_relaxed);
}

static int render_feed_fetches(struct evbuffer *out)
{
	int rc =
	    evbuffer_add_printf(out, "# HELP liaison_feed_fetches_total Feeds answered, by the "
	                             "kind of client the User-Agent names.\n"
	                             "# TYPE liaison_feed_fetches_total counter\n") < 0;
	for (size_t i = 0; i < nfeed_clients; i++)
		rc |= evbuffer_add_printf(out, "liaison_feed_fetches_total{client=\"%s\"} %llu\n",
		                          feed_client_names[i],
		                          (unsigned long long)atomic_load_explicit(
		                              &feed_fetches[i], memory_order_relaxed)) < 0;
	return rc;
}

static const char *route_label(size_t n, size_t r)
{
	return r < n ? route_labels[r].pattern : "unmatched";
}

/* Routes are GET, POST, PATCH or DELETE; anything else is OTHER. */
static const char *method_label(size_t n, size_t r)
{
	if (r >= n)
		return "";
	const char *m = route_labels[r].method;
	return !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PATCH") ||
	               !strcmp(m, "DELETE")
	           ? m
	           : "OTHER";
}

static int render_requests(struct evbuffer *out, size_t n)
{
	int rc = 0;
	rc |=
	    evbuffer_add_printf(out, "# HELP liaison_http_requests_total HTTP requests answered.\n"
	                             "# TYPE liaison_http_requests_total counter\n") < 0;
	for (size_t r = 0; r < ROUTE_SLOTS; r++) {
		if (r >= n && r != MAX_ROUTES)
			continue;
		for (size_t s = 0; s < N_STATUS; s++) {
			uint64_t v = atomic_load_explicit(&req_count[r][s], memory_order_relaxed);
			if (!v)
				continue;
			rc |= evbuffer_add_printf(
			          out,
			          "liaison_http_requests_total{route=\"%s\",method=\"%s\",status="
			          "\"%s%d\"} "
			          "%llu\n",
			          route_label(n, r), method_label(n, r),
			          s + 1 == N_STATUS ? "other" : "",
			          s + 1 == N_STATUS ? 0 : statuses[s], (unsigned long long)v) < 0;
		}
	}
	return rc;
}

static int render_latency(struct evbuffer *out, size_t n)
{
	int rc = 0;
	rc |= evbuffer_add_printf(out,
	                          "# HELP liaison_http_request_duration_seconds Time to answer.\n"
	                          "# TYPE liaison_http_request_duration_seconds histogram\n") < 0;
	for (size_t r = 0; r < ROUTE_SLOTS; r++) {
		if (r >= n && r != MAX_ROUTES)
			continue;
		uint64_t total = 0;
		for (size_t b = 0; b <= N_BUCKETS; b++)
			total += atomic_load_explicit(&lat_bucket[r][b], memory_order_relaxed);
		if (!total)
			continue; /* routes never called: no series rather than zeros */
		uint64_t cum = 0;
		const char *lbl = route_label(n, r), *m = method_label(n, r);
		for (size_t b = 0; b <= N_BUCKETS; b++) {
			cum += atomic_load_explicit(&lat_bucket[r][b], memory_order_relaxed);
			if (b < N_BUCKETS)
				rc |=
				    evbuffer_add_printf(
				        out,
				        "liaison_http_request_duration_seconds_bucket{route=\"%s\","
				        "method=\"%s\",le=\"%g\"} %llu\n",
				        lbl, m, (double)buckets_us[b] / 1e6,
				        (unsigned long long)cum) < 0;
		}
		rc |= evbuffer_add_printf(
		          out,
		          "liaison_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
		          "le=\"+Inf\"} %llu\n"
		          "liaison_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} "
		          "%.6f\n"
		          "liaison_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} "
		          "%llu\n",
		          lbl, m, (unsigned long long)cum, lbl, m,
		          (double)atomic_load_explicit(&lat_sum_us[r], memory_order_relaxed) / 1e6,
		          lbl, m, (unsigned long long)cum) < 0;
	}
	return rc;
}

/* Where the reads given to the standby pools went. */
static int render_standby(struct evbuffer *out)
{
	static const struct {
		const char *name, *help;
	} g[] = {
	    {"liaison_db_standby_diverted_total",
	     "Reads sent to the primary at once: the standby had not replayed a change this "
	     "instance knows of, or was found behind a moment ago, or was down."},
	    {"liaison_db_standby_fallbacks_total",
	     "Reads the standby took but did not answer (behind, failed or gone): answered by "
	     "the primary."},
	    {"liaison_db_standby_behind_total",
	     "Of those, the reads its guard stopped: it had not replayed the floor."},
	};
	int rc = 0;
	for (size_t k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		int any = 0;
		for (int i = 0; i < npools; i++) {
			if (!standby_pools[i])
				continue;
			if (!any++)
				rc |= evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n",
				                          g[k].name, g[k].help, g[k].name) < 0;
			struct dbpool_stats st;
			dbpool_get_stats(standby_pools[i], &st);
			const uint64_t v[] = {st.diverted, st.fallbacks, st.behind};
			rc |= evbuffer_add_printf(out, "%s{worker=\"%d\"} %llu\n", g[k].name, i,
			                          (unsigned long long)v[k]) < 0;
		}
	}
	return rc;
}

static int render_pools(struct evbuffer *out)
{
	static const struct {
		const char *name, *type, *help;
	} g[] = {
	    {"liaison_db_pool_connections", "gauge", "Connections per worker pool."},
	    {"liaison_db_pool_connected", "gauge", "Connections up."},
	    {"liaison_db_pool_busy", "gauge", "Connections running a query."},
	    {"liaison_db_pool_queued", "gauge", "Queries waiting for a connection."},
	    {"liaison_db_connect_failures_total", "counter", "Failed connection attempts."},
	    {"liaison_db_queries_total", "counter", "Queries sent."},
	    {"liaison_db_refused_total", "counter",
	     "Queries refused (database down or queue full)."},
	    {"liaison_db_pipelined_total", "counter",
	     "Queries sent behind others in flight on a connection."},
	    {"liaison_db_grouped_total", "counter",
	     "Writes sent in one transaction with others (creates under load)."},
	    {"liaison_db_run_again_total", "counter",
	     "Grouped writes run again on their own after a statement of their group failed."},
	    {"liaison_db_query_timeouts_total", "counter",
	     "Queries past db_query_timeout (cancelled by the server, unanswered, or queued "
	     "too long): answered 503."},
	};
	int rc = 0;
	for (size_t k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		rc |= evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", g[k].name, g[k].help,
		                          g[k].name, g[k].type) < 0;
		for (int i = 0; i < 2 * npools; i++) {
			struct dbpool *p = i < npools ? pools[i] : standby_pools[i - npools];
			if (!p)
				continue;
			struct dbpool_stats st;
			dbpool_get_stats(p, &st);
			const uint64_t v[] = {(uint64_t)st.size,   (uint64_t)st.connected,
			                      (uint64_t)st.busy,   (uint64_t)st.queued,
			                      st.connect_failures, st.queries,
			                      st.refused,          st.pipelined,
			                      st.grouped,          st.run_again,
			                      st.timeouts};
			rc |= evbuffer_add_printf(out, "%s{worker=\"%d\"%s} %llu\n", g[k].name,
			                          i % npools,
			                          i < npools ? "" : ",database=\"standby\"",
			                          (unsigned long long)v[k]) < 0;
		}
	}
	rc |= render_standby(out);
	rc |= evbuffer_add_printf(out, "# HELP liaison_db_callback_max_seconds The longest work on "
	                               "one query's result held the worker's loop (a feed's "
	                               "rendering above all), since start.\n"
	                               "# TYPE liaison_db_callback_max_seconds gauge\n") < 0;
	for (int i = 0; i < npools; i++) {
		struct dbpool_stats st;
		if (!pools[i])
			continue;
		dbpool_get_stats(pools[i], &st);
		rc |= evbuffer_add_printf(out,
		                          "liaison_db_callback_max_seconds{worker=\"%d\"} %.6f\n",
		                          i, (double)st.callback_max_us / 1e6) < 0;
	}
	return rc;
}

/* -1 until the scheduler has counted. */
static _Atomic int64_t agreements_dormant = -1, agreements_expiring = -1;

void metrics_agreements(int64_t dormant, int64_t expiring)
{
	atomic_store_explicit(&agreements_dormant, dormant, memory_order_relaxed);
	atomic_store_explicit(&agreements_expiring, expiring, memory_order_relaxed);
}

static int render_agreements(struct evbuffer *out)
{
	int64_t dormant = atomic_load_explicit(&agreements_dormant, memory_order_relaxed);
	int64_t expiring = atomic_load_explicit(&agreements_expiring, memory_order_relaxed);
	if (dormant < 0)
		return 0;
	return evbuffer_add_printf(out,
	                           "# HELP liaison_agreements_dormant Live agreements with no "
	                           "activity for their dormant_after_days.\n"
	                           "# TYPE liaison_agreements_dormant gauge\n"
	                           "liaison_agreements_dormant %lld\n"
	                           "# HELP liaison_agreements_expiring Live agreements within "
	                           "their expiring_notice_days of expiry.\n"
	                           "# TYPE liaison_agreements_expiring gauge\n"
	                           "liaison_agreements_expiring %lld\n",
	                           (long long)dormant, (long long)expiring) < 0;
}

int metrics_render(struct evbuffer *out)
{
	size_t n = nroute_labels;
	int rc = render_requests(out, n) | render_latency(out, n) | render_pools(out) |
	         render_feed_sizes(out) | render_feed_fetches(out) | render_agreements(out);
	for (int c = 0; c < M_COUNTER_COUNT; c++)
		rc |= evbuffer_add_printf(out, "# TYPE %s counter\n%s %llu\n", counter_names[c],
		                          counter_names[c],
		                          (unsigned long long)atomic_load(&counters[c])) < 0;
	for (size_t g = 0; g < ngauges; g++)
		rc |= evbuffer_add_printf(out, "# TYPE %s gauge\n%s %lld\n", gauges[g].name,
		                          gauges[g].name,
		                          (long long)gauges[g].read(gauges[g].arg)) < 0;
	return rc ? -1 : 0;
}
