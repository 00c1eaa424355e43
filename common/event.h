/* event.h - an event as the API accepts it: every field checked, times
 * read in the event's zone, the UTC instants that queries use computed.
 * Pure (no database): the daemon adds the checks that need one. */
#ifndef LIAISON_EVENT_H
#define LIAISON_EVENT_H

#include "macros.h"
#include "tz.h"

#include <jansson.h>
#include <stdint.h>

#define EVENT_MAX_DATES     1000
#define EVENT_MAX_LIST      50
#define EVENT_MAX_REMINDERS 10

struct event_in {
	const char *kind, *title, *description, *location, *city, *country;
	const char *timezone, *rrule, *uid, *status, *visibility, *url;
	const char *series_id, *parent_id;
	int all_day;
	struct civil start, end, recurrence_id;
	int has_end, has_recurrence_id;
	int64_t start_utc, end_utc, last_end_utc; /* last_end_utc INT64_MAX: no end */
	int64_t rdates_from; /* the earliest RDATE's instant; INT64_MAX: none */
	/* JSON arrays (borrowed from the request) for the SQL parameters. */
	json_t *exdates, *rdates, *partners, *tags, *reminders;
};

/* Validates obj (a whole event: a create, or a stored event with a merge
 * patch applied). default_tz is the owner org's zone. Each fault is added
 * to errors as {"field", "message"}; returns 0 when there was none. */
int event_validate(json_t *obj, const char *default_tz, struct event_in *out, json_t *errors) WUR;
/* Whether e (validated) can be read: every read of a COUNT rule walks it
 * from its start within one expansion's budget, and one whose end
 * event_validate could not reach there could not be read either (the 9th
 * leap-day Monday, counted daily from 1904). Writers ask it where the rule
 * is new or changed, so that a series stored before can still be
 * cancelled. 0, or -1 with the fault added to errors. */
int event_countable(const struct event_in *e, json_t *errors) WUR;
/* The instants event_validate gives e's wall times: start_utc, end_utc
 * (the default end when it has none), last_end_utc and rdates_from, from
 * its timezone, all_day, start, end (has_end), rrule and rdates. For rows
 * written before the daemon computed them all (jobs/repair.c). 0, or -1
 * when the zone is unknown. */
int event_times(struct event_in *e) WUR;
/* Sets each field of obj that is null or missing to what event_validate
 * reads it as, so that two events compare as they would be stored. */
int event_fill_defaults(json_t *obj, const char *default_tz) WUR;

/* Checks the triggers of a reminders array a (NULL: none; its length is
 * the caller's to check): each a negative RFC 5545 duration of at most
 * 400 days, and none at the same time as an earlier one. Faults are named
 * name[i] ("reminders[1]", "milestones[0].reminders[1]"). */
void event_check_triggers(json_t *a, const char *name, json_t *errors);
/* Removes from a the triggers of a length an earlier one has (as
 * event_check_triggers counts them): a row stored before that check, which
 * a change that does not send its reminders would otherwise be refused
 * for, keeps the first of each. */
void event_dedupe_triggers(json_t *a);
/* The same for the "reminders" of each object of array items (a stored
 * agreement's milestones, a visit's programme, a checklist's tasks). */
void event_dedupe_triggers_of(json_t *items);

/* Fields a client may send back that the server writes. */
extern const char *const event_server_fields[];

#endif
