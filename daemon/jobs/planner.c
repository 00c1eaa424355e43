/* planner.c - reminders: the fire times of queued events are planned
 * (common/remind.c through core/remind_row.c) PLAN_BATCH at a time into
 * the reminders table, one statement per batch; an event that cannot be
 * planned is parked and tried again later; open-ended series are planned further every hour;
 * due reminders become messages in the statement that marks them sent. */
#include "clock.h"
#include "config.h"
#include "core/metrics.h"
#include "core/remind_row.h"
#include "dbpool.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_BATCH 1000
/* Fire times per SCHED_PLAN_WRITE: a batch of long series is cut into
 * several statements, whose arrays stay a few megabytes at most. */
#define PLAN_WRITE_FIRES 20000
#define PLAN_SLICE_MS    50
/* Reminders made messages per statement: the first arrive sooner with
 * smaller batches, and two statements in flight use both cores. */
#define FIRE_BATCH      500
#define PLAN_HORIZON_S  (400LL * 86400)
#define EXTEND_EVERY_MS (3600LL * 1000)

/* A batch of plans on its way into one SCHED_PLAN_WRITE: PostgreSQL
 * array literals built as the plans are walked. */
struct planwrite {
	struct scheduler *sc;
	struct evbuffer *ev[5];   /* per event: id, version, ticket, cutoff, until */
	struct evbuffer *fire[7]; /* per fire time: event, start, end, start and end local,
	                             trigger, fire time */
	int nevents;
	int64_t nfires;
	const char *event; /* the event being walked (its id in the claimed rows) */
	int failed;
	char first[37];        /* the first event's id, for the log */
	char first_ticket[24]; /* and its queue ticket, to park a plan of it alone */
};

static void planwrite_free(struct planwrite *pw)
{
	if (!pw)
		return;
	for (int i = 0; i < 5; i++)
		if (pw->ev[i])
			evbuffer_free(pw->ev[i]);
	for (int i = 0; i < 7; i++)
		if (pw->fire[i])
			evbuffer_free(pw->fire[i]);
	free(pw);
}

static struct planwrite *planwrite_new(struct scheduler *sc)
{
	struct planwrite *pw = calloc(1, sizeof(*pw));
	if (!pw)
		return NULL;
	pw->sc = sc;
	int ok = 1;
	for (int i = 0; i < 5; i++)
		ok &= (pw->ev[i] = evbuffer_new()) != NULL;
	for (int i = 0; i < 7; i++)
		ok &= (pw->fire[i] = evbuffer_new()) != NULL;
	if (!ok) {
		planwrite_free(pw);
		return NULL;
	}
	return pw;
}

static int on_fire_time(const struct remind_fire *f, void *arg)
{
	struct planwrite *pw = arg;
	if (db_array_add(pw->fire[0], pw->event) ||
	    sched_array_add_int(pw->fire[1], f->occ_start) ||
	    sched_array_add_int(pw->fire[2], f->occ_end) ||
	    db_array_add(pw->fire[3], f->start_local) || db_array_add(pw->fire[4], f->end_local) ||
	    db_array_add(pw->fire[5], f->trigger) || sched_array_add_int(pw->fire[6], f->fire_at))
		pw->failed = 1;
	pw->nfires++;
	return 0;
}

static void park_event(struct scheduler *sc, const char *event, const char *ticket,
                       const char *why);

/* One write done (or refused): once the batch's are, the next step. */
static void plan_write_done(struct scheduler *sc)
{
	if (--sc->plan_writes == 0) {
		sc->plan_busy = 0;
		if (sc->plan_rows == PLAN_BATCH || sc->plan_again) {
			sc->plan_again = 0;
			plan_step(sc);
		}
		fire_step(sc);
		next_step(sc);
	}
	sched_op_done(sc);
}

