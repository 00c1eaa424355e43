/* import.h - iCalendar files posted to /v1/events. */
#ifndef LIAISON_IMPORT_H
#define LIAISON_IMPORT_H

struct req;

void import_calendar(struct req *r);

#endif
