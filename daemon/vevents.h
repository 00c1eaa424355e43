/* vevents.h - rendered VEVENTs kept across feeds and threads. A feed is
 * assembled from the texts of its events; an event is rendered (through
 * libical) only when it is new to the cache or its stamp changed, so a
 * change to one event costs one render, not one per event of every feed. */
#ifndef LIAISON_VEVENTS_H
#define LIAISON_VEVENTS_H

#include "compat.h"

#include <event2/buffer.h>

/* If id's text for stamp and alarms is kept, appends it to out, puts the
 * zone it uses (or "") in zone (65 bytes) and returns 1; else 0. */
int vevents_get(const char *id, const char *stamp, int alarms, struct evbuffer *out, char *zone);
/* Keeps a copy of text (zone may be NULL). Safe from any thread. */
void vevents_put(const char *id, const char *stamp, int alarms, const char *text, const char *zone);
/* Drops everything (at exit). */
void vevents_clear(void);

#endif