static void on_plan_written(PGresult *res, void *arg)
{
	struct planwrite *pw = arg;
	struct scheduler *sc = pw->sc;
	int ok = sched_ok_rows(res, "writing reminder plans");
	/* Not for what passes (a deadlock, a timeout): parked, the plan of an
	 * event just changed would fire as it was for 30 s and more. */
	if (!ok && res && pw->nevents == 1 && !db_transient(res))
		park_event(sc, pw->first, pw->first_ticket, "its plan could not be written");
	if (!ok && pw->nevents > 1) {
		/* Nothing of the batch was written (one statement). Its events
		 * are planned again one statement each, so that one that cannot
		 * be written holds up no other. */
		log_warn("scheduler: a batch of %d reminder plans (from event %s) is written again "
		         "one by one",
		         pw->nevents, pw->first);
		sc->plan_single = 1;
		sc->plan_again = 1;
	}
	planwrite_free(pw);
	plan_write_done(sc);
}

static void planwrite_send(struct planwrite *pw)
{
	struct scheduler *sc = pw->sc;
	char *arrs[12] = {0};
	int ok = !pw->failed;
	for (int i = 0; ok && i < 5; i++)
		ok &= (arrs[i] = db_array_end(pw->ev[i])) != NULL;
	for (int i = 0; ok && i < 7; i++)
		ok &= (arrs[5 + i] = db_array_end(pw->fire[i])) != NULL;
	const char *p[12];
	for (int i = 0; i < 12; i++)
		p[i] = arrs[i];
	if (ok && sched_query(sc, SCHED_PLAN_WRITE, 12, p, on_plan_written, pw) == 0) {
		sc->plan_writes++;
		pw = NULL;
	} else {
		/* The rows stay queued: planned on the next round. */
		log_error("scheduler: cannot write %d reminder plans now", pw->nevents);
	}
	for (int i = 0; i < 12; i++)
		free(arrs[i]);
	planwrite_free(pw);
}

struct parked {
	struct scheduler *sc;
	char event[37];
	char why[200];
};

static void on_plan_parked(PGresult *res, void *arg)
{
	struct parked *pk = arg;
	struct scheduler *sc = pk->sc;
	metrics_inc(M_REMINDER_PLAN_FAILURES);
	/* Logged once, when first parked; the retries only count. */
	if (sched_ok_rows(res, "parking a reminder plan") && PQntuples(res) == 1 &&
	    !strcmp(PQgetvalue(res, 0, 0), "1")) {
		metrics_inc(M_REMINDER_PLANS_PARKED);
		log_warn("scheduler: cannot plan the reminders of event %s: %s; parked, tried "
		         "again after 30 s, then less and less often",
		         pk->event, pk->why);
	}
	free(pk);
	plan_write_done(sc);
}

/* An event that cannot be planned, or whose plan cannot be written,
 * leaves the head of the queue for a while (SCHED_PLAN_PARK): other events
 * are planned meanwhile, and its reminders are fired as planned before
 * (SCHED_REPLANNING holds only while it is due). */
static void park_event(struct scheduler *sc, const char *event, const char *ticket, const char *why)
{
	struct parked *pk = calloc(1, sizeof(*pk));
	if (!pk)
		return; /* the row stays due: tried again on the next round */
	pk->sc = sc;
	snprintf(pk->event, sizeof(pk->event), "%s", event);
	snprintf(pk->why, sizeof(pk->why), "%s", why);
	const char *p[] = {pk->event, ticket, pk->why};
	/* Counted first: a send that fails answers before it returns. */
	sc->plan_writes++;
	if (sched_query(sc, SCHED_PLAN_PARK, 3, p, on_plan_parked, pk) != 0) {
		sc->plan_writes--;
		free(pk);
	}
}

static void park_plan(struct scheduler *sc, PGresult *res, int row, const char *why)
{
	park_event(sc, PQgetvalue(res, row, P_ID), PQgetvalue(res, row, P_TICKET), why);
}

