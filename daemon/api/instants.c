/* instants.c - wall times' instants for the triggers (instants.h). */
#include "api/instants.h"

#include <stdio.h>

int instants_put(json_t *hints, const char *zone, const struct civil *w)
{
	char at[CIVIL_LEN], key[TZ_NAME_MAX + CIVIL_LEN + 2];
	int64_t utc;
	if (!zone || tz_to_utc(zone, w, &utc) == TZ_UNKNOWN)
		return 0;
	civil_format(w, 0, at);
	snprintf(key, sizeof(key), "%s %s", zone, at);
	return json_object_set_new(hints, key, json_integer(utc));
}

char *instants_of_days(const char *zone, const char *days)
{
	json_t *list = json_loads(days, 0, NULL);
	json_t *hints = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		struct civil day;
		const char *text = json_string_value(d);
		if (!hints || !text || civil_parse(text, 1, &day))
			continue; /* not a date: the trigger's own reading */
		for (int k = 0; k < 2 && hints; k++, civil_add_days(&day, 1))
			if (instants_put(hints, zone, &day)) {
				json_decref(hints);
				hints = NULL;
			}
	}
	json_decref(list);
	char *text = hints ? json_dumps(hints, JSON_COMPACT) : NULL;
	json_decref(hints);
	return text;
}
