/* fuzz_event.c - libFuzzer target: arbitrary bytes as a JSON event body,
 * through the same parse and validation the API uses. */
#include "event.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return 0;
	}
	json_t *errors = json_array();
	struct event_in e;
	if (event_validate(obj, "Asia/Ho_Chi_Minh", &e, errors) == 0 && e.end_utc < e.start_utc)
		__builtin_trap(); /* a valid event never ends before it starts */
	json_decref(errors);
	json_decref(obj);
	return 0;
}
