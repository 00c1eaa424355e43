/* series.c - which overrides a change of a series concerns (series.h). */
#include "api/series.h"

#include "recur.h"

int series_sort(const struct event_in *s, int was_all_day, json_t *overrides, json_t *gone,
                json_t *back)
{
	size_t i;
	json_t *o;
	json_array_foreach(overrides, i, o)
	{
		struct civil rid;
		const char *text = json_string_value(json_object_get(o, "rid"));
		int has = text && !civil_parse(text, was_all_day, &rid) &&
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
