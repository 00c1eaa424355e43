/* planner.c - reminders: the fire times of queued events are planned
 * (common/remind.c through core/remind_row.c) PLAN_BATCH at a time into
 * the reminders table; an event that cannot be planned is parked and
 * tried again later; open-ended series are planned further every hour;
 * due reminders become messages in the statement that marks them sent. */
#include "clock.h"
#include "core/metrics.h"
#include "core/remind_row.h"
#include "dbpool.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_BATCH      64
#define FIRE_BATCH      1000
#define PLAN_HORIZON_S  (400LL * 86400)
#define EXTEND_EVERY_MS (3600LL * 1000)

/* PostgreSQL array literals, built as the plan is walked. */
struct planarrays {
	struct evbuffer *a[6]; /* occurrence start, end, start local, end local, trigger, fire */
	int failed;
};

static int on_fire_time(const struct remind_fire *f, void *arg)
{
	struct planarrays *pa = arg;
	if (sched_array_add_int(pa->a[0], f->occ_start) ||
	    sched_array_add_int(pa->a[1], f->occ_end) || db_array_add(pa->a[2], f->start_local) ||
	    db_array_add(pa->a[3], f->end_local) || db_array_add(pa->a[4], f->trigger) ||
	    sched_array_add_int(pa->a[5], f->fire_at))
		pa->failed = 1;
	return 0;
}

/* One plan written or parked: once the batch is done, the next step. */
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
	struct scheduler *sc = arg;
	sched_ok_rows(res, "writing a reminder plan");
	plan_write_done(sc);
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

/* A row that cannot be planned leaves the head of the queue for a while
 * (SCHED_PLAN_PARK): other events are planned meanwhile. */
static void park_plan(struct scheduler *sc, PGresult *res, int row, const char *why)
{
	struct parked *pk = calloc(1, sizeof(*pk));
	if (!pk)
		return; /* the row stays due: tried again on the next round */
	pk->sc = sc;
	snprintf(pk->event, sizeof(pk->event), "%s", PQgetvalue(res, row, P_ID));
	snprintf(pk->why, sizeof(pk->why), "%s", why);
	const char *p[] = {PQgetvalue(res, row, P_ID), PQgetvalue(res, row, P_TICKET), pk->why};
	if (sched_query(sc, SCHED_PLAN_PARK, 3, p, on_plan_parked, pk) == 0)
		sc->plan_writes++;
	else
		free(pk);
}

static void write_plan(struct scheduler *sc, PGresult *res, int row)
{
	struct planarrays pa = {0};
	char until[24];
	char *arrs[6] = {0};
	int ok = 1;
	for (int i = 0; i < 6; i++)
		ok &= (pa.a[i] = evbuffer_new()) != NULL;
	int64_t after = strtoll(PQgetvalue(res, row, P_AFTER), NULL, 10);
	int64_t horizon = strtoll(PQgetvalue(res, row, P_NOW), NULL, 10) + PLAN_HORIZON_S;
	const char *why = NULL;
	if (ok && remind_plan_row(res, row, after, horizon, on_fire_time, &pa, until, &why) != 0) {
		park_plan(sc, res, row, why);
		ok = 0;
	}
	ok &= !pa.failed;
	for (int i = 0; ok && i < 6; i++)
		ok &= (arrs[i] = db_array_end(pa.a[i])) != NULL;
	if (ok) {
		const char *p[] = {PQgetvalue(res, row, P_ID),
		                   PQgetvalue(res, row, P_VERSION),
		                   PQgetvalue(res, row, P_TICKET),
		                   arrs[0],
		                   arrs[1],
		                   arrs[2],
		                   arrs[3],
		                   arrs[4],
		                   arrs[5],
		                   PQgetvalue(res, row, P_CUTOFF),
		                   until[0] ? until : NULL};
		if (sched_query(sc, SCHED_PLAN_WRITE, 11, p, on_plan_written, sc) == 0)
			sc->plan_writes++;
	}
	for (int i = 0; i < 6; i++) {
		free(arrs[i]);
		if (pa.a[i])
			evbuffer_free(pa.a[i]);
	}
}

static void on_plan_claimed(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->plan_rows = 0;
	if (sched_ok_rows(res, "reading the reminder queue")) {
		sc->plan_rows = PQntuples(res);
		for (int i = 0; i < PQntuples(res); i++)
			write_plan(sc, res, i);
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
	struct scheduler *sc = arg;
	sc->fire_busy = 0;
	if (sched_ok_rows(res, "firing reminders") && PQntuples(res) == 1) {
		long fired = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		long missed = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		long msgs = strtol(PQgetvalue(res, 0, 2), NULL, 10);
		metrics_add(M_REMINDERS_FIRED, (uint64_t)(fired - missed));
		metrics_add(M_REMINDERS_MISSED, (uint64_t)missed);
		if (missed)
			log_warn(
			    "scheduler: %ld reminders not sent: their occurrence had ended (%s)",
			    missed, PQgetvalue(res, 0, 3));
		if (msgs)
			claim_step(sc);
		if (fired == FIRE_BATCH || sc->fire_again) {
			sc->fire_again = 0;
			fire_step(sc);
		}
	}
	next_step(sc);
	sched_op_done(sc);
}

void fire_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->fire_busy) {
		sc->fire_again = 1;
		return;
	}
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", FIRE_BATCH);
	const char *p[] = {batch};
	if (sched_query(sc, SCHED_FIRE, 1, p, on_fired, sc) == 0)
		sc->fire_busy = 1;
}
