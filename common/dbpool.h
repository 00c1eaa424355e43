/* dbpool.h - a pool of non-blocking libpq connections on one libevent loop.
 *
 * Every call is made from the loop's thread. A query either gets a
 * callback exactly once (return 0) or is refused at once (return -1: the
 * database is down or the queue is full), so callers answer 503 without
 * waiting. Connections that break are re-established with backoff.
 *
 * Every statement has a deadline (query_timeout_ms): the server cancels
 * it then (statement_timeout), and a server that does not answer at all
 * (a frozen host, a partition) loses the connection a moment later, so a
 * callback always comes within about the deadline, never later. */
#ifndef LIAISON_DBPOOL_H
#define LIAISON_DBPOOL_H

#include "macros.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdint.h>

struct dbpool;

#define DBPOOL_QUERY_TIMEOUT_MS 5000

/* res is NULL when the database did not answer in time (the connection
 * failed, the server did not answer within the deadline, or it cancelled
 * the statement at the deadline): answer 503. Otherwise the query's last
 * result, which may be an error result (check PQresultStatus). The pool
 * clears res after the callback returns. */
typedef void (*db_result_cb)(PGresult *res, void *arg);
/* Notifications received on any pool connection; relname is the channel. */
typedef void (*db_notify_cb)(const char *channel, const char *payload, void *arg);
/* Called each time a connection is (re-)established and set up. */
typedef void (*db_connected_cb)(void *arg);

struct dbpool_options {
	const char *conninfo;
	int size;
	int queue_max;
	/* The deadline of each statement, in ms; 0: DBPOOL_QUERY_TIMEOUT_MS. */
	int64_t query_timeout_ms;
	const char *setup_sql; /* extra statements run on each new connection */
	/* Statement literals (as later passed to dbpool_query), NULL-terminated,
	 * that each new connection prepares before it takes work; may be NULL. */
	const char *const *prepare;
	/* Statement literals, NULL-terminated, that answer in well under a
	 * millisecond (a row by its key): work may be pipelined behind them on a
	 * busy connection. May be NULL: then nothing is pipelined. */
	const char *const *quick;
	db_notify_cb on_notify;
	db_connected_cb on_connected;
	void *cb_arg;
};

struct dbpool_stats {
	int size;
	int connected;
	int busy;
	int queued;
	uint64_t connect_failures;
	uint64_t queries;
	uint64_t refused;
	uint64_t pipelined;       /* jobs sent behind others in flight */
	uint64_t timeouts;        /* statements past their deadline (either side) */
	uint64_t callback_max_us; /* the longest one result's callback took */
};

struct dbpool *dbpool_new(struct event_base *base, const struct dbpool_options *opt) WUR;
void dbpool_free(struct dbpool *pool);

/* One statement with text parameters, on any free connection. sql must
 * be a string literal (or otherwise live as long as the pool): each
 * connection prepares it once, keyed by its address, and reuses it. */
int dbpool_query(struct dbpool *pool, const char *sql, int nparams, const char *const *params,
                 db_result_cb cb, void *arg) WUR;
/* The same for SQL built at run time: copied, and prepared by its text
 * while the connection has room, so that repeated shapes plan once. */
int dbpool_query_text(struct dbpool *pool, const char *sql, int nparams, const char *const *params,
                      db_result_cb cb, void *arg) WUR;

/* True while at least one connection is up. */
int dbpool_up(const struct dbpool *pool);
/* Safe from any thread. */
void dbpool_get_stats(const struct dbpool *pool, struct dbpool_stats *out);

/* PostgreSQL array literals, to pass many values in one parameter:
 * db_array_add appends s as the next element (quoted, with " and \
 * escaped; NULL for s appends a NULL element); db_array_end closes the array and returns its text
 * (free it), or NULL when out of memory. */
struct evbuffer;
int db_array_add(struct evbuffer *a, const char *s) WUR;
char *db_array_end(struct evbuffer *a) WUR;

/* SQLSTATE of an error result, or "" */
const char *db_sqlstate(const PGresult *res);

#endif
