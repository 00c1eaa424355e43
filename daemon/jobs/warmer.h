/* warmer.h - keeps the stored VEVENTs (vevent_texts) current in the
 * background, so that a feed after a bulk load, an import or an upgrade is
 * assembled from stored texts instead of rendering every event on request. */
#ifndef LIAISON_WARMER_H
#define LIAISON_WARMER_H

#include "macros.h"

#include "dbpool.h"

#include <event2/event.h>

struct warmer;

/* A warmer on base (its loop's thread only) using db. Its first pass
 * starts after start_delay_ms. */
struct warmer *warmer_new(struct event_base *base, struct dbpool *db, int start_delay_ms) WUR;
/* Call with the loop stopped, before db is freed (which drops the answer
 * to a batch in flight without calling back). */
void warmer_free(struct warmer *w);

#endif
