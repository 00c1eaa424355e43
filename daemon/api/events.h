/* events.h - /v1/events: create, read, merge-patch, cancel, list. */
#ifndef LIAISON_EVENTS_H
#define LIAISON_EVENTS_H

struct req;

void events_create(struct req *r);
void events_get(struct req *r);
/* An event by id for a caller ($1 id, $2 org id, $3 org slug). */
extern const char events_get_sql[];
void events_patch(struct req *r);
void events_cancel(struct req *r);
/* DELETE /v1/events/{id}/occurrences/{recurrence_id}: cancels one occurrence. */
void events_cancel_occurrence(struct req *r);
void events_list(struct req *r);

#endif
