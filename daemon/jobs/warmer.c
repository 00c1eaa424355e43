/* warmer.c - renders, in the background, the stored VEVENTs that are
 * missing or out of date: after a start (an upgrade may have changed the
 * renderer), then every WARM_EVERY_MS (bulk loads, imports). A pass walks
 * the events a feed may show in id order, WARM_BATCH at a time, and stores
 * the plain flavour (feeds with alarms are fewer; they render theirs on
 * request). It runs on the scheduler's loop and pool; the texts go to the
 * database only, not to the shared memory cache, which a pass over a
 * large database would flush of what the feeds being served need. Several
 * instances may warm at once: the upsert makes that wasted work, never
 * wrong. Single changes are left to the feeds, which render what they
 * lack (the pass after a change is a full one, not worth it for one). */
#include "jobs/warmer.h"
#include "clock.h"

#include "log.h"
#include "macros.h"
#include "core/vevents.h"
#include "jobs/scheduler_sql.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARM_EVERY_MS (10 * 60 * 1000)
#define WARM_PAUSE_MS 5    /* between batches: the loop also sends webhooks */
#define WARM_RETRY_MS 5000 /* when the pool would not take the query */

struct warmer {
	struct event_base *base;
	struct dbpool *db;
	struct event *timer;
	int busy;       /* a batch is in flight */
	char after[37]; /* the pass goes on after this id; "" between passes */
};

static void warm_later(struct warmer *w, int ms)
{
	struct timeval tv = timeval_ms(ms);
	evtimer_add(w->timer, &tv);
}

static void on_batch(PGresult *res, void *arg)
{
	struct warmer *w = arg;
	w->busy = 0;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		/* The pass resumes at this batch on the next round, not at once:
		 * a failure that lasts (a statement timeout on a huge database)
		 * must not turn into a query every few seconds. */
		log_warn("rendering stored VEVENTs in the background failed: %s",
		         res ? PQresultErrorMessage(res) : "no connection");
		warm_later(w, WARM_EVERY_MS);
		return;
	}
	struct vevents_batch *store = NULL;
	int n = PQntuples(res);
	for (int k = 0; k < n; k++) {
		/* A row that does not render is passed over: the feed that shows
		 * the event reports it. */
		struct vtext *v = vevents_render(res, k, 0);
		if (v)
			vevents_batch_add(&store, PQgetvalue(res, k, 0), PQgetvalue(res, k, 1), 0,
			                  v);
		vtext_unref(v);
	}
	vevents_store(w->db, store);
	if (n == WARM_BATCH) {
		snprintf(w->after, sizeof(w->after), "%s", PQgetvalue(res, n - 1, 0));
		warm_later(w, WARM_PAUSE_MS);
	} else {
		w->after[0] = '\0';
		warm_later(w, WARM_EVERY_MS);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct warmer *w = arg;
	const char *renderer = vevents_renderer();
	if (w->busy || !renderer)
		return;
	const char *p[] = {w->after[0] ? w->after : "00000000-0000-0000-0000-000000000000",
	                   renderer};
	if (dbpool_query(w->db, SQL_WARM_BATCH, 2, p, on_batch, w) != 0) {
		warm_later(w, WARM_RETRY_MS);
		return;
	}
	w->busy = 1;
}

struct warmer *warmer_new(struct event_base *base, struct dbpool *db, int start_delay_ms)
{
	struct warmer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->base = base;
	w->db = db;
	w->timer = evtimer_new(base, on_timer, w);
	if (!w->timer) {
		free(w);
		return NULL;
	}
	warm_later(w, start_delay_ms);
	return w;
}

void warmer_free(struct warmer *w)
{
	if (!w)
		return;
	event_free(w->timer);
	free(w);
}
