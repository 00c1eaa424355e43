/* ics_render.h - events as an RFC 5545 calendar (feeds). */
#ifndef LIAISON_ICS_RENDER_H
#define LIAISON_ICS_RENDER_H

#include "compat.h"

#include <jansson.h>
#include <stddef.h>

/* events: an array of the API's event objects (plus "parent_uid" for
 * itinerary items). Reminders become VALARMs only when alarms is set.
 * Returns the text (free it), or NULL when out of memory. */
char *ics_render(const char *name, int alarms, json_t *events);

/* The parts, for callers that keep rendered events: one VEVENT's text
 * (NULL if the event is unusable; *zone_out gets the TZID it uses, or
 * NULL), and the calendar's head with a VTIMEZONE for each of zones
 * (sorted by the caller), to which the VEVENTs and ICS_TAIL are added. */
#define ICS_TAIL "END:VCALENDAR\r\n"
char *ics_render_vevent(json_t *ev, int alarms, const char **zone_out);
char *ics_render_head(const char *name, const char *const *zones, size_t nz);
/* A fingerprint of what the renderer makes of sample events (16 hex
 * digits): it changes whenever a change of this code or of libical changes
 * the output, so stored renderings of an older renderer are not used. */
#define ICS_FINGERPRINT_LEN 16
int ics_render_fingerprint(char out[ICS_FINGERPRINT_LEN + 1]) WUR;
/* strcmp for qsort of zone names. */
int ics_zone_cmp(const void *a, const void *b);

#endif
