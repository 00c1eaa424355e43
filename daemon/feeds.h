/* feeds.h - /v1/feeds (management) and /feeds/{token}.ics (the feed). */
#ifndef LIAISON_FEEDS_H
#define LIAISON_FEEDS_H

struct req;

void feeds_list(struct req *r);
void feeds_create(struct req *r);
void feeds_delete(struct req *r);
void feeds_rotate(struct req *r);
void feeds_serve(struct req *r);

#endif
