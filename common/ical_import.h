/* ical_import.h - iCalendar files into the JSON events of the API. */
#ifndef LIAISON_ICAL_IMPORT_H
#define LIAISON_ICAL_IMPORT_H

#include "compat.h"

#include <jansson.h>
#include <stddef.h>

/* Reads the VEVENTs of text: an array of {"uid", "event", "errors"}, where
 * event is a JSON event for event_validate (with "recurrence_id" for an
 * override of that UID's series) and errors lists what could not be kept.
 * Floating times take the file's X-WR-TIMEZONE, else org_tz. NULL (and
 * err) when text is not iCalendar at all. */
json_t *ical_import_parse(const char *text, size_t len, const char *org_tz, char *err,
                          size_t errlen) WUR;

#endif
