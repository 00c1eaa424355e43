/* overdue.c - the scheduler's step that finds visits' protocol tasks
 * (sql/016) still open after their deadline and writes visit.task_overdue
 * for their org's endpoints, once per deadline (SCHED_TASKS_OVERDUE). Run
 * by the one-second poll: a deadline is a day, so a second late is on
 * time. */
#include "core/metrics.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"

#include <stdio.h>
#include <stdlib.h>

#define OVERDUE_BATCH 500

static void on_overdue(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->overdue_busy = 0;
	if (sched_ok_rows(res, "telling overdue tasks") && PQntuples(res) == 1) {
		long marked = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		long msgs = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		metrics_add(M_TASKS_OVERDUE, (uint64_t)marked);
		if (msgs)
			claim_step(sc);
		if (marked == OVERDUE_BATCH)
			overdue_step(sc);
	}
	sched_op_done(sc);
}

void overdue_step(struct scheduler *sc)
{
	if (sc->stopping || sc->overdue_busy)
		return;
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", OVERDUE_BATCH);
	const char *p[] = {batch};
	if (sched_query(sc, SCHED_TASKS_OVERDUE, 1, p, on_overdue, sc) == 0)
		sc->overdue_busy = 1;
}
