/* event_params.c - a validated event as the parameters of EV_VALUES. */
#include "api/event_params.h"

#include "api/events_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void event_bufs_free(struct event_bufs *b)
{
	for (size_t i = 0; i < ARRAY_LEN(b->arrays); i++) {
		free(b->arrays[i]);
		b->arrays[i] = NULL;
	}
}

static const char *json_text(struct event_bufs *b, int slot, json_t *a)
{
	if (!a)
		return "[]";
	b->arrays[slot] = json_dumps(a, JSON_COMPACT);
	return b->arrays[slot] ? b->arrays[slot] : "[]";
}

/* Fills $1..$27 of EV_VALUES from the validated event. */
void event_params(const struct event_in *e, const char *org_id, struct event_bufs *b,
                  const char **p)
{
	civil_format(&e->start, e->all_day, b->start);
	civil_format(&e->end, e->all_day, b->end);
	snprintf(b->nums[0], sizeof(b->nums[0]), "%lld", (long long)e->start_utc);
	snprintf(b->nums[1], sizeof(b->nums[1]), "%lld", (long long)e->end_utc);
	snprintf(b->nums[2], sizeof(b->nums[2]), "%lld", (long long)e->last_end_utc);
	snprintf(b->nums[3], sizeof(b->nums[3]), "%lld", (long long)e->rdates_from);
	if (e->has_recurrence_id)
		civil_format(&e->recurrence_id, e->all_day, b->rid);
	const char *v[EV_NPARAMS] = {org_id,
	                             e->kind,
	                             e->title,
	                             e->description,
	                             e->location,
	                             e->city,
	                             e->country,
	                             e->timezone,
	                             e->all_day ? "true" : "false",
	                             b->start,
	                             e->has_end ? b->end : NULL,
	                             b->nums[0],
	                             b->nums[1],
	                             e->last_end_utc == INT64_MAX ? NULL : b->nums[2],
	                             e->rrule,
	                             json_text(b, 0, e->exdates),
	                             json_text(b, 1, e->rdates),
	                             e->series_id,
	                             e->has_recurrence_id ? b->rid : NULL,
	                             e->status,
	                             e->visibility,
	                             json_text(b, 2, e->partners),
	                             json_text(b, 3, e->tags),
	                             e->parent_id,
	                             json_text(b, 4, e->reminders),
	                             e->url,
	                             e->rdates_from == INT64_MAX ? NULL : b->nums[3]};
	memcpy(p, v, sizeof(v));
}
