/* ics_render.h - events as an RFC 5545 calendar (feeds). */
#ifndef LIAISON_ICS_RENDER_H
#define LIAISON_ICS_RENDER_H

#include "macros.h"

#include <jansson.h>
#include <libical/ical.h>
#include <stddef.h>

/* A calendar is rendered in parts, so that callers can keep rendered
 * events: one VEVENT's text from the API's event object (plus "parent_uid"
 * for itinerary items and "agreement" for an agreement's dates; reminders
 * become VALARMs only when alarms is set), NULL if the event is unusable,
 * with *zone_out set to the TZID it uses or NULL; and the calendar's head
 * with a VTIMEZONE for each of zones (sorted by the caller), to which the
 * VEVENTs and ICS_TAIL are added. Texts are to be freed. */
#define ICS_TAIL "END:VCALENDAR\r\n"
char *ics_render_vevent(json_t *ev, int alarms, const char **zone_out);
/* The same from the values the renderer reads of that object, for a
 * caller that has them without one (core/vevents.c, from rows): each
 * string as str() reads the object's (NULL when absent, null, not a
 * string or empty), lists of n strings (NULL for an element that is not
 * one), the agreement (NULL without one) with same_partners set when the
 * event's partners equal its parties (json_equal). */
struct ics_list {
	size_t n;
	const char *const *v;
};
struct ics_agreement {
	const char *title, *stage, *signed_on, *expires_on;
	struct ics_list parties, party_names;
	int same_partners;
};
struct ics_event {
	const char *uid, *timezone, *start, *end, *rrule, *series_id, *recurrence_id,
	    *series_timezone, *title, *description, *location, *url, *parent_uid, *org, *org_name,
	    *status, *kind, *created_at, *updated_at;
	int all_day;
	long long sequence; /* json_integer_value's */
	struct ics_list exdates, rdates, tags, reminders, partners, partner_names;
	const struct ics_agreement *agreement;
};
char *ics_render_event(const struct ics_event *ev, int alarms, const char **zone_out);
char *ics_render_head(const char *name, const char *const *zones, size_t nz);
/* A fingerprint of what the renderer makes of sample events (16 hex
 * digits): it changes whenever a change of this code or of libical changes
 * the output, so stored renderings of an older renderer are not used. */
#define ICS_FINGERPRINT_LEN 16
int ics_render_fingerprint(char out[ICS_FINGERPRINT_LEN + 1]) WUR;
/* Adds to c an ORGANIZER naming the org of slug by its name (CN); the
 * address is <slug>@liaison.invalid (see ics_render.c). */
void ics_add_organizer(icalcomponent *c, const char *slug, const char *name);
/* strcmp for qsort of zone names. */
int ics_zone_cmp(const void *a, const void *b);

#endif
