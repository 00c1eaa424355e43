/* agreements.h - /v1/agreements: MOUs, letters of intent, milestones. */
#ifndef LIAISON_AGREEMENTS_H
#define LIAISON_AGREEMENTS_H

struct req;

void agreements_create(struct req *r);
void agreements_get(struct req *r);
void agreements_list(struct req *r);
void agreements_patch(struct req *r);

#endif
