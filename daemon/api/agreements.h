/* agreements.h - /v1/agreements: MOUs, letters of intent, milestones,
 * stage history and links (agreements.c, agreement_list.c); the org's
 * follow-up template (follow_up.c). */
#ifndef LIAISON_AGREEMENTS_H
#define LIAISON_AGREEMENTS_H

struct req;

void agreements_create(struct req *r);
void agreements_get(struct req *r);
void agreements_list(struct req *r);
void agreements_patch(struct req *r);
void agreements_cancel(struct req *r);
void follow_up_get(struct req *r);
void follow_up_put(struct req *r);

#endif
