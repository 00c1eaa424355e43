/* dblisten.c - LISTEN/NOTIFY on a pool of one connection. The pool does
 * the connecting, backoff and notification draining; this file only
 * keeps the channel table and says LISTEN for each channel on every new
 * session (LISTEN does not survive a reconnect). */
#include "dblisten.h"

#include "dbpool.h"

#include <stdlib.h>
#include <string.h>

#define MAX_HANDLERS 16

struct handler {
	char channel[64];
	dblisten_cb cb;
	void *arg;
};

struct dblisten {
	struct event_base *base;
	char *conninfo;
	struct dbpool *pool;
	struct handler handlers[MAX_HANDLERS];
	int n;
};

struct dblisten *dblisten_new(struct event_base *base, const char *conninfo)
{
	struct dblisten *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->base = base;
	l->conninfo = strdup(conninfo ? conninfo : "");
	if (!l->conninfo) {
		free(l);
		return NULL;
	}
	return l;
}

int dblisten_on(struct dblisten *l, const char *channel, dblisten_cb cb, void *arg)
{
	size_t len = strlen(channel);
	if (l->pool || l->n == MAX_HANDLERS || len == 0 || len >= sizeof(l->handlers[0].channel) ||
	    strspn(channel, "abcdefghijklmnopqrstuvwxyz_") != len)
		return -1;
	struct handler *h = &l->handlers[l->n++];
	memcpy(h->channel, channel, len + 1);
	h->cb = cb;
	h->arg = arg;
	return 0;
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
	struct dblisten *l = arg;
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->handlers[i].channel, channel) == 0)
			l->handlers[i].cb(payload ? payload : "", l->handlers[i].arg);
}

static void on_connected(void *arg)
{
	struct dblisten *l = arg;
	for (int i = 0; i < l->n; i++)
		l->handlers[i].cb(NULL, l->handlers[i].arg);
}

int dblisten_start(struct dblisten *l)
{
	size_t need = 1;
	for (int i = 0; i < l->n; i++)
		need += strlen(l->handlers[i].channel) + 10;
	char *sql = calloc(1, need);
	if (!sql)
		return -1;
	for (int i = 0; i < l->n; i++) {
		/* Several handlers may share a channel; one LISTEN is enough. */
		int seen = 0;
		for (int k = 0; k < i; k++)
			seen |= strcmp(l->handlers[k].channel, l->handlers[i].channel) == 0;
		if (seen)
			continue;
		if (*sql)
			strcat(sql, "; ");
		strcat(sql, "LISTEN ");
		strcat(sql, l->handlers[i].channel);
	}
	struct dbpool_options opt = {
	    .conninfo = l->conninfo,
	    .size = 1,
	    .queue_max = 1,
	    .setup_sql = *sql ? sql : NULL,
	    .on_notify = on_notify,
	    .on_connected = on_connected,
	    .cb_arg = l,
	};
	l->pool = dbpool_new(l->base, &opt);
	free(sql);
	return l->pool ? 0 : -1;
}

void dblisten_free(struct dblisten *l)
{
	if (!l)
		return;
	dbpool_free(l->pool);
	free(l->conninfo);
	free(l);
}
