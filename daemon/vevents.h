/* vevents.h - rendered VEVENTs kept across feeds and threads. A feed is
 * assembled from the texts of its events; an event is rendered (through
 * libical) only when it is new to the cache or its stamp changed, so a
 * change to one event costs one render, not one per event of every feed. */
#ifndef LIAISON_VEVENTS_H
#define LIAISON_VEVENTS_H

#include "compat.h"

/* A copy of id's text for stamp and alarms (free it), with the zone it
 * uses (or "") put in zone (65 bytes); NULL when it is not kept. */
char *vevents_get(const char *id, const char *stamp, int alarms, char *zone) WUR;
/* Keeps a copy of text (zone may be NULL). Safe from any thread. */
void vevents_put(const char *id, const char *stamp, int alarms, const char *text, const char *zone);
/* Drops everything (at exit). */
void vevents_clear(void);

#endif
