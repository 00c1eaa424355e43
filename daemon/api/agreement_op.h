/* agreement_op.h - one write of /v1/agreements in progress, shared by
 * agreements.c (reads, writes), agreement_check.c (validation) and
 * agreement_stages.c (stages, history, the follow-up template). */
#ifndef LIAISON_AGREEMENT_OP_H
#define LIAISON_AGREEMENT_OP_H

#include "api/idem.h"
#include "tz.h"

#include <jansson.h>

struct req;

#define AG_MAX_MILESTONES 100
#define AG_MAX_HISTORY    100
#define AG_MAX_LINKS      200
#define AG_MAX_STEPS      20

struct agop {
	struct req *r;
	json_t *body;
	const char *title, *description, *stage, *signed_on, *expires_on, *timezone, *visibility;
	json_t *parties;
	json_t *events;   /* the deadline events to write (deadline_row) */
	json_t *stored;   /* patch: the milestones as stored, with their event_id */
	json_t *before;   /* patch: the agreement as stored (NULL: a create) */
	json_t *history;  /* the history to write */
	json_t *links;    /* the ids of the events it links to */
	json_t *visits;   /* the ids of the visits it links to */
	json_t *template; /* the caller org's follow-up steps, or NULL */
	int dormant_days, expiring_days;
	int stage_given, history_given; /* the request itself named them */
	int cancelling;                 /* DELETE: the stage becomes terminated */
	int idem_again;                 /* the key's first use was looked up again */
	int oom;                        /* validation ran out of memory: 500, nothing written */
	char today[CIVIL_LEN];          /* YYYY-MM-DD in the agreement's zone */
	char id[37], version[16];
	char idem_key[IDEM_KEY_SIZE], body_hash[TOKEN_HASH_HEX + 1];
};

void agop_free(struct agop *op);
/* Validates op->body (default_tz: the zone when it names none) into op's
 * fields and op->events, the deadline events to write; on faults answers
 * (422, or 500 when memory ran out), frees op and returns -1. */
int ag_validate(struct agop *op, const char *default_tz);

/* agreement_stages.c */
/* The stage (SPEC's name) that s stands for: itself, or the stage one of
 * issue 17's names is taken for (letter_of_intent, negotiation, active);
 * NULL when it is none, and then ag_stage_fault(s) says why. */
const char *ag_stage(const char *s);
const char *ag_stage_fault(const char *s);
/* Checks "stage" and "history" into op->stage and op->history: the
 * history as sent or stored, with an entry for a stage it does not end
 * with yet (dated today, or on signed_on / expires_on when that is the
 * day of the change and not ahead). Needs op->timezone and op->today. */
void ag_check_stages(struct agop *op, json_t *errors);
/* When this write signs the agreement (its stage becomes signed, and it
 * was never signed before), the org's follow-up template's steps become
 * milestones, dated from the signature; a step whose title a milestone
 * already has is left out. After check_milestones. */
void ag_follow_up(struct agop *op, json_t *errors);
/* A follow-up template's steps (PUT /v1/follow-up-template): an array of
 * at most AG_MAX_STEPS {title, days, reminders}; faults named under
 * base ("steps"). */
void ag_check_steps(json_t *steps, const char *base, json_t *errors);
/* A date member v not after op->today, checked as field: NULL when v is
 * absent or null, or (with *ok = 0 and an error) when it is bad. */
const char *ag_past_date(const struct agop *op, json_t *v, const char *field, json_t *errors,
                         int *ok);

/* agreement_check.c */
/* One deadline event row (a date of the agreement) for the statement. */
json_t *ag_deadline_row(const char *part, const char *title, const char *due, const char *tz,
                        json_t *reminders, const char *done_on, const char *field, json_t *errors);
/* Reminders of milestone (or step) m, checked as base.reminders[i]; NULL
 * when it has none. */
json_t *ag_check_reminders(json_t *m, const char *base, json_t *errors);

#endif
