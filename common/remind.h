/* remind.h - when an event's reminders fire: each trigger (a negative
 * duration) of each occurrence, relative to the occurrence's real instant
 * in the event's zone, so a reminder keeps its offset across DST. Shared
 * by the scheduler, which stores the plan, and GET /v1/events/{id}/reminders. */
#ifndef LIAISON_REMIND_H
#define LIAISON_REMIND_H

#include "tz.h"

#include <jansson.h>
#include <stdint.h>

/* A cap on the fire times of one plan: a plan that reaches it ends at the
 * occurrence where it stopped and is continued later. */
#define REMIND_MAX_FIRES 2000

struct remind_event {
	const char *rrule; /* NULL: a single occurrence (plus rdates) */
	const char *zone;
	int all_day;
	struct civil start;
	struct civil end;   /* of the first occurrence */
	json_t *exdates;    /* wall-time strings */
	json_t *rdates;     /* wall-time strings */
	json_t *triggers;   /* duration strings, e.g. "-P1D" */
	json_t *overridden; /* recurrence ids taken over by override events */
};

struct remind_fire {
	int64_t occ_start, occ_end, fire_at; /* UTC, seconds */
	char start_local[CIVIL_LEN], end_local[CIVIL_LEN];
	const char *trigger;
};

typedef int (*remind_cb)(const struct remind_fire *f, void *arg);

/* Calls cb, in no particular order, for every fire time after `after`
 * (exclusive) of occurrences starting before `until`. Returns the start of
 * the occurrence where the cap stopped it (continue from there), INT64_MAX
 * when every occurrence before until was planned, or -1 on error, with
 * *why (when why is not NULL) saying what failed in words for a log line
 * or an API answer. */
int64_t remind_plan(const struct remind_event *ev, int64_t after, int64_t until, remind_cb cb,
                    void *arg, const char **why);

#endif