/* Keeps the first keep bytes of *b (libevent cuts only at the front). */
static int buf_cut(struct evbuffer **b, size_t keep)
{
	if (evbuffer_get_length(*b) == keep)
		return 0;
	struct evbuffer *n = evbuffer_new();
	if (!n || (keep && evbuffer_remove_buffer(*b, n, keep) != (int)keep)) {
		if (n)
			evbuffer_free(n);
		return -1;
	}
	evbuffer_free(*b);
	*b = n;
	return 0;
}

/* Adds the plan of the event in row to pw; 0 when added, 1 when parked
 * instead, -1 when out of memory (pw is then unusable). */
static int plan_add(struct planwrite *pw, PGresult *res, int row)
{
	char until[24];
	int64_t after = strtoll(PQgetvalue(res, row, P_AFTER), NULL, 10);
	int64_t horizon = strtoll(PQgetvalue(res, row, P_NOW), NULL, 10) + PLAN_HORIZON_S;
	const char *why = NULL;
	/* A plan that fails part way leaves fire times behind: they are cut
	 * off again below. */
	size_t mark[7];
	for (int i = 0; i < 7; i++)
		mark[i] = evbuffer_get_length(pw->fire[i]);
	int64_t nfires = pw->nfires;
	pw->event = PQgetvalue(res, row, P_ID);
	if (remind_plan_row(res, row, after, horizon, on_fire_time, pw, until, &why) != 0) {
		for (int i = 0; i < 7; i++)
			if (buf_cut(&pw->fire[i], mark[i]) != 0)
				pw->failed = 1;
		pw->nfires = nfires;
		park_plan(pw->sc, res, row, why);
		return pw->failed ? -1 : 1;
	}
	if (!pw->nevents) {
		snprintf(pw->first, sizeof(pw->first), "%s", pw->event);
		snprintf(pw->first_ticket, sizeof(pw->first_ticket), "%s",
		         PQgetvalue(res, row, P_TICKET));
	}
	if (db_array_add(pw->ev[0], pw->event) ||
	    db_array_add(pw->ev[1], PQgetvalue(res, row, P_VERSION)) ||
	    db_array_add(pw->ev[2], PQgetvalue(res, row, P_TICKET)) ||
	    db_array_add(pw->ev[3], PQgetvalue(res, row, P_CUTOFF)) ||
	    db_array_add(pw->ev[4], until[0] ? until : NULL))
		pw->failed = 1;
	pw->nevents++;
	return pw->failed ? -1 : 0;
}

static void on_plan_claimed(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->plan_rows = 0;
	/* A batch that failed is written one statement per event, once. */
	int single = sc->plan_single;
	sc->plan_single = 0;
	if (sched_ok_rows(res, "reading the reminder queue")) {
		sc->plan_rows = PQntuples(res);
		struct planwrite *pw = NULL;
		int64_t t0 = now_monotonic_ms();
		for (int i = 0; i < PQntuples(res); i++) {
			/* Walking plans holds the scheduler's loop (timers,
			 * deliveries): past PLAN_SLICE_MS the rest stays queued,
			 * taken by the next round once these are written. */
			if (i && now_monotonic_ms() - t0 > PLAN_SLICE_MS) {
				sc->plan_again = 1;
				break;
			}
			if (!pw && !(pw = planwrite_new(sc)))
				break; /* the rest stays queued */
			if (plan_add(pw, res, i) < 0) {
				planwrite_free(pw);
				pw = NULL;
				continue;
			}
			if (pw->nevents && (single || pw->nfires >= PLAN_WRITE_FIRES)) {
				planwrite_send(pw);
				pw = NULL;
			}
		}
		if (pw && pw->nevents)
			planwrite_send(pw);
		else
			planwrite_free(pw);
	}
	if (sc->plan_writes == 0) {
		sc->plan_busy = 0;
		/* A batch that planned nothing (every row failed) is not retried
		 * at once: the poll comes back to it. */
		fire_step(sc);
		next_step(sc);
	}
	sched_op_done(sc);
}

void plan_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->plan_busy) {
		sc->plan_again = 1;
		return;
	}
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", PLAN_BATCH);
	const char *p[] = {batch};
	if (sched_query(sc, SCHED_PLAN_CLAIM, 1, p, on_plan_claimed, sc) == 0)
		sc->plan_busy = 1;
}

