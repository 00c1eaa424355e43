/* dblisten.h - one dedicated connection that LISTENs and hands NOTIFY
 * payloads to registered handlers, on a libevent loop. */
#ifndef LIAISON_DBLISTEN_H
#define LIAISON_DBLISTEN_H

#include "macros.h"

#include <event2/event.h>

struct dblisten;

/* payload is NULL right after each (re-)connection: notifications may
 * have been missed while the connection was down, so resynchronise. */
typedef void (*dblisten_cb)(const char *payload, void *arg);

struct dblisten *dblisten_new(struct event_base *base, const char *conninfo) WUR;
/* Registers a handler; channel is [a-z_]+. Call before dblisten_start. */
int dblisten_on(struct dblisten *l, const char *channel, dblisten_cb cb, void *arg) WUR;
int dblisten_start(struct dblisten *l) WUR;
void dblisten_free(struct dblisten *l);

#endif
