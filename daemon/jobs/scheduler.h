/* scheduler.h - the reminder scheduler and webhook sender thread: its own
 * event loop, database pool, LISTEN connection and libcurl multi handle. */
#ifndef LIAISON_SCHEDULER_H
#define LIAISON_SCHEDULER_H

#include "macros.h"

#include <stdint.h>

struct config;
struct scheduler;

/* Starts the thread. cfg must outlive it (only settings a reload cannot
 * change are read). */
struct scheduler *scheduler_start(const struct config *cfg) WUR;
/* Stops claiming, lets attempts in flight finish (up to timeout_ms), joins. */
void scheduler_stop(struct scheduler *sc, int64_t timeout_ms);
/* Whether its loop ran within the last limit_ms (for the watchdog). */
int scheduler_alive(const struct scheduler *sc, int64_t limit_ms);

#endif
