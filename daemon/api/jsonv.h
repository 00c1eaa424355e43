/* jsonv.h - validation of JSON request bodies, field by field, collecting
 * one {"field", "message"} per fault so a 422 names every bad field. */
#ifndef LIAISON_JSONV_H
#define LIAISON_JSONV_H

#include <jansson.h>
#include <stddef.h>

/* Refuses members of obj not in allowed (NULL-terminated); members in
 * ignored (server-written fields a client may echo back) pass silently. */
void jv_known(json_t *obj, const char *const *allowed, const char *const *ignored, json_t *errors);
/* An entry of a list (at base, "tasks[2]"): 1 when it is an object, its
 * unknown members named as base.member; 0 (an error at base) when not. */
int jv_entry(json_t *x, const char *base, const char *const *allowed, const char *const *ignored,
             json_t *errors);
/* A string member: NULL if absent (an error if required) or bad. */
const char *jv_string(json_t *obj, const char *key, int required, size_t max, int allow_newlines,
                      json_t *errors);
/* The same, naming the fault by a path ("milestones[0].title"). */
const char *jv_string_at(json_t *obj, const char *key, const char *field, int required, size_t max,
                         int allow_newlines, json_t *errors);
/* Moves the errors of from whose field map names (map[k][0], with an
 * index after it or not) into errors as prefix + map[k][1]: the errors of
 * a synthesised event ("start", "reminders[1]") under the request's
 * names ("programme[2].start", "tasks[0].reminders[1]"). The others are
 * left out (the caller checks, and names, those fields itself). Returns
 * how many were moved. */
size_t jv_errors_rename(json_t *errors, json_t *from, const char *prefix,
                        const char *const (*map)[2], size_t nmap);
/* Position of string s in array, or -1. */
int jv_index_of(json_t *array, const char *s);
/* Adds an error unless it cannot allocate (then the 422 just names fewer). */
void jv_error(json_t *errors, const char *field, const char *message);

/* RFC 7396 merge patch: members of patch replace those of target, null
 * removes one, objects merge recursively. */
void jv_merge_patch(json_t *target, json_t *patch);

#endif
