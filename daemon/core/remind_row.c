/* remind_row.c - see remind_row.h. */
#include "core/remind_row.h"

#include "recur.h"
#include "tz.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int remind_plan_row(PGresult *res, int row, int64_t after, int64_t until, remind_cb cb, void *arg,
                    char until_text[24], const char **why)
{
	struct remind_event ev = {0};
	int all_day = PQgetvalue(res, row, P_ALLDAY)[0] == 't';
	until_text[0] = '\0';
	*why = "its start or end cannot be read";
	ev.all_day = all_day;
	ev.zone = PQgetvalue(res, row, P_TZ);
	ev.rrule = PQgetisnull(res, row, P_RRULE) ? NULL : PQgetvalue(res, row, P_RRULE);
	if (civil_parse(PQgetvalue(res, row, P_START), all_day, &ev.start))
		return -1;
	ev.end = ev.start;
	if (!PQgetisnull(res, row, P_END)) {
		if (civil_parse(PQgetvalue(res, row, P_END), all_day, &ev.end))
			return -1;
	} else if (all_day) {
		civil_add_days(&ev.end, 1);
	}
	int cancelled = !strcmp(PQgetvalue(res, row, P_STATUS), "cancelled");
	ev.exdates = json_loads(PQgetvalue(res, row, P_EXDATES), 0, NULL);
	ev.rdates = json_loads(PQgetvalue(res, row, P_RDATES), 0, NULL);
	ev.triggers =
	    cancelled ? json_array() : json_loads(PQgetvalue(res, row, P_TRIGGERS), 0, NULL);
	ev.overridden = json_loads(PQgetvalue(res, row, P_OVERRIDDEN), 0, NULL);
	int64_t stopped = -1;
	*why = "out of memory";
	if (ev.exdates && ev.rdates && ev.triggers && ev.overridden)
		stopped = remind_plan(&ev, after, until, cb, arg, why);
	if (stopped >= 0 && stopped != INT64_MAX)
		snprintf(until_text, 24, "%lld", (long long)stopped);
	else if (stopped == INT64_MAX && ev.rrule &&
	         recur_last_start(ev.rrule, ev.zone, &ev.start, all_day) >= until)
		snprintf(until_text, 24, "%lld", (long long)until);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.triggers);
	json_decref(ev.overridden);
	return stopped < 0 ? -1 : 0;
}
