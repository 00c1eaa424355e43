/* scheduler.h - the reminder scheduler and webhook sender thread: its own
 * event loop, database pool, LISTEN connection and libcurl multi handle. */
#ifndef LIAISON_SCHEDULER_H
#define LIAISON_SCHEDULER_H

#include "macros.h"

#include <stdint.h>

#include "remind.h"

#include <libpq-fe.h>

struct config;
struct scheduler;

/* Starts the thread. cfg must outlive it (only settings a reload cannot
 * change are read). */
struct scheduler *scheduler_start(const struct config *cfg) WUR;
/* Stops claiming, lets attempts in flight finish (up to timeout_ms), joins. */
void scheduler_stop(struct scheduler *sc, int64_t timeout_ms);
/* Whether its loop ran within the last limit_ms (for the watchdog). */
int scheduler_alive(const struct scheduler *sc, int64_t limit_ms);

/* Calls cb for the fire times after `after` of occurrences before until,
 * of the event in row of a result shaped like SCHED_PLAN_CLAIM. until_text
 * gets where the plan stops ("" when it is complete). On failure (-1),
 * *why says what could not be planned. */
int scheduler_plan_row(PGresult *res, int row, int64_t after, int64_t until, remind_cb cb,
                       void *arg, char until_text[24], const char **why) WUR;

#endif
