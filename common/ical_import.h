/* ical_import.h - iCalendar files into the JSON events of the API. */
#ifndef LIAISON_ICAL_IMPORT_H
#define LIAISON_ICAL_IMPORT_H

#include "macros.h"
#include "recur.h"
#include "tz.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ICAL_IMPORT_MAX_VEVENTS 10000

/* Reads the VEVENTs of text: an array of items
 *   {"uid", "event", "errors", "warnings", "sequence"}
 * where event is a JSON event for event_validate, errors lists what could
 * not be kept (the VEVENT is refused) and warnings what was dropped or
 * derived ({"field", "message"} each). An override (RECURRENCE-ID) has
 * no recurrence_id in its event but
 *   "rid": {"local": as written, "date": bool, "utc": instant if zoned}
 *   "single_uid": the UID it takes when it must stand alone,
 *   "utc_times": true when its times were given in UTC (placed in the
 *                default zone; its master's zone suits it better),
 * for ical_import_place_rid once its master is known. An RDATE period
 * whose length is not the event's comes as such an override too, with
 * "synthetic": true. A UID and
 * RECURRENCE-ID given twice are kept once (the highest SEQUENCE, the
 * last of equals). Floating times take the file's X-WR-TIMEZONE, else
 * org_tz. NULL (and err) when text is not iCalendar at all. */
json_t *ical_import_parse(const char *text, size_t len, const char *org_tz, char *err,
                          size_t errlen) WUR;

/* The same, and file_warnings (may be NULL) gets what concerns the file
 * rather than one VEVENT ({"uid": "", "field", "message"}). cp1252: read
 * the text as Windows-1252 (its Content-Type said so); otherwise only
 * lines that are not valid UTF-8 are. */
json_t *ical_import_parse_ex(const char *text, size_t len, const char *org_tz, int cp1252,
                             json_t *file_warnings, char *err, size_t errlen) WUR;

/* What one import may spend walking recurrence rules (a struct
 * recur_budget): instances, and milliseconds spent in the walks. */
#define ICAL_BUDGET_STEPS 200000
#define ICAL_BUDGET_MS    1000

/* A stored master, for placing one of its overrides. */
struct ical_master {
	const char *id; /* its event id: a walk is kept per master */
	const char *timezone;
	int all_day;
	const char *start;        /* local wall time, as the API writes it */
	const char *rrule;        /* NULL: none */
	json_t *exdates, *rdates; /* local wall times (JSON strings), may be NULL */
};

/* The occurrences of one master walked so far, kept for its next
 * overrides (an import places them in turn). */
struct ical_walk;
struct ical_walk *ical_walk_new(void);
void ical_walk_free(struct ical_walk *w);

/* The master's wall time (in out) of the occurrence an override's "rid"
 * names: 0 when that is an occurrence of the master (its rule, DTSTART or
 * RDATEs, less EXDATEs), -1 when it is not or the forms (date or
 * date-time) differ, -2 when the budget (which it spends) ran out
 * before it could tell. */
int ical_import_place_rid(const struct ical_master *m, json_t *rid, int override_all_day,
                          char out[CIVIL_LEN], struct ical_walk *walk,
                          struct recur_budget *budget) WUR;

#endif
