/* reminders.h - GET /v1/events/{id}/reminders. */
#ifndef LIAISON_REMINDERS_H
#define LIAISON_REMINDERS_H

struct req;

void events_reminders(struct req *r);

#endif
