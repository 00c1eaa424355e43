/* scheduler.c - the thread that turns events into reminders and messages
 * into signed POSTs: its loop, its pool, its LISTEN connection and the
 * sender. NOTIFY wakes it (liaison_reminders, liaison_messages,
 * liaison_retake); a timer set to the next due time keeps it punctual; a
 * one-second poll covers lost notifications and other instances' work.
 * The steps themselves are planner.c (reminders), overdue.c (tasks past
 * their deadline), delivery.c (messages), follow.c (dormant and expiring
 * agreements), retake.c (fires a change missed) and repair.c (old rows'
 * instants, once). Every state change is
 * one statement in PostgreSQL, so any instance may die at any point: at
 * worst a message is sent again with the same id. The loop also keeps the
 * stored VEVENTs current (warmer.c). */
#include "jobs/scheduler.h"

#include "clock.h"
#include "config.h"
#include "dblisten.h"
#include "dbpool.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "jobs/sender.h"
#include "jobs/warmer.h"
#include "log.h"
#include "macros.h"
#include "token.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS       1000
#define BEHIND_MS     250  /* wait when work is due but could not be taken */
#define WARM_START_MS 2000 /* the first background render pass, after start */

int sched_query(struct scheduler *sc, const char *sql, int n, const char *const *p, db_result_cb cb,
                void *arg)
{
	if (dbpool_query(sc->db, sql, n, p, cb, arg) != 0)
		return -1;
	sc->db_ops++;
	return 0;
}

int sched_ok_rows(PGresult *res, const char *what)
{
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		return 1;
	if (res)
		log_error("scheduler: %s failed: %s", what, PQresultErrorMessage(res));
	return 0;
}

/* After each statement: the loop ends once stopping and idle. */
void sched_op_done(struct scheduler *sc)
{
	sc->db_ops--;
	if (sc->stopping && sc->db_ops == 0 && sc->jobs == 0)
		event_base_loopexit(sc->base, NULL);
}

int sched_array_add_int(struct evbuffer *b, int64_t v)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", (long long)v);
	return db_array_add(b, text);
}

/* ---- timers ----------------------------------------------------------------- */

static void on_next_due(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->next_busy = 0;
	if (sched_ok_rows(res, "reading the next due time") && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0) && !sc->stopping) {
		int64_t wait = strtoll(PQgetvalue(res, 0, 0), NULL, 10) - now_realtime_ms();
		if (wait <= 0)
			wait = BEHIND_MS;
		if (wait < POLL_MS) {
			struct timeval tv = timeval_ms(wait);
			evtimer_add(sc->due_timer, &tv);
		}
	}
	sched_op_done(sc);
}

void next_step(struct scheduler *sc)
{
	if (sc->stopping || sc->next_busy)
		return;
	char fire[16], claim[16];
	snprintf(fire, sizeof(fire), "%d", FIRE_AHEAD_MS);
	snprintf(claim, sizeof(claim), "%d", CLAIM_AHEAD_MS);
	const char *p[] = {fire, claim};
	if (sched_query(sc, SCHED_NEXT_DUE, 2, p, on_next_due, sc) == 0)
		sc->next_busy = 1;
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	fire_step(sc);
	claim_step(sc);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	int64_t now = now_monotonic_ms();
	atomic_store(&sc->last_beat_ms, now);
	if (sc->stopping)
		return;
	plan_extend(sc);
	plan_step(sc);
	fire_step(sc);
	retake_step(sc);
	overdue_step(sc);
	repair_step(sc);
	claim_step(sc);
	follow_tick(sc);
}

static void on_notify_reminders(const char *payload, void *arg)
{
	UNUSED(payload);
	plan_step(arg);
}

static void on_notify_retake(const char *payload, void *arg)
{
	retake_heard(arg, payload);
}

static void on_notify_agreements(const char *payload, void *arg)
{
	UNUSED(payload);
	struct scheduler *sc = arg;
	sc->follow_due = 1; /* the poll runs it, at most every few seconds */
}

static void on_notify_messages(const char *payload, void *arg)
{
	struct scheduler *sc = arg;
	if (!payload) /* reconnected: anything may have been missed */
		plan_step(sc);
	claim_step(sc);
}

