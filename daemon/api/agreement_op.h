/* agreement_op.h - one write of /v1/agreements in progress, shared by
 * agreements.c (reads, writes) and agreement_check.c (validation). */
#ifndef LIAISON_AGREEMENT_OP_H
#define LIAISON_AGREEMENT_OP_H

#include <jansson.h>

struct req;

struct agop {
	struct req *r;
	json_t *body;
	const char *title, *description, *stage, *signed_on, *expires_on, *timezone, *visibility;
	json_t *parties;
	json_t *events; /* the deadline events to write (deadline_row) */
	json_t *stored; /* patch: the milestones as stored, with their event_id */
	int oom;        /* validation ran out of memory: 500, nothing written */
	char id[37], version[16];
};

void agop_free(struct agop *op);
/* Validates op->body (default_tz: the zone when it names none) into op's
 * fields and op->events, the deadline events to write; on faults answers
 * (422, or 500 when memory ran out), frees op and returns -1. */
int ag_validate(struct agop *op, const char *default_tz);

#endif
