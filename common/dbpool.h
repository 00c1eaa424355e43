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
 * callback always comes within about the deadline, never later.
 *
 * A pool may stand in for another for reads: a streaming standby's
 * (dbpool_options.primary). Its jobs are the same calls; which of them
 * the standby may answer is its floor's to say (common/readfloor.c), and
 * any it may not, or cannot, go to the primary: see dbpool_floor. */
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

/* When a standby may answer a read. Each job submitted to a standby's pool
 * is routed at once: route() says whether it may go to the standby, and
 * if so the WAL position (text, "X/Y") the standby must have replayed
 * before the job's statement begins; *token is handed back to sampled().
 * On the standby the job is sent behind a guard, in the same transaction,
 * that fails unless the server is still in recovery and has replayed that
 * position: the statement's snapshot, taken after the guard, holds
 * everything committed up to there. A job the guard stops (behind() is
 * told), that fails there in any way (an error, a lost connection, its
 * deadline, a full queue), or that route() or a standby with no
 * connection up turns away, runs on the primary instead, and no caller
 * sees the difference. On the primary it is followed, in the same
 * transaction, by a reading of the primary's WAL insert position, handed
 * to sampled() before the job's callback runs: a position at or past
 * every commit its statement saw. On the standby it is followed by a
 * reading of the standby's replay position, handed to seen() the same way
 * (another standby, behind that one, must catch up before it answers). */
/* The statement that reads the primary's position (one text column). */
extern const char dbpool_wal_position_sql[];

struct dbpool_floor {
	int (*route)(void *arg, char *lsn, size_t len, uint64_t *token);
	void (*sampled)(void *arg, const char *lsn, uint64_t token, int64_t submitted_us);
	void (*seen)(void *arg, const char *lsn);
	void (*behind)(void *arg);
	void *arg;
};

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
	/* A standby's pool: where its jobs go when it may not answer them, and
	 * who says so (both or neither). */
	struct dbpool *primary;
	const struct dbpool_floor *floor;
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
	uint64_t grouped;         /* jobs sent in one transaction with others */
	uint64_t run_again;       /* of those, run again on their own (a failed group) */
	uint64_t timeouts;        /* statements past their deadline (either side) */
	uint64_t callback_max_us; /* the longest one result's callback took */
	/* A standby's pool: jobs sent to the primary straight away (the floor
	 * said so, or no connection was up), jobs that went there after the
	 * standby took them, and of those the ones its guard stopped. */
	uint64_t diverted;
	uint64_t fallbacks;
	uint64_t behind;
};

struct dbpool *dbpool_new(struct event_base *base, const struct dbpool_options *opt) WUR;
void dbpool_free(struct dbpool *pool);

/* One statement with text parameters, on any free connection. sql must
 * be a string literal (or otherwise live as long as the pool): each
 * connection prepares it once, keyed by its address, and reuses it. */
int dbpool_query(struct dbpool *pool, const char *sql, int nparams, const char *const *params,
                 db_result_cb cb, void *arg) WUR;
/* The same for SQL built at run time: copied, and prepared by its text
 * while the connection has room, so that repeated shapes are parsed once
 * (and planned once if PostgreSQL finds the generic plan cheap enough). */
int dbpool_query_text(struct dbpool *pool, const char *sql, int nparams, const char *const *params,
                      db_result_cb cb, void *arg) WUR;
/* The same, never prepared: planned for its parameters every time. For a
 * statement whose best plan depends on their values (a window's bounds:
 * a generic plan cannot know how many rows a range holds and guesses a
 * few, and PostgreSQL switches to it after five executions). */
int dbpool_query_planned(struct dbpool *pool, const char *sql, int nparams,
                         const char *const *params, db_result_cb cb, void *arg) WUR;

/* dbpool_query and dbpool_query_text, run by the statement's generic plan,
 * planned once per connection. PostgreSQL keeps planning a prepared
 * statement for its parameters when its estimate of the generic plan is
 * higher than of the custom ones, whatever the two cost when run: a feed's
 * splice planned in 1.5 ms and ran in 0.1 ms, every time. For statements
 * whose best plan does not depend on their parameters' values (rows by
 * key, by ids, by a snapshot's changes). A job that cannot be prepared (no
 * room left) is planned for its parameters. */
int dbpool_query_generic(struct dbpool *pool, const char *sql, int nparams,
                         const char *const *params, db_result_cb cb, void *arg) WUR;
int dbpool_query_text_generic(struct dbpool *pool, const char *sql, int nparams,
                              const char *const *params, db_result_cb cb, void *arg) WUR;

/* dbpool_query for a write that may share its transaction with others of
 * its kind: while a group is in flight, such writes wait, and go together
 * as the next group (up to 16), one transaction with one commit. A
 * committing transaction that notified holds PostgreSQL's NOTIFY lock
 * through its WAL flush, so writes committed one by one queue for it and
 * each pays a flush; a group pays one. Each job still gets its own result,
 * only once the group has committed. If any statement of a group fails,
 * all of it is rolled back and each job runs again on its own, so a job
 * never fails for another's error (one cancelled at its deadline is
 * answered as such). Only for statements that see the rows they depend on
 * as any order of the group would leave them, and that take no row lock
 * another group could hold first: creates, not changes of existing rows. */
int dbpool_query_grouped(struct dbpool *pool, const char *sql, int nparams,
                         const char *const *params, db_result_cb cb, void *arg) WUR;

/* True while at least one connection is up. */
int dbpool_up(const struct dbpool *pool);
/* True when no job waits in the queue or for its answer. The pool's
 * thread only. */
int dbpool_idle(const struct dbpool *pool);
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
/* Whether the error passes by itself: a deadlock or serialization
 * failure (class 40), a statement cancelled (its timeout, 57014), a lock
 * not available (55P03). */
int db_transient(const PGresult *res);

#endif