/* ---- the thread --------------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	sc->stopping = 1;
	held_release(sc);
	evtimer_del(sc->due_timer);
	event_del(sc->poll);
	if (sc->db_ops == 0 && sc->jobs == 0)
		event_base_loopexit(sc->base, NULL);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	if (sc->jobs)
		log_warn("scheduler: %d webhook attempts still open at shutdown; their leases "
		         "will expire and they will be sent again",
		         sc->jobs);
	event_base_loopexit(sc->base, NULL);
}

static void *scheduler_main(void *arg)
{
	struct scheduler *sc = arg;
	event_base_dispatch(sc->base);
	return NULL;
}

static int instance_id(char out[37])
{
	char hex[33];
	if (random_hex(hex, 16) != 0)
		return -1;
	snprintf(out, 37, "%.8s-%.4s-4%.3s-8%.3s-%.12s", hex, hex + 8, hex + 13, hex + 17,
	         hex + 20);
	return 0;
}

static void scheduler_free(struct scheduler *sc)
{
	sender_free(sc->sender); /* cancels transfers still open */
	while (sc->all_jobs)     /* theirs, and outcomes not recorded: leases run out */
		job_free(sc->all_jobs);
	lanes_sweep(sc, 1);
	dblisten_free(sc->listen);
	warmer_free(sc->warmer);
	dbpool_free(sc->db);
	struct event *evs[] = {sc->stop_ev, sc->poll, sc->due_timer, sc->drain_timer,
	                       sc->report_timer};
	for (size_t i = 0; i < ARRAY_LEN(evs); i++)
		if (evs[i])
			event_free(evs[i]);
	if (sc->base)
		event_base_free(sc->base);
	free(sc);
}

struct scheduler *scheduler_start(const struct config *cfg)
{
	struct scheduler *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->cfg = cfg;
	sc->base = event_base_new();
	if (!sc->base || instance_id(sc->instance) != 0)
		goto fail;
	struct dbpool_options opt = {.conninfo = cfg->database,
	                             .size = 6,
	                             .queue_max = 100000,
	                             .query_timeout_ms = cfg->db_query_timeout_ms,
	                             /* Compiling the batch statements' plans took
	                              * longer than running them. */
	                             .setup_sql = "SET jit = off"};
	struct sender_options so = {.timeout_ms = cfg->webhook_timeout_ms,
	                            .allow_private = cfg->webhook_allow_private,
	                            .ca_file = cfg->webhook_ca_file};
	sc->db = dbpool_new(sc->base, &opt);
	sc->sender = sender_new(sc->base, &so);
	sc->listen = dblisten_new(sc->base, cfg->database);
	sc->warmer = sc->db ? warmer_new(sc->base, sc->db, WARM_START_MS) : NULL;
	sc->stop_ev = event_new(sc->base, -1, 0, on_stop, sc);
	sc->poll = event_new(sc->base, -1, EV_PERSIST, on_poll, sc);
	sc->due_timer = evtimer_new(sc->base, on_due, sc);
	sc->drain_timer = evtimer_new(sc->base, on_drain_timeout, sc);
	if (!sc->db || !sc->sender || !sc->listen || !sc->warmer || !sc->stop_ev || !sc->poll ||
	    !sc->due_timer || !sc->drain_timer ||
	    dblisten_on(sc->listen, "liaison_reminders", on_notify_reminders, sc) ||
	    dblisten_on(sc->listen, "liaison_messages", on_notify_messages, sc) ||
	    dblisten_on(sc->listen, "liaison_agreements", on_notify_agreements, sc) ||
	    dblisten_on(sc->listen, "liaison_retake", on_notify_retake, sc) ||
	    dblisten_start(sc->listen))
		goto fail;
	struct timeval poll = timeval_ms(POLL_MS);
	struct timeval soon = timeval_ms(1);
	atomic_store(&sc->last_beat_ms, now_monotonic_ms());
	if (event_add(sc->poll, &poll) != 0 || evtimer_add(sc->due_timer, &soon) != 0)
		goto fail;
	if (pthread_create(&sc->thread, NULL, scheduler_main, sc) != 0)
		goto fail;
	sc->running = 1;
	return sc;
fail:
	log_error("cannot start the reminder scheduler");
	scheduler_free(sc);
	return NULL;
}

void scheduler_stop(struct scheduler *sc, int64_t timeout_ms)
{
	if (!sc)
		return;
	if (sc->running) {
		struct timeval tv = timeval_ms(timeout_ms);
		/* Both events belong to the scheduler's loop; adding a timer from
		 * here is safe after evthread_use_pthreads(). */
		evtimer_add(sc->drain_timer, &tv);
		event_active(sc->stop_ev, 0, 0);
		pthread_join(sc->thread, NULL);
	}
	scheduler_free(sc);
}

int scheduler_alive(const struct scheduler *sc, int64_t limit_ms)
{
	return !sc || now_monotonic_ms() - atomic_load(&sc->last_beat_ms) <= limit_ms;
}
