/* checklists.h - /v1/checklists: an org's templates of protocol tasks,
 * and /v1/visits/{id}/tasks: the tasks a visit got from them. */
#ifndef LIAISON_CHECKLISTS_H
#define LIAISON_CHECKLISTS_H

struct req;

/* checklists.c */
void checklists_list(struct req *r);
void checklists_create(struct req *r);
void checklists_get(struct req *r);
void checklists_patch(struct req *r);
void checklists_delete(struct req *r);
/* visit_tasks.c */
void visit_tasks_list(struct req *r);
void visit_tasks_patch(struct req *r);

#endif
