/* fuzz_ical.c - libFuzzer target: arbitrary bytes as an imported
 * iCalendar file, and every event it yields through validation. */
#include "event.h"
#include "ical_import.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[160];
	json_t *items =
	    ical_import_parse((const char *)data, size, "America/Toronto", err, sizeof(err));
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		json_t *errors = json_array();
		struct event_in e;
		json_t *ev = json_object_get(it, "event");
		json_object_del(ev, "recurrence_id");
		(void)event_validate(ev, "America/Toronto", &e, errors);
		json_decref(errors);
	}
	json_decref(items);
	return 0;
}
