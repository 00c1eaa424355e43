/* event_params.h - a validated event as the text parameters $1..$26 of
 * EV_VALUES (event_sql.h), shared by the API's writes and the importer. */
#ifndef LIAISON_EVENT_PARAMS_H
#define LIAISON_EVENT_PARAMS_H

#include "event.h"

/* Text the parameters point into; free with event_bufs_free. */
struct event_bufs {
	char *arrays[5]; /* exdates, rdates, partners, tags, reminders as JSON text */
	char nums[4][24];
	char start[CIVIL_LEN], end[CIVIL_LEN], rid[CIVIL_LEN];
};

/* Fills p[0..25]; p[i] point into e or b. */
void event_params(const struct event_in *e, const char *org_id, struct event_bufs *b,
                  const char **p);
void event_bufs_free(struct event_bufs *b);

#endif
