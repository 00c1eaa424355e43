/* feeds.h - /v1/feeds (management), /feeds/{token}.ics (the feed) and
 * /feeds/{token} (its subscribe page). */
#ifndef LIAISON_FEEDS_H
#define LIAISON_FEEDS_H

struct req;

void feeds_list(struct req *r);
void feeds_create(struct req *r);
void feeds_get(struct req *r);
void feeds_patch(struct req *r);
void feeds_delete(struct req *r);
void feeds_rotate(struct req *r);
void feeds_serve(struct req *r);
void feed_page_serve(struct req *r);

/* A feed by token hash, and the events to render by id: prepared by every
 * new connection (api/routes.c), so a feed asked for first thing after a start
 * does not wait for a new backend to load its catalogs. */
extern const char feeds_lookup_sql[], feeds_missing_sql[];

#endif
