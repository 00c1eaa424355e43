/* jsonv.c - see jsonv.h. */
#include "api/jsonv.h"

#include "http/http.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

/* Never drops an error: a field name that is not valid UTF-8 (a long name
 * cut inside a character) is replaced, or a fault would pass unreported.
 * Past PROBLEM_MAX_ERRORS only a count is kept (an integer after the
 * listed errors, which reply_problem_fields turns into "N more"): a body
 * of many unknown keys would otherwise get an answer larger than itself. */
void jv_error(json_t *errors, const char *field, const char *message)
{
	size_t n = json_array_size(errors);
	if (n >= PROBLEM_MAX_ERRORS) {
		json_t *more = json_array_get(errors, n - 1);
		if (json_is_integer(more))
			json_integer_set(more, json_integer_value(more) + 1);
		else
			json_array_append_new(errors, json_integer(1));
		return;
	}
	if (problem_add(errors, field, message) == 0)
		return;
	if (problem_add(errors, "(field name not shown)", message) != 0)
		json_array_append_new(errors, json_null()); /* still counts as a fault */
}

static int listed(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

void jv_known(json_t *obj, const char *const *allowed, const char *const *ignored, json_t *errors)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		(void)v;
		if (!listed(key, allowed) && !listed(key, ignored)) {
			char field[128];
			snprintf(field, sizeof(field), "%s", key);
			jv_error(errors, field, "unknown field");
		}
	}
}

int jv_entry(json_t *x, const char *base, const char *const *allowed, const char *const *ignored,
             json_t *errors)
{
	if (!json_is_object(x)) {
		jv_error(errors, base, "must be an object");
		return 0;
	}
	const char *key;
	json_t *v;
	json_object_foreach(x, key, v)
	{
		(void)v;
		if (!listed(key, allowed) && !listed(key, ignored)) {
			char field[192];
			snprintf(field, sizeof(field), "%.100s.%.60s", base, key);
			jv_error(errors, field, "unknown field");
		}
	}
	return 1;
}

const char *jv_string_at(json_t *obj, const char *key, const char *field, int required, size_t max,
                         int allow_newlines, json_t *errors)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			jv_error(errors, field, "is required");
		return NULL;
	}
	if (!json_is_string(v)) {
		jv_error(errors, field, "must be a string");
		return NULL;
	}
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		jv_error(errors, field, "must not contain NUL characters");
		return NULL;
	}
	if (!*s) {
		jv_error(errors, field, "must not be empty");
		return NULL;
	}
	if (strlen(s) > max) {
		char msg[64];
		snprintf(msg, sizeof(msg), "must be at most %zu bytes", max);
		jv_error(errors, field, msg);
		return NULL;
	}
	if (!valid_text(s, max, allow_newlines)) {
		jv_error(errors, field, "must not contain control characters");
		return NULL;
	}
	return s;
}

const char *jv_string(json_t *obj, const char *key, int required, size_t max, int allow_newlines,
                      json_t *errors)
{
	return jv_string_at(obj, key, key, required, max, allow_newlines, errors);
}

size_t jv_errors_rename(json_t *errors, json_t *from, const char *prefix,
                        const char *const (*map)[2], size_t nmap)
{
	size_t i, moved = 0;
	json_t *e;
	json_array_foreach(from, i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		if (!f || !msg)
			continue;
		size_t base = strcspn(f, "[");
		for (size_t k = 0; k < nmap; k++) {
			if (strlen(map[k][0]) != base || strncmp(map[k][0], f, base))
				continue;
			char field[192];
			snprintf(field, sizeof(field), "%s%s%s", prefix, map[k][1], f + base);
			jv_error(errors, field, msg);
			moved++;
		}
	}
	return moved;
}

int jv_index_of(json_t *array, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(array, i, v)
	{
		if (s && json_string_value(v) && !strcmp(json_string_value(v), s))
			return (int)i;
	}
	return -1;
}

void jv_merge_patch(json_t *target, json_t *patch)
{
	const char *key;
	json_t *v;
	json_object_foreach(patch, key, v)
	{
		if (json_is_null(v))
			json_object_del(target, key);
		else if (json_is_object(v) && json_is_object(json_object_get(target, key)))
			jv_merge_patch(json_object_get(target, key), v);
		else
			json_object_set(target, key, v);
	}
}
