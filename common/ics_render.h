/* ics_render.h - events as an RFC 5545 calendar (feeds). */
#ifndef LIAISON_ICS_RENDER_H
#define LIAISON_ICS_RENDER_H

#include <jansson.h>

/* events: an array of the API's event objects (plus "parent_uid" for
 * itinerary items). Reminders become VALARMs only when alarms is set.
 * Returns the text (free it), or NULL when out of memory. */
char *ics_render(const char *name, int alarms, json_t *events);

#endif
