/* follow.c - the follow-through of agreements (sql/017): every minute,
 * and soon after an agreement is written (NOTIFY liaison_agreements; at
 * most every FOLLOW_SOON_MS, so a burst of writes costs one pass), one
 * statement (SCHED_FOLLOW) finds the live agreements that are dormant or
 * expiring today, writes for each its notice once per dormancy and per
 * expiry date, with the agreement.dormant or agreement.expiring messages,
 * and counts them for /metrics. What was announced is the database's, so
 * a restart announces nothing again, and two instances announce each
 * thing once between them. */
#include "clock.h"
#include "core/metrics.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

#define FOLLOW_EVERY_MS 60000 /* dormancy and expiry move with the date */
#define FOLLOW_SOON_MS  2000  /* after a write, at the soonest */
#define FOLLOW_BATCH    500   /* notices a statement writes at most */

static void on_followed(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->follow_busy = 0;
	if (!res)
		sc->last_follow_ms = 0; /* the database is away: the next poll asks again */
	if (sched_ok_rows(res, "following agreements through") && PQntuples(res) == 1) {
		long dormant = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		long expiring = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		long notices = strtol(PQgetvalue(res, 0, 2), NULL, 10);
		long msgs = strtol(PQgetvalue(res, 0, 3), NULL, 10);
		metrics_agreements(dormant, expiring);
		metrics_add(M_AGREEMENT_NOTICES, (uint64_t)notices);
		if (notices)
			log_info("scheduler: %ld agreement notices written, %ld messages", notices,
			         msgs);
		if (msgs)
			claim_step(sc);
		if (notices >= FOLLOW_BATCH)
			follow_step(sc);
	}
	sched_op_done(sc);
}

void follow_step(struct scheduler *sc)
{
	if (sc->stopping || sc->follow_busy)
		return;
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", FOLLOW_BATCH);
	const char *p[] = {batch};
	sc->follow_due = 0;
	sc->last_follow_ms = now_monotonic_ms();
	if (sched_query(sc, SCHED_FOLLOW, 1, p, on_followed, sc) == 0)
		sc->follow_busy = 1;
	else
		sc->last_follow_ms = 0;
}

void follow_tick(struct scheduler *sc)
{
	int64_t since = now_monotonic_ms() - sc->last_follow_ms;
	if (!sc->last_follow_ms || since >= FOLLOW_EVERY_MS ||
	    (sc->follow_due && since >= FOLLOW_SOON_MS))
		follow_step(sc);
}
