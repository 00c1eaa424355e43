/* event_op.h - one write of /v1/events in progress, shared by the files
 * of its pipeline: events.c (the steps every write takes: references, the
 * row, the answer), event_change.c (patch, cancel and overrides: what a
 * change reads and checks before it is written) and event_read.c. */
#ifndef LIAISON_EVENT_OP_H
#define LIAISON_EVENT_OP_H

#include "api/event_params.h"
#include "dbpool.h"
#include "event.h"
#include "token.h"

#include <jansson.h>

struct req;

/* One write in progress. */
struct evop {
	struct req *r;
	json_t *body; /* the request body (create) or the merged event (patch) */
	struct event_in in;
	struct event_bufs bufs;
	char id[37];
	char version[16];
	char idem_key[256];
	char body_hash[TOKEN_HASH_HEX + 1];
	int creating;
	int idem_again; /* the key was taken by a concurrent create: asked once more */
	int cancelling;
	int occurrence;  /* DELETE .../occurrences/{rid}: answers 200 */
	int again;       /* an override's series changed under it: tried once more */
	json_t *request; /* create: the body as sent, for that second try */
	json_t *series;  /* an override's master, as read */
	char series_version[16];
	char overrides_rev[16]; /* a master's, as read (patch) */
	json_t *gone;           /* patch: ids of overrides the series no longer has */
	json_t *back;           /* patch: ids of orphans it has an occurrence for again */
	json_t *before;         /* patch: the event as stored */
	json_t *overrides;      /* patch: the master's overrides (SERIES_OVERRIDES) */
	json_t *locals;         /* patch: their wall times (SERIES_LOCALS) */
};

struct evop *evop_new(struct req *r);
void evop_free(struct evop *op);
/* End the request with a problem (one naming field) and free op. */
void op_fail(struct evop *op, int status, const char *detail);
void op_fail_field(struct evop *op, int status, const char *field, const char *msg);
/* Sends a step's statement; -1 when the pool refused it (answered 503). */
int op_submit(struct evop *op, const char *sql, int n, const char *const *params, db_result_cb cb);
/* A result that is neither an outage nor an error, or the answer is sent. */
int op_result_ok(struct evop *op, PGresult *res);
/* The answer to an update (SQL_EVENT_UPDATE, SQL_EVENT_CURRENT). */
void op_on_updated(PGresult *res, void *arg);
void reply_event(struct req *r, int status, const char *json, const char *version);
/* Validates op->body into op->in (tz: the zone by default), and a rule
 * new or changed (against op->before) for reads (event_countable); on
 * faults answers 422, frees op and returns -1. */
int validate(struct evop *op, const char *tz);
/* event_change.c: whether after has other occurrences than before (start,
 * rule, dates, zone or all_day). */
int series_moved(json_t *before, json_t *after);
/* Steps: the references the body names, then the row. */
void check_refs(struct evop *op);
void write_event(struct evop *op);
/* event_change.c: a create (an override's series read first), the
 * change of an event by op->id, and an override taken again from the
 * start after its series changed under it. */
void create_or_override(struct evop *op);
void load_change(struct evop *op);
void try_override_again(struct evop *op);
/* The {id} of r when it is a UUID; else answers 404 and returns NULL. */
const char *event_id(struct req *r);

#endif
