/* series.c - which overrides a change of a series concerns (series.h). */
#include "api/series.h"

#include "api/instants.h"

#include "macros.h"
#include "recur.h"
#include "tz.h"

#include <stdio.h>

int series_sort(const struct event_in *s, int was_all_day, json_t *overrides, json_t *gone,
                json_t *back)
{
	size_t i;
	json_t *o;
	/* A master without a rule or RDATEs is a single event, which has no
	 * overrides (the API refuses them): the override of its one
	 * occurrence, its first, goes with the rest, as when its rule
	 * changed it away. Kept, it stood in for the event in the feed and the
	 * reminders while the event's own occurrence was listed beside it. */
	int recurs = s->rrule || json_array_size(s->rdates);
	json_array_foreach(overrides, i, o)
	{
		struct civil rid;
		const char *text = json_string_value(json_object_get(o, "rid"));
		int has = recurs && text && !civil_parse(text, was_all_day, &rid) &&
		          was_all_day == s->all_day &&
		          recur_is_occurrence(s->rrule, s->timezone, &s->start, s->all_day,
		                              s->exdates, s->rdates, &rid);
		int orphan = json_is_true(json_object_get(o, "orphan"));
		json_t *to = orphan ? (has ? back : NULL) : (has ? NULL : gone);
		if (to && json_array_append(to, json_object_get(o, "id")))
			return -1;
	}
	return 0;
}

int series_has(json_t *m, const struct civil *rid, int all_day)
{
	struct civil start;
	int m_all_day = json_is_true(json_object_get(m, "all_day"));
	const char *zone = json_string_value(json_object_get(m, "timezone"));
	const char *first = json_string_value(json_object_get(m, "start"));
	if (m_all_day != all_day || !zone || !first || civil_parse(first, all_day, &start))
		return 0;
	return recur_is_occurrence(json_string_value(json_object_get(m, "rrule")), zone, &start,
	                           all_day, json_object_get(m, "exdates"),
	                           json_object_get(m, "rdates"), rid);
}

char *series_hints(const struct event_in *s, json_t *locals)
{
	json_t *hints = json_object();
	int64_t len = civil_to_epoch(&s->end) - civil_to_epoch(&s->start);
	size_t i;
	json_t *o;
	json_array_foreach(locals, i, o)
	{
		const char *zones[] = {json_string_value(json_array_get(o, 0)), s->timezone};
		struct civil w[4];
		int n = 0;
		for (size_t k = 2; k < 5; k++)
			if (!civil_parse(json_string_value(json_array_get(o, k)), 0, &w[n]))
				n++;
		if (n < 3)
			continue; /* not as SERIES_LOCALS writes it: the trigger's own reading */
		/* The end of a start and a day, or of the rid and s's length. */
		if (json_is_true(json_array_get(o, 1))) {
			w[n] = w[0];
			civil_add_days(&w[n++], 1);
		}
		civil_from_epoch(civil_to_epoch(&w[2]) + len, &w[2]);
		for (size_t z = 0; hints && z < ARRAY_LEN(zones); z++)
			for (int k = 0; k < n; k++)
				if (instants_put(hints, zones[z], &w[k])) {
					json_decref(hints);
					hints = NULL;
					break;
				}
	}
	char *text = hints ? json_dumps(hints, JSON_COMPACT) : NULL;
	json_decref(hints);
	return text;
}
