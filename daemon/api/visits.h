/* visits.h - /v1/visits: delegation visits, their delegates and their
 * programme (items are events: feeds, reminders, conflicts, webhooks). */
#ifndef LIAISON_VISITS_H
#define LIAISON_VISITS_H

struct req;

/* visits.c */
void visits_create(struct req *r);
void visits_get(struct req *r);
void visits_patch(struct req *r);
void visits_cancel(struct req *r);
void visits_delete_delegate(struct req *r);
/* visit_list.c */
void visits_list(struct req *r);
/* programme.c: the printable programme (HTML, or the same data as JSON) */
void visits_programme(struct req *r);

#endif
