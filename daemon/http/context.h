/* context.h - what a request may use of the worker thread that serves it.
 * One per worker thread, made and owned by the composition root
 * (server.c); a request reaches it as r->cx. Everything here belongs to
 * that thread (the pool, the caches) or is safe from any thread (the
 * settings, which never change while the workers run, and the atomic
 * generations). A handler needs nothing else of the server. */
#ifndef LIAISON_CONTEXT_H
#define LIAISON_CONTEXT_H

#include <stdatomic.h>

/* Files the handlers may hold open for the whole process besides their
 * connections' (rendered feeds, api/feed_cache.c): the HTTP layer leaves
 * them out of max_connections' default. */
#define FEED_FILES_MAX 64

struct config;
struct dbpool;
struct readfloor;
struct authcache;
struct feedcache;
struct fetchlog;
struct pagecache;
struct rowcache;
struct event_base;

struct ctx {
	int worker;               /* the thread's index, for logs */
	const struct config *cfg; /* the settings a reload cannot change */
	struct dbpool *db;        /* this thread's connections */
	struct authcache *auth;   /* this thread's credentials (http/auth.c) */
	struct feedcache *feeds;  /* this thread's rendered feeds (api/feed_cache.c) */
	struct fetchlog *fetches; /* the feed fetches it answered (api/feed_fetches.c) */
	struct pagecache *pages;  /* its rendered subscribe pages (api/feed_page.c) */
	struct rowcache *rows;    /* its single rows' answers (core/rowcache.c) */
	/* Where feeds, lists, occurrences and reports read: the standby's
	 * pool (read_database), which hands to db what the standby may not
	 * answer, or db itself when there is no standby. Never for a write,
	 * nor for a read that decides one. */
	struct dbpool *db_read;
	/* When the standby may answer (common/readfloor.h); NULL without one. */
	struct readfloor *floor;
	/* Bump to drop every cached credential of this instance (a key was
	 * revoked); NOTIFY tells the other instances. */
	_Atomic unsigned *auth_generation;
	/* Bump to have feeds rendered again (events or feeds changed). */
	_Atomic unsigned *data_generation;
	/* The thread's loop: for work cut into slices that let it turn
	 * between them (api/occurrences.c). */
	struct event_base *base;
};

#endif