static void on_extended(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("scheduler: extending plans failed: %s", PQresultErrorMessage(res));
	else if (res && strcmp(PQcmdTuples(res), "0") != 0)
		plan_step(sc);
	sched_op_done(sc);
}

void plan_extend(struct scheduler *sc)
{
	int64_t now = now_monotonic_ms();
	if (now - sc->last_extend_ms < EXTEND_EVERY_MS)
		return;
	sc->last_extend_ms = now;
	if (sched_query(sc, SCHED_PLAN_EXTEND, 0, NULL, on_extended, sc) != 0)
		sc->last_extend_ms = 0;
}

/* ---- firing ----------------------------------------------------------------- */

static void on_fired(PGresult *res, void *arg)
{
	struct fire_call *call = arg;
	struct scheduler *sc = call->sc;
	call->busy = 0;
	sc->fire_busy--;
	if (sched_ok_rows(res, "firing reminders") && PQntuples(res) >= 1) {
		/* The messages claimed as written, then one row of counts. */
		int last = PQntuples(res) - 1;
		for (int i = 0; i < last; i++)
			held_start(sc, res, i);
		long fired = strtol(PQgetvalue(res, last, 12), NULL, 10);
		long missed = strtol(PQgetvalue(res, last, 13), NULL, 10);
		long msgs = strtol(PQgetvalue(res, last, 14), NULL, 10);
		metrics_add(M_REMINDERS_FIRED, (uint64_t)(fired - missed));
		metrics_add(M_REMINDERS_MISSED, (uint64_t)missed);
		if (missed)
			log_warn(
			    "scheduler: %ld reminders not sent: their occurrence had ended (%s)",
			    missed, PQgetvalue(res, last, 15));
		if (msgs)
			claim_step(sc);
		/* A full batch: more may be due, taken by two statements side by
		 * side (SKIP LOCKED keeps them apart). */
		if (fired == FIRE_BATCH || sc->fire_again) {
			sc->fire_again = 0;
			fire_step(sc);
			if (fired == FIRE_BATCH)
				fire_step(sc);
		}
	}
	/* A change heard while it ran: did it see it? (After a failure too:
	 * the commit may have landed.) */
	retake_step(sc);
	next_step(sc);
	sched_op_done(sc);
}

void fire_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->fire_busy >= FIRES_IN_FLIGHT) {
		sc->fire_again = 1;
		return;
	}
	char *slow = slow_endpoints(sc);
	if (!slow)
		return; /* out of memory: the poll fires again */
	/* What may be claimed as written: the statements in flight share
	 * what is left of HOLD_MAX. */
	int hold = (HOLD_MAX - sc->jobs) / FIRES_IN_FLIGHT;
	char batch[16], ahead[16], lease[24], most[16], check[16];
	snprintf(batch, sizeof(batch), "%d", FIRE_BATCH);
	snprintf(ahead, sizeof(ahead), "%d", FIRE_AHEAD_MS);
	snprintf(lease, sizeof(lease), "%lld",
	         (long long)(sc->cfg->webhook_timeout_ms + LEASE_MARGIN_MS));
	snprintf(most, sizeof(most), "%d", hold > 0 ? hold : 0);
	snprintf(check, sizeof(check), "%d", CLAIM_AHEAD_MS);
	const char *p[] = {batch, ahead, sc->instance, lease, most, slow, check};
	struct fire_call *call = sc->fires;
	while (call->busy) /* fire_busy < FIRES_IN_FLIGHT: one is free */
		call++;
	call->sc = sc;
	call->seq = ++sc->fires_sent;
	/* Marked first: a send that fails answers before it returns. */
	call->busy = 1;
	sc->fire_busy++;
	if (sched_query(sc, SCHED_FIRE, 7, p, on_fired, call) != 0) {
		call->busy = 0;
		sc->fire_busy--;
	}
	free(slow);
}
