/* dbpool.c - asynchronous PostgreSQL connections driven by libevent.
 *
 * Each connection is a small state machine:
 *   DOWN -> CONNECTING (PQconnectPoll) -> SETUP (session settings, then
 *        the pool's hot statements prepared) -> READY (in libpq's pipeline
 *        mode: idle, or with queries in flight)
 * A failure anywhere returns it to DOWN and arms a reconnect timer with
 * exponential backoff. Idle connections keep a read event so that a
 * server going away, or a NOTIFY, is noticed at once rather than on the
 * next query.
 *
 * Work goes to an idle connection first. With none idle, a job may be sent
 * behind the queries in flight on a connection (pipelined) when all of
 * those are quick statements (dbpool_options.quick), up to PIPELINE_MAX:
 * the server then reads several queries per wake-up and the answers come
 * back in fewer reads, which costs both sides less per query once queues
 * form (many clients per connection). A slow query never has work queued
 * behind it. Each job ends with its own Sync, so it is its own transaction
 * and an error in one does not touch its neighbours. A job's callback runs
 * once its Sync came back, after the connection's state is consistent
 * again, so a callback may submit more work or see the connection reset.
 *
 * Grouped jobs (dbpool_query_grouped: creates) are the exception. While
 * GROUP_LANES groups are in flight, new ones wait in the group queue; the
 * next free connection takes up to GROUP_MAX of them at once, a Sync after
 * the last only, so they share one transaction and one commit. A commit
 * that notified holds PostgreSQL's NOTIFY lock through its WAL flush
 * (async.c, PreCommit_Notify): commits of notifying writes are serial, one
 * flush each, and a group is one of them. A job of a group is answered
 * once the group's Sync came back (committed); when any of its statements
 * failed, or the commit did, the whole group was rolled back, and each job
 * runs again on its own (alone: queued whatever the queue holds, as it was
 * taken once), except one the server cut at its deadline, which is
 * answered as lost. The first grouped job with no group in flight goes at
 * once, alone: no job waits for company; one that has waited GROUP_WAIT_MS
 * behind a slow group goes, with those behind it, on another connection
 * if one is free. Each job but the last asks the server to flush (a Flush
 * message), so that its answer comes when it is done: the connection's
 * deadline counts from each job's turn, and a group of slow statements,
 * each within its timeout, is not taken for a silent server.
 *
 * Deadlines: each session sets statement_timeout to the pool's query
 * timeout, so the server ends a statement that runs too long (its answer,
 * SQLSTATE 57014, reaches the caller as a NULL result: 503). A server that
 * does not answer at all (a frozen host or process, a partition: the
 * kernel may still acknowledge our bytes, so TCP sees nothing wrong) is
 * caught by a timer per connection, set for the oldest job in flight a
 * little after that timeout: the connection is reset, which fails its
 * jobs, and so is every other connection that has heard nothing from the
 * server since that job was sent (they would hang the same way); with
 * none left up, work is refused at once until a connection is made again.
 * Work waiting in the queue for a connection waits at most the timeout.
 * TCP keepalives (libpq's keepalives options, which a conninfo may
 * override) find a dead peer on an idle connection.
 *
 * A standby's pool (dbpool_options.primary, dbpool.h's dbpool_floor) sends
 * each job as Parse (when it prepares), the guard, the job's statement,
 * the standby's replay position and Sync: a guard that fails aborts the
 * rest of that transaction, so one round trip decides, and the statement
 * never runs on a standby that is behind. A job that does not get its
 * answer there is handed, params and all, to the primary's pool, where its
 * statement is followed by the reading of the primary's WAL position. */
#include "dbpool.h"

#include "log.h"
#include "clock.h"
#include "macros.h"

#include <event2/buffer.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    2000
#define CONNECT_TIMEOUT_S 10

/* statement_timeout is added per pool: its query timeout. Floats in
 * their shortest exact text whatever the database or role set: feed lists
 * order their rows by the starts they read back (api/feed_list.c), which
 * fewer digits would round together. */
static const char base_setup_sql[] = "SET TIME ZONE 'UTC'; "
                                     "SET idle_in_transaction_session_timeout = '60s'; "
                                     "SET extra_float_digits = 1";

/* How long after the query timeout a silent server loses the connection:
 * a quarter of the timeout, within [500 ms, 2 s]. */
#define GRACE_MIN_MS 500
#define GRACE_MAX_MS 2000

enum conn_state { C_DOWN, C_CONNECTING, C_SETUP, C_READY };

#define MAX_PREPARED 128
#define PIPELINE_MAX 4
#define GROUP_MAX    16 /* jobs in one group's transaction */
#define GROUP_LANES  1  /* groups in flight per pool */
/* A grouped job waiting this long behind a slow group goes on another
 * connection, if one is free, rather than wait for that group. */
#define GROUP_WAIT_MS 50

/* Where a job in flight is in its answer: the results of its Parse (when it
 * prepares its statement first), of a standby's guard, of the setting
 * before a generic job, of its query, of the primary's WAL position after
 * a standby's job, then its Sync. */
enum job_phase { J_PREPARE, J_GUARD, J_GENERIC, J_QUERY, J_SAMPLE, J_SYNC };

/* Before a statement to be run by its generic plan (dbpool_query_generic):
 * for this transaction only, the job's, which ends at its Sync. */
static const char generic_sql[] =
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)";

/* Fails, which aborts the job's transaction before its statement, unless
 * the server is a standby that has replayed $1. Never constant (the planner
 * would raise the cast's error while planning): the message says how far
 * the standby is. */
static const char guard_sql[] =
    "SELECT CASE WHEN pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= $1::pg_lsn"
    "            THEN true"
    "            ELSE ('standby behind: replayed ' ||"
    "                  coalesce(pg_last_wal_replay_lsn()::text, 'nothing') ||"
    "                  ', needs ' || $1)::boolean END";
/* Read behind a standby's job on the primary: the insert position, past
 * every commit the statement before it saw whatever the commit mode
 * (commits need not be flushed yet). Just past a page's header (a new
 * page, or a segment after a switch) it is taken back to the page's
 * start: no record lies between, and a standby that has replayed all
 * reports the start, which it would otherwise never reach while nothing
 * is written. On the standby, as far as it had replayed then. */
const char dbpool_wal_position_sql[] =
    "SELECT (CASE WHEN o = 40 THEN l - 40"
    "             WHEN o % current_setting('wal_block_size')::integer = 24 THEN l - 24"
    "             ELSE l END)::text"
    "  FROM pg_current_wal_insert_lsn() l,"
    "       LATERAL (SELECT (pg_walfile_name_offset(l)).file_offset AS o) w";
static const char replayed_sql[] = "SELECT pg_last_wal_replay_lsn()::text";

struct dbjob {
	struct dbjob *next; /* in the pool's queue, then in a connection's flight */
	const char *sql;
	char *sql_copy;   /* SQL built at run time, until a session keeps it */
	int by_text;      /* match prepared statements by text, not address */
	int planned;      /* never prepared: planned for its parameters each time */
	int generic;      /* run by its generic plan, when sent prepared */
	int generic_sent; /* and it was: generic_sql goes before it */
	int quick;        /* one of the pool's quick statements */
	int grouped;      /* may share its transaction (dbpool_query_grouped) */
	int alone;        /* grouped, but its group failed: runs on its own now */
	int no_sync;      /* in flight in a group, before its last job */
	int group_end;    /* in flight as the last job of a group: has the Sync */
	int commit_error; /* its Sync's commit failed: 1, and 2 once that error's end was read */
	enum job_phase phase;
	int64_t at_us;    /* monotonic: when queued, then when sent */
	int slot;         /* the prepared statement it prepares, or -1 */
	PGresult *result; /* the first error, else the last result */
	int nparams;
	char **params; /* copies: the caller's buffers may be gone by dispatch */
	db_result_cb cb;
	void *arg;
	/* A read given to a standby's pool: that pool (NULL for any other job),
	 * whether the job is on the standby now (sent behind the guard), whether
	 * the guard stopped it, the floor's token, when it was submitted, and
	 * the guard's position, then the position read behind it (sampled). */
	struct dbpool *standby;
	int on_standby;
	int guard_failed;
	int sampled;
	uint64_t token;
	int64_t submitted_us;
	char lsn[32];
};

/* Jobs in order: a pool's queues, a connection's group so far. */
struct jobq {
	struct dbjob *head, *tail;
	int len;
};

struct dbconn {
	struct dbpool *pool;
	PGconn *pg;
	enum conn_state state;
	int setup_preparing;       /* in SETUP: a hot statement's PQsendPrepare is in flight */
	struct event *ev;          /* read (persistent) once ready; poll events while connecting */
	struct event *wev;         /* write readiness while PQflush has more to send */
	struct event *retry;       /* reconnect timer */
	struct event *deadline;    /* the server must have answered by then */
	int64_t setup_us;          /* monotonic: when SETUP began */
	int64_t heard_us;          /* monotonic: when the server last sent anything */
	struct dbjob *head, *tail; /* jobs in flight, in the order sent */
	int inflight;
	int slow_inflight; /* of those, not quick: nothing may be queued behind */
	int groups;        /* groups in flight (their last jobs among head's) */
	struct jobq held;  /* a group's jobs answered, kept until its Sync */
	PGresult *result;  /* SETUP: the last result of the setup step */
	/* Statements prepared on this session: a literal by its address, SQL
	 * built at run time by its text (kept here). Statement i is named
	 * "lz<i>". One whose Parse failed is dead: never used again. Gone with
	 * the session. */
	struct {
		const char *literal;
		char *text;
		int dead;
	} prepared[MAX_PREPARED];
	int nprepared;
};

struct dbpool {
	struct event_base *base;
	char *conninfo;
	char *setup_sql;
	const char *const *prepare; /* hot statements, NULL-terminated, or NULL */
	const char *const *quick;   /* statements work may be pipelined behind */
	struct dbconn *conns;
	int size;
	int queue_max;
	struct jobq queue;
	struct jobq groupq;        /* grouped jobs waiting for a group to join */
	int groups;                /* groups in flight */
	struct event *kick;        /* dispatches once a reset has freed a group's lane */
	struct event *queue_timer; /* fails work queued longer than the timeout */
	int64_t timeout_ms;        /* statement_timeout */
	int64_t deadline_ms;       /* the client's: timeout_ms and a grace */
	int backoff_ms;
	/* Set when a failure left no connection up; cleared by a successful
	 * connect. While set, work is refused at once; before the first
	 * connection (not down, just not up yet) it waits in the queue. */
	int down;
	db_notify_cb on_notify;
	db_connected_cb on_connected;
	void *cb_arg;
	struct dbpool *primary; /* a standby's pool: where its jobs go otherwise */
	const struct dbpool_floor *floor;
	const char *label; /* "database" or "standby", for logs */
	_Atomic int n_connected, n_busy, n_queued;
	_Atomic uint64_t connect_failures, queries, refused, pipelined, timeouts;
	_Atomic uint64_t grouped, run_again;
	_Atomic uint64_t callback_max_us; /* the longest a callback held the loop */
	_Atomic uint64_t diverted, fallbacks, behind;
};

static void conn_connect(struct dbconn *c);
static void conn_on_event(evutil_socket_t fd, short what, void *arg);
static void pool_dispatch(struct dbpool *p);
static void queue_arm(struct dbpool *p);
static void job_to_primary(struct dbjob *j);
static void pool_kick(evutil_socket_t fd, short what, void *arg);

const char *db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

int db_transient(const PGresult *res)
{
	const char *s = db_sqlstate(res);
	return !strncmp(s, "40", 2) || !strcmp(s, "57014") || !strcmp(s, "55P03");
}

int db_array_add(struct evbuffer *a, const char *s)
{
	char sep = evbuffer_get_length(a) ? ',' : '{';
	if (!s) {
		char null[] = {sep, 'N', 'U', 'L', 'L'};
		return evbuffer_add(a, null, sizeof(null));
	}
	/* An element with nothing to escape (an id, of which a feed has many) goes
	 * in one piece, built here. */
	char one[96];
	size_t n = strcspn(s, "\"\\");
	if (!s[n] && n + 3 <= sizeof(one)) {
		one[0] = sep;
		one[1] = '"';
		memcpy(one + 2, s, n);
		one[n + 2] = '"';
		return evbuffer_add(a, one, n + 3);
	}
	char open[] = {sep, '"'};
	int rc = evbuffer_add(a, open, sizeof(open));
	for (const char *run = s; rc == 0 && *run;) {
		n = strcspn(run, "\"\\");
		rc = evbuffer_add(a, run, n);
		run += n;
		if (rc == 0 && *run) {
			char esc[2] = {'\\', *run++};
			rc = evbuffer_add(a, esc, 2);
		}
	}
	return rc == 0 ? evbuffer_add(a, "\"", 1) : rc;
}

char *db_array_end(struct evbuffer *a)
{
	const char *close = evbuffer_get_length(a) ? "}" : "{}";
	if (evbuffer_add(a, close, strlen(close) + 1) != 0) /* with the NUL */
		return NULL;
	size_t n = evbuffer_get_length(a);
	char *out = malloc(n);
	if (out)
		evbuffer_remove(a, out, n);
	return out;
}

/* ---- jobs ---------------------------------------------------------------- */

/* A result that reports a failure (a query aborted in a pipeline included). */
static int result_failed(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR ||
	       st == PGRES_PIPELINE_ABORTED;
}

static void job_free(struct dbjob *j)
{
	if (!j)
		return;
	free(j->sql_copy);
	PQclear(j->result);
	free(j); /* its params with it */
}

/* The job, its params' pointers and their copies in one allocation: a
 * create's thirty parameters were thirty-two mallocs and as many frees. */
static struct dbjob *job_new(const char *sql, int nparams, const char *const *params,
                             db_result_cb cb, void *arg)
{
	size_t n = nparams > 0 ? (size_t)nparams : 0, bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += params[i] ? strlen(params[i]) + 1 : 0;
	struct dbjob *j = calloc(1, sizeof(*j) + n * sizeof(char *) + bytes);
	if (!j)
		return NULL;
	j->sql = sql;
	j->slot = -1;
	j->cb = cb;
	j->arg = arg;
	if (n) {
		j->params = (char **)(j + 1);
		j->nparams = nparams;
		char *at = (char *)(j->params + n);
		for (size_t i = 0; i < n; i++) {
			if (!params[i])
				continue;
			size_t len = strlen(params[i]) + 1;
			memcpy(at, params[i], len);
			j->params[i] = at;
			at += len;
		}
	}
	return j;
}

/* No answer: a standby's job goes to the primary, any other is told. */
static void job_fail(struct dbjob *j)
{
	if (j->on_standby) {
		job_to_primary(j);
		return;
	}
	if (j->cb)
		j->cb(NULL, j->arg);
	job_free(j);
}

static void jobq_push(struct jobq *q, struct dbjob *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
}

static struct dbjob *jobq_pop(struct jobq *q)
{
	struct dbjob *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
		j->next = NULL;
	}
	return j;
}

/* Into the pool's queue, or its group queue for a job that may join a
 * group; both count as queued. */
static void queue_push(struct dbpool *p, struct dbjob *j)
{
	j->at_us = now_monotonic_us();
	jobq_push(j->grouped && !j->alone ? &p->groupq : &p->queue, j);
	atomic_fetch_add(&p->n_queued, 1);
}

static struct dbjob *queue_pop_from(struct dbpool *p, struct jobq *q)
{
	struct dbjob *j = jobq_pop(q);
	if (j)
		atomic_fetch_sub(&p->n_queued, 1);
	return j;
}

static struct dbjob *queue_pop(struct dbpool *p)
{
	return queue_pop_from(p, &p->queue);
}

/* The pool's oldest queued job, of either queue. */
static struct jobq *queue_oldest(struct dbpool *p)
{
	struct dbjob *a = p->queue.head, *g = p->groupq.head;
	if (!a && !g)
		return NULL;
	return !g || (a && a->at_us <= g->at_us) ? &p->queue : &p->groupq;
}

/* With no connection left, queued work would wait for seconds: fail it. */
static void queue_fail_all(struct dbpool *p)
{
	struct jobq *q;
	while ((q = queue_oldest(p)))
		job_fail(queue_pop_from(p, q));
}

/* When the grouped job waiting longest may go without waiting for a
 * lane (monotonic us); meaningful while one is waiting. */
static int64_t group_overdue_at(const struct dbpool *p)
{
	return p->groupq.head->at_us + GROUP_WAIT_MS * 1000;
}

/* The queue timer: set for when the oldest queued job has waited the
 * timeout, or a grouped job GROUP_WAIT_MS if that is later than now and
 * sooner; off with nothing queued. */
static void queue_arm(struct dbpool *p)
{
	struct jobq *q = queue_oldest(p);
	if (!q) {
		evtimer_del(p->queue_timer);
		return;
	}
	int64_t now = now_monotonic_us();
	int64_t left = q->head->at_us + p->timeout_ms * 1000 - now;
	if (p->groupq.head && group_overdue_at(p) > now && group_overdue_at(p) - now < left)
		left = group_overdue_at(p) - now;
	if (left < 0)
		left = 0;
	struct timeval tv = {left / 1000000, left % 1000000};
	evtimer_add(p->queue_timer, &tv);
}

static void queue_expire(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct dbpool *p = arg;
	pool_dispatch(p); /* grouped jobs overdue, when a connection is free */
	int64_t now = now_monotonic_us();
	struct jobq *q;
	/* Callbacks may queue more work: that is newer, and stops the loop. */
	while ((q = queue_oldest(p)) && q->head->at_us + p->timeout_ms * 1000 <= now) {
		atomic_fetch_add(&p->timeouts, 1);
		job_fail(queue_pop_from(p, q));
	}
	queue_arm(p);
}

/* ---- connection lifecycle ------------------------------------------------ */

static void conn_clear_events(struct dbconn *c)
{
	if (c->ev) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->wev) {
		event_free(c->wev);
		c->wev = NULL;
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	conn_connect(arg);
}

static void schedule_reconnect(struct dbconn *c)
{
	struct dbpool *p = c->pool;
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
	struct timeval tv = timeval_ms(p->backoff_ms);
	evtimer_add(c->retry, &tv);
}

static void forget_prepared(struct dbconn *c)
{
	for (int i = 0; i < c->nprepared; i++)
		free(c->prepared[i].text);
	c->nprepared = 0;
}

/* Takes the jobs in flight off the connection, in order: a group's
 * answered jobs first, then the rest. */
static struct dbjob *conn_take_flight(struct dbconn *c)
{
	struct dbjob *j = c->head;
	if (j)
		atomic_fetch_sub(&c->pool->n_busy, 1);
	if (c->held.head) {
		c->held.tail->next = j;
		j = c->held.head;
	}
	c->held = (struct jobq){0};
	c->head = c->tail = NULL;
	c->inflight = c->slow_inflight = 0;
	if (c->groups) {
		c->pool->groups -= c->groups;
		c->groups = 0;
		if (c->pool->groupq.head)
			event_active(c->pool->kick, EV_TIMEOUT, 0);
	}
	return j;
}

/* Drops the connection, fails whatever it was doing, and plans a retry. */
static void conn_reset(struct dbconn *c, const char *why)
{
	struct dbpool *p = c->pool;
	int was_ready = c->state == C_READY;
	if (why)
		log_warn("%s connection lost: %s", p->label, why);
	conn_clear_events(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	c->state = C_DOWN;
	evtimer_del(c->deadline);
	forget_prepared(c);
	if (was_ready)
		atomic_fetch_sub(&p->n_connected, 1);
	else
		atomic_fetch_add(&p->connect_failures, 1);
	struct dbjob *j = conn_take_flight(c);
	schedule_reconnect(c);
	if (atomic_load(&p->n_connected) == 0) {
		p->down = 1;
		queue_fail_all(p);
	}
	/* Whether they ran is unknown: each is told it failed. */
	while (j) {
		struct dbjob *next = j->next;
		job_fail(j);
		j = next;
	}
}

/* The deadline timer: for the end of SETUP, or for the oldest job in flight
 * (the others were sent after it); off when idle. */
static int64_t conn_waiting_since(const struct dbconn *c)
{
	if (c->state == C_SETUP)
		return c->setup_us;
	if (c->state == C_READY && c->head)
		return c->head->at_us;
	return -1;
}

static void conn_arm_deadline(struct dbconn *c)
{
	int64_t since = conn_waiting_since(c);
	if (since < 0) {
		evtimer_del(c->deadline);
		return;
	}
	int64_t left = since + c->pool->deadline_ms * 1000 - now_monotonic_us();
	if (left < 0)
		left = 0;
	struct timeval tv = {left / 1000000, left % 1000000};
	evtimer_add(c->deadline, &tv);
}

static void conn_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct dbconn *c = arg;
	struct dbpool *p = c->pool;
	int64_t since = conn_waiting_since(c);
	if (since < 0)
		return;
	if (now_monotonic_us() < since + p->deadline_ms * 1000) {
		conn_arm_deadline(c);
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "the database did not answer within %lld ms",
	         (long long)p->deadline_ms);
	atomic_fetch_add(&p->timeouts, 1);
	conn_reset(c, why);
	/* The server is frozen or out of reach, most likely: the connections
	 * that have heard nothing from it since would hang the same way. */
	for (int i = 0; i < p->size; i++) {
		struct dbconn *o = &p->conns[i];
		if (o != c && o->state == C_READY && o->heard_us < since)
			conn_reset(o, "no answer from the database on another connection either");
	}
}

static int conn_watch(struct dbconn *c, short what, const struct timeval *tv)
{
	conn_clear_events(c);
	c->ev = event_new(c->pool->base, PQsocket(c->pg), what, conn_on_event, c);
	if (!c->ev || event_add(c->ev, tv) != 0)
		return -1;
	return 0;
}

static void conn_poll_connect(struct dbconn *c)
{
	struct timeval tv = {CONNECT_TIMEOUT_S, 0};
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		if (conn_watch(c, EV_READ, &tv))
			conn_reset(c, "out of memory");
		return;
	case PGRES_POLLING_WRITING:
		if (conn_watch(c, EV_WRITE, &tv))
			conn_reset(c, "out of memory");
		return;
	case PGRES_POLLING_OK: break;
	default:
		log_debug("database connect failed: %s", PQerrorMessage(c->pg));
		conn_reset(c, NULL);
		return;
	}
	/* The socket may have changed during PQconnectPoll: watch it anew. */
	if (PQsetnonblocking(c->pg, 1) != 0 || conn_watch(c, EV_READ | EV_PERSIST, NULL) != 0) {
		conn_reset(c, "cannot set up the connection");
		return;
	}
	c->wev = event_new(c->pool->base, PQsocket(c->pg), EV_WRITE, conn_on_event, c);
	if (!c->wev || PQsendQuery(c->pg, c->pool->setup_sql) != 1) {
		conn_reset(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = C_SETUP;
	c->setup_preparing = 0;
	c->setup_us = now_monotonic_us();
	conn_arm_deadline(c);
	if (PQflush(c->pg) == 1)
		event_add(c->wev, NULL);
}

/* A notice the server sends (a RAISE WARNING of a trigger): into the
 * daemon's log, not the line libpq's default writes to stderr. */
static void on_notice(void *arg, const PGresult *res)
{
	const struct dbpool *p = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (severity && !strcmp(severity, "WARNING"))
		log_warn("%s warns: %s", p->label, msg ? msg : "");
	else
		log_info("%s notice: %s", p->label, msg ? msg : "");
}

static void conn_connect(struct dbconn *c)
{
	/* Keepalives first: the conninfo (dbname, expanded) may override them.
	 * libpq ignores them on a Unix socket. */
	char user_timeout[24];
	snprintf(user_timeout, sizeof(user_timeout), "%lld", (long long)c->pool->deadline_ms);
	const char *keys[] = {
	    "keepalives",       "keepalives_idle", "keepalives_interval",       "keepalives_count",
	    "tcp_user_timeout", "dbname",          "fallback_application_name", NULL};
	const char *vals[] = {"1",        "10", "5", "3", user_timeout, c->pool->conninfo,
	                      "liaisond", NULL};
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		c->state = C_CONNECTING; /* so that reset counts a failure */
		conn_reset(c, NULL);
		return;
	}
	PQsetNoticeReceiver(c->pg, on_notice, c->pool);
	c->state = C_CONNECTING;
	conn_poll_connect(c);
}

/* The session settings are in place: the connection can take work. */
static void conn_ready(struct dbconn *c)
{
	struct dbpool *p = c->pool;
	if (PQenterPipelineMode(c->pg) != 1) {
		conn_reset(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = C_READY;
	c->heard_us = now_monotonic_us();
	conn_arm_deadline(c);
	p->backoff_ms = 0;
	p->down = 0;
	int first = atomic_fetch_add(&p->n_connected, 1) == 0;
	if (first)
		log_info("%s connected", p->label);
	if (p->on_connected)
		p->on_connected(p->cb_arg);
	pool_dispatch(p);
}

/* Prepares the pool's next hot statement on a new session, or, with all
 * prepared, makes it ready. A new backend loads the catalog entries of the
 * tables a statement uses when it first plans one: done here, that cost
 * and the Parse round trip do not fall on the first requests. */
static void conn_setup_next(struct dbconn *c)
{
	const char *const *hot = c->pool->prepare;
	int k = c->nprepared;
	if (!hot || k >= MAX_PREPARED || !hot[k]) {
		conn_ready(c);
		return;
	}
	char name[16];
	snprintf(name, sizeof(name), "lz%d", k);
	if (PQsendPrepare(c->pg, name, hot[k], 0, NULL) != 1) {
		conn_reset(c, PQerrorMessage(c->pg));
		return;
	}
	c->setup_preparing = 1;
	if (PQflush(c->pg) == 1)
		event_add(c->wev, NULL);
}

/* A result during SETUP: the session settings, which must succeed, or a
 * hot statement, which need not (it is then prepared on first use, where
 * its error reaches the caller). */
static void conn_setup_result(struct dbconn *c, int failed)
{
	const char *const *hot = c->pool->prepare;
	int was_prepare = c->setup_preparing;
	c->setup_preparing = 0;
	if (failed && !was_prepare) {
		log_error("database session setup failed: %s", PQresultErrorMessage(c->result));
		conn_reset(c, NULL);
		return;
	}
	if (failed)
		log_warn("preparing a statement at connect failed: %s",
		         PQresultErrorMessage(c->result));
	PQclear(c->result);
	c->result = NULL;
	if (failed) {
		conn_ready(c);
		return;
	}
	if (was_prepare) {
		c->prepared[c->nprepared].literal = hot[c->nprepared];
		c->prepared[c->nprepared].text = NULL;
		c->prepared[c->nprepared].dead = 0;
		c->nprepared++;
	}
	conn_setup_next(c);
}

/* ---- queries ------------------------------------------------------------- */

static int prepared_index(const struct dbconn *c, const struct dbjob *j)
{
	for (int i = 0; i < c->nprepared; i++) {
		if (c->prepared[i].dead)
			continue;
		if (j->by_text ? c->prepared[i].text && !strcmp(c->prepared[i].text, j->sql)
		               : c->prepared[i].literal == j->sql)
			return i;
	}
	return -1;
}

/* The phase whose results come after those of phase ph. */
static enum job_phase phase_after(const struct dbjob *j, enum job_phase ph)
{
	switch (ph) {
	case J_PREPARE: return j->on_standby ? J_GUARD : phase_after(j, J_GUARD);
	case J_GUARD: return j->generic_sent ? J_GENERIC : J_QUERY;
	case J_GENERIC: return J_QUERY;
	case J_QUERY: return j->standby ? J_SAMPLE : J_SYNC;
	default: return J_SYNC;
	}
}

/* Sends the job: as a prepared statement when the session has it (or has
 * its Parse in flight: the server takes messages in order), prepared
 * first when there is room, as a one-off statement otherwise; on a standby
 * the guard before it (after the Parse, so that a guard that fails does not
 * leave the statement unprepared), then for a generic job sent prepared
 * the setting that has it run by its generic plan, on the primary after a
 * standby's job the reading of the WAL position behind it; then its Sync. */
static int conn_send_statement(struct dbconn *c, struct dbjob *j)
{
	const char *const *params = (const char *const *)j->params;
	char name[16];
	int idx = prepared_index(c, j);
	int prepare = idx < 0 && !j->planned && c->nprepared < MAX_PREPARED;
	j->slot = -1;
	j->generic_sent = j->generic && (idx >= 0 || prepare);
	if (prepare) {
		idx = c->nprepared;
		/* A job on a standby may move to the primary after this session
		 * is gone: it keeps its own text. */
		char *text = j->by_text && j->on_standby ? strdup(j->sql) : j->sql_copy;
		snprintf(name, sizeof(name), "lz%d", idx);
		if ((j->by_text && !text) ||
		    PQsendPrepare(c->pg, name, j->sql, j->nparams, NULL) != 1) {
			if (text != j->sql_copy)
				free(text);
			return -1;
		}
		/* The session keeps the statement from here on: later jobs may
		 * use it before its Parse is answered. */
		c->prepared[idx].literal = j->by_text ? NULL : j->sql;
		c->prepared[idx].text = j->by_text ? text : NULL;
		c->prepared[idx].dead = 0;
		if (j->by_text && text == j->sql_copy)
			j->sql_copy = NULL; /* j->sql still points to it */
		c->nprepared++;
		j->slot = idx;
		j->phase = J_PREPARE;
	} else {
		j->phase = phase_after(j, J_PREPARE);
	}
	const char *guard_params[] = {j->lsn};
	if (j->on_standby &&
	    PQsendQueryParams(c->pg, guard_sql, 1, NULL, guard_params, NULL, NULL, 0) != 1)
		return -1;
	if (j->generic_sent &&
	    PQsendQueryParams(c->pg, generic_sql, 0, NULL, NULL, NULL, NULL, 0) != 1)
		return -1;
	int sent;
	if (idx >= 0) {
		snprintf(name, sizeof(name), "lz%d", idx);
		sent = PQsendQueryPrepared(c->pg, name, j->nparams, params, NULL, NULL, 0);
	} else {
		sent = PQsendQueryParams(c->pg, j->sql, j->nparams, NULL, params, NULL, NULL, 0);
	}
	if (sent == 1 && phase_after(j, J_QUERY) == J_SAMPLE)
		sent =
		    PQsendQueryParams(c->pg, j->on_standby ? replayed_sql : dbpool_wal_position_sql,
		                      0, NULL, NULL, NULL, NULL, 0);
	/* In a group, the group's last job sends the Sync. The server sends
	 * what it has only at a Sync, or when asked: asked after each job, its
	 * answer comes when it is done, so that the connection's deadline sees
	 * a group of slow statements move on rather than a silent server. */
	if (sent == 1 && j->no_sync)
		return PQsendFlushRequest(c->pg) == 1 ? 0 : -1;
	return sent == 1 && PQpipelineSync(c->pg) == 1 ? 0 : -1;
}

/* Puts the job in flight on c; flush: and sends what is buffered (a
 * group's jobs go out together). On failure the connection is reset,
 * which fails the job with the others in flight. */
static void conn_send(struct dbconn *c, struct dbjob *j, int flush)
{
	struct dbpool *p = c->pool;
	j->next = NULL;
	j->at_us = now_monotonic_us();
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	if (c->head == j)
		conn_arm_deadline(c);
	if (c->inflight++ == 0)
		atomic_fetch_add(&p->n_busy, 1);
	else
		atomic_fetch_add(&p->pipelined, 1);
	if (!j->quick)
		c->slow_inflight++;
	atomic_fetch_add(&p->queries, 1);
	if (conn_send_statement(c, j) != 0) {
		conn_reset(c, PQerrorMessage(c->pg));
		return;
	}
	if (!flush)
		return;
	int f = PQflush(c->pg);
	if (f < 0) {
		conn_reset(c, PQerrorMessage(c->pg));
		return;
	}
	if (f == 1)
		event_add(c->wev, NULL);
}

/* Whether c can take a job now: idle, or with only quick jobs in flight
 * and room behind them. */
static int conn_can_take(const struct dbconn *c)
{
	return c->state == C_READY &&
	       (c->inflight == 0 || (c->slow_inflight == 0 && c->inflight < PIPELINE_MAX));
}

/* The connection a job goes to now: an idle one, else the one with the
 * fewest quick jobs in flight and room behind them; NULL: it must queue. */
static struct dbconn *find_taker(struct dbpool *p)
{
	struct dbconn *best = NULL;
	for (int i = 0; i < p->size; i++) {
		struct dbconn *c = &p->conns[i];
		if (!conn_can_take(c))
			continue;
		if (c->inflight == 0)
			return c;
		if (!best || c->inflight < best->inflight)
			best = c;
	}
	return best;
}

/* Sends the grouped jobs waiting, up to GROUP_MAX, to c as one
 * transaction: a Sync after the last only. */
static void conn_send_group(struct dbconn *c)
{
	struct dbpool *p = c->pool;
	int n = p->groupq.len < GROUP_MAX ? p->groupq.len : GROUP_MAX;
	p->groups++;
	c->groups++;
	if (n > 1)
		atomic_fetch_add(&p->grouped, (uint64_t)n);
	for (int i = 0; i < n && c->state == C_READY; i++) {
		struct dbjob *j = queue_pop_from(p, &p->groupq);
		j->no_sync = i < n - 1;
		j->group_end = i == n - 1;
		conn_send(c, j, i == n - 1);
	}
}

/* Sends queued jobs, in order, while a connection can take them; then,
 * while fewer than GROUP_LANES groups are in flight, or the grouped job
 * waiting longest has waited GROUP_WAIT_MS, the grouped ones. */
static void pool_dispatch(struct dbpool *p)
{
	struct dbconn *c;
	while (p->queue.head && (c = find_taker(p)))
		conn_send(c, queue_pop(p), 1);
	while (p->groupq.head &&
	       (p->groups < GROUP_LANES || group_overdue_at(p) <= now_monotonic_us()) &&
	       (c = find_taker(p)))
		conn_send_group(c);
}

static void pool_kick(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct dbpool *p = arg;
	pool_dispatch(p);
	queue_arm(p);
}

/* Keeps a result of the job at the head: the first error wins, else the
 * query's result. An aborted query (after its Parse or a guard failed)
 * reports that error. The WAL position after it is kept aside. */
static void job_keep(struct dbjob *j, PGresult *r)
{
	if (j->phase == J_SAMPLE) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    !PQgetisnull(r, 0, 0) && PQgetlength(r, 0, 0) < (int)sizeof(j->lsn)) {
			memcpy(j->lsn, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0) + 1);
			j->sampled = 1;
		}
		PQclear(r);
		return;
	}
	if ((j->result && result_failed(j->result)) || (j->phase != J_QUERY && !result_failed(r))) {
		PQclear(r); /* after the first error, or the Parse's or guard's success */
		return;
	}
	if (j->phase == J_GUARD)
		j->guard_failed = 1;
	PQclear(j->result);
	j->result = r;
}

/* Takes the job at the head off the connection. */
static void conn_pop_head(struct dbconn *c)
{
	struct dbjob *j = c->head;
	c->head = j->next;
	if (!c->head) {
		c->tail = NULL;
		atomic_fetch_sub(&c->pool->n_busy, 1);
	} else {
		/* The server runs the jobs of a connection one after another,
		 * each under its own statement_timeout: the next one's deadline
		 * counts from now (a group of slow but healthy statements is not
		 * a frozen server). */
		int64_t now = now_monotonic_us();
		if (c->head->at_us < now)
			c->head->at_us = now;
	}
	c->inflight--;
	if (!j->quick)
		c->slow_inflight--;
	j->next = NULL;
}

/* A group's Sync came back after its last job, j: the group, held jobs
 * and j, committed together, goes to *done; if any of them failed, all
 * were rolled back, and each goes to *again to run on its own, so that a
 * failure is its own job's alone and the others run as they would have
 * without the group (a statement cancelled at its deadline is answered
 * as such: run again, it would wait as long). */
static void group_finish(struct dbconn *c, struct dbjob *j, struct jobq *done, struct jobq *again)
{
	int failed = 0, single = !c->held.head;
	jobq_push(&c->held, j);
	c->groups--;
	c->pool->groups--;
	for (struct dbjob *m = c->held.head; m; m = m->next)
		failed |= m->result && result_failed(m->result);
	struct dbjob *m;
	while ((m = jobq_pop(&c->held))) {
		m->no_sync = m->group_end = 0;
		if (!failed || single || (m->result && !strcmp(db_sqlstate(m->result), "57014"))) {
			jobq_push(done, m);
			continue;
		}
		PQclear(m->result);
		m->result = NULL;
		m->alone = 1;
		atomic_fetch_add(&c->pool->run_again, 1);
		jobq_push(again, m);
	}
}

/* Reads the answers of the jobs in flight as far as they have come; the
 * finished ones are taken off the connection and put in done, in order,
 * and a failed group's in again. Returns -1 when the server said something
 * out of turn. */
static int conn_collect_flight(struct dbconn *c, struct jobq *done, struct jobq *again)
{
	while (c->head && !PQisBusy(c->pg)) {
		struct dbjob *j = c->head;
		if (j->phase == J_SYNC && j->no_sync) {
			conn_pop_head(c); /* answered; its group's Sync is still to come */
			jobq_push(&c->held, j);
			continue;
		}
		PGresult *r = PQgetResult(c->pg);
		if (j->phase != J_SYNC) {
			if (!r) {
				/* At a Parse's end only an error was kept: then the
				 * statement is not there, under that name, for anyone. */
				if (j->phase == J_PREPARE && j->result)
					c->prepared[j->slot].dead = 1;
				j->phase = phase_after(j, j->phase);
			} else {
				job_keep(j, r);
			}
			continue;
		}
		if (!r && j->commit_error == 1) {
			j->commit_error = 2; /* the end of the commit's error */
			continue;
		}
		if (!r)
			break; /* the Sync's answer has not come yet */
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_FATAL_ERROR && !j->commit_error) {
			/* The commit at the Sync failed (a deferred constraint): the
			 * job failed with it; its Sync follows. */
			j->commit_error = 1;
			if (!j->result || !result_failed(j->result)) {
				PQclear(j->result);
				j->result = r;
			} else {
				PQclear(r);
			}
			continue;
		}
		PQclear(r);
		if (st != PGRES_PIPELINE_SYNC)
			return -1;
		conn_pop_head(c);
		if (j->group_end)
			group_finish(c, j, done, again);
		else
			jobq_push(done, j);
	}
	return 0;
}

/* Runs the callbacks of finished jobs, timing each: the longest is how long
 * work on results (a feed's rendering above all) has held this loop. */
static void jobs_deliver(struct dbpool *p, struct dbjob *j)
{
	while (j) {
		struct dbjob *next = j->next;
		PGresult *res = j->result;
		j->result = NULL;
		if (res && !strcmp(db_sqlstate(res), "57014")) {
			/* Cancelled at its deadline (statement_timeout): to the caller
			 * the database did not answer in time. */
			atomic_fetch_add(&p->timeouts, 1);
			log_warn("%s statement cancelled at its deadline (%lld ms): %.60s",
			         p->label, (long long)p->timeout_ms, j->sql);
			PQclear(res);
			res = NULL;
		}
		if (j->on_standby && (!res || result_failed(res))) {
			/* Behind its floor, or failed there (a conflict with
			 * recovery, say): the primary answers. */
			if (j->guard_failed) {
				atomic_fetch_add(&p->behind, 1);
				p->floor->behind(p->floor->arg);
			}
			if (res)
				log_debug("standby: %s", PQresultErrorMessage(res));
			PQclear(res);
			job_to_primary(j);
			j = next;
			continue;
		}
		if (j->sampled && j->on_standby) {
			const struct dbpool_floor *f = j->standby->floor;
			f->seen(f->arg, j->lsn);
		} else if (j->sampled) {
			const struct dbpool_floor *f = j->standby->floor;
			f->sampled(f->arg, j->lsn, j->token, j->submitted_us);
		}
		if (j->cb) {
			int64_t t0 = now_monotonic_us();
			j->cb(res, j->arg);
			uint64_t held = (uint64_t)(now_monotonic_us() - t0);
			if (held > atomic_load_explicit(&p->callback_max_us, memory_order_relaxed))
				atomic_store_explicit(&p->callback_max_us, held,
				                      memory_order_relaxed);
		}
		PQclear(res);
		job_free(j);
		j = next;
	}
}

static void conn_drain_notifies(struct dbconn *c)
{
	PGnotify *n;
	while ((n = PQnotifies(c->pg))) {
		if (c->pool->on_notify)
			c->pool->on_notify(n->relname, n->extra, c->pool->cb_arg);
		PQfreemem(n);
	}
}

/* SETUP: collects the step's results; returns 1 once PQgetResult said NULL. */
static int conn_collect(struct dbconn *c, int *failed)
{
	while (!PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (!r)
			return 1;
		if (result_failed(r))
			*failed = 1;
		/* Keep the first error, else the last result. */
		if (c->result && result_failed(c->result)) {
			PQclear(r);
		} else {
			PQclear(c->result);
			c->result = r;
		}
	}
	return 0;
}

static void conn_on_readable(struct dbconn *c)
{
	if (PQconsumeInput(c->pg) != 1 || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_reset(c, PQerrorMessage(c->pg));
		return;
	}
	c->heard_us = now_monotonic_us();
	conn_drain_notifies(c);
	if (c->state == C_SETUP) {
		int failed = 0;
		if (conn_collect(c, &failed))
			conn_setup_result(c, failed);
		return;
	}
	if (!c->head) {
		/* Idle: an error or stray result here means the session is unusable. */
		if (!PQisBusy(c->pg)) {
			PGresult *r = PQgetResult(c->pg);
			if (r) {
				PQclear(r);
				conn_reset(c, "unexpected message from server");
			}
		}
		return;
	}
	struct jobq done = {0}, again = {0};
	PGconn *pg = c->pg;
	int bad = conn_collect_flight(c, &done, &again);
	/* Callbacks may submit work, which may reset this connection: they run
	 * with its state consistent, and the reset below only if it is still
	 * the same session. */
	jobs_deliver(c->pool, done.head);
	/* Taken whatever the queue holds: they were taken once already. */
	struct dbjob *j;
	while ((j = jobq_pop(&again)))
		queue_push(c->pool, j);
	if (queue_oldest(c->pool) && !evtimer_pending(c->pool->queue_timer, NULL))
		queue_arm(c->pool);
	if (bad && c->pg == pg && c->state == C_READY)
		conn_reset(c, "unexpected result in a pipeline");
	else if (c->pg == pg && c->state == C_READY)
		conn_arm_deadline(c); /* for the job now oldest, or off */
	pool_dispatch(c->pool);
}

static void conn_on_event(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	struct dbconn *c = arg;
	if (c->state == C_CONNECTING) {
		if (what & EV_TIMEOUT) {
			conn_reset(c, "connect timed out");
			return;
		}
		conn_poll_connect(c);
		return;
	}
	if (what & EV_WRITE) {
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_reset(c, PQerrorMessage(c->pg));
			return;
		}
		if (f == 1)
			event_add(c->wev, NULL);
	}
	if (what & EV_READ) {
		conn_on_readable(c);
		/* PQflush after reading: libpq may have needed input to send more. */
		if (c->pg && c->state != C_DOWN && c->head && PQflush(c->pg) == 1)
			event_add(c->wev, NULL);
	}
}

/* ---- public API ---------------------------------------------------------- */

struct dbpool *dbpool_new(struct event_base *base, const struct dbpool_options *opt)
{
	struct dbpool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = base;
	p->size = opt->size > 0 ? opt->size : 1;
	p->queue_max = opt->queue_max > 0 ? opt->queue_max : 1;
	p->on_notify = opt->on_notify;
	p->on_connected = opt->on_connected;
	p->cb_arg = opt->cb_arg;
	p->prepare = opt->prepare;
	p->quick = opt->quick;
	if (opt->primary && opt->floor) {
		p->primary = opt->primary;
		p->floor = opt->floor;
	}
	p->label = p->primary ? "standby" : "database";
	p->timeout_ms = opt->query_timeout_ms > 0 ? opt->query_timeout_ms : DBPOOL_QUERY_TIMEOUT_MS;
	int64_t grace = p->timeout_ms / 4;
	grace = grace < GRACE_MIN_MS ? GRACE_MIN_MS : grace > GRACE_MAX_MS ? GRACE_MAX_MS : grace;
	p->deadline_ms = p->timeout_ms + grace;
	p->conninfo = strdup(opt->conninfo ? opt->conninfo : "");
	size_t n = sizeof(base_setup_sql) + 48 + (opt->setup_sql ? strlen(opt->setup_sql) + 2 : 0);
	p->setup_sql = malloc(n);
	p->conns = calloc((size_t)p->size, sizeof(struct dbconn));
	p->queue_timer = evtimer_new(base, queue_expire, p);
	p->kick = evtimer_new(base, pool_kick, p);
	if (!p->conninfo || !p->setup_sql || !p->conns || !p->queue_timer || !p->kick)
		goto fail;
	snprintf(p->setup_sql, n, "%s; SET statement_timeout = %lld%s%s", base_setup_sql,
	         (long long)p->timeout_ms, opt->setup_sql ? "; " : "",
	         opt->setup_sql ? opt->setup_sql : "");
	for (int i = 0; i < p->size; i++) {
		p->conns[i].pool = p;
		p->conns[i].retry = evtimer_new(base, retry_cb, &p->conns[i]);
		p->conns[i].deadline = evtimer_new(base, conn_on_deadline, &p->conns[i]);
		if (!p->conns[i].retry || !p->conns[i].deadline)
			goto fail;
	}
	for (int i = 0; i < p->size; i++)
		conn_connect(&p->conns[i]);
	return p;
fail:
	dbpool_free(p);
	return NULL;
}

int dbpool_idle(const struct dbpool *p)
{
	if (p->queue.head || p->groupq.head)
		return 0;
	for (int i = 0; p->conns && i < p->size; i++)
		if (p->conns[i].head || p->conns[i].held.head)
			return 0;
	return 1;
}

void dbpool_free(struct dbpool *p)
{
	if (!p)
		return;
	struct dbjob *j;
	while ((j = queue_pop(p)) || (j = queue_pop_from(p, &p->groupq)))
		job_free(j);
	for (int i = 0; p->conns && i < p->size; i++) {
		struct dbconn *c = &p->conns[i];
		while ((j = jobq_pop(&c->held)))
			job_free(j);
		conn_clear_events(c);
		if (c->retry)
			event_free(c->retry);
		if (c->deadline)
			event_free(c->deadline);
		if (c->pg)
			PQfinish(c->pg);
		PQclear(c->result);
		for (struct dbjob *f = c->head, *next; f; f = next) {
			next = f->next;
			job_free(f);
		}
		forget_prepared(c);
	}
	free(p->conns);
	if (p->queue_timer)
		event_free(p->queue_timer);
	if (p->kick)
		event_free(p->kick);
	free(p->setup_sql);
	free(p->conninfo);
	free(p);
}

static int is_quick(const struct dbpool *p, const char *sql)
{
	for (const char *const *q = p->quick; q && *q; q++)
		if (*q == sql)
			return 1;
	return 0;
}

/* Takes j, or refuses it (-1) and leaves it to the caller. */
static int submit(struct dbpool *p, struct dbjob *j)
{
	int must_wait = !find_taker(p) || (j->grouped && !j->alone && p->groups >= GROUP_LANES);
	if ((p->down && atomic_load(&p->n_connected) == 0) ||
	    (atomic_load(&p->n_queued) >= p->queue_max && must_wait)) {
		atomic_fetch_add(&p->refused, 1);
		return -1;
	}
	j->quick = !j->by_text && is_quick(p, j->sql);
	/* Behind work already queued, so that jobs keep their order. */
	queue_push(p, j);
	pool_dispatch(p);
	if (queue_oldest(p) && !evtimer_pending(p->queue_timer, NULL))
		queue_arm(p);
	return 0;
}

/* A standby's job that will not be answered there: to the primary, as
 * it is, or, refused there too, told it failed. */
static void job_to_primary(struct dbjob *j)
{
	struct dbpool *standby = j->standby;
	if (j->on_standby)
		atomic_fetch_add(&standby->fallbacks, 1);
	j->on_standby = 0;
	j->guard_failed = 0;
	j->sampled = 0; /* a standby's position says nothing of the primary */
	j->next = NULL;
	PQclear(j->result);
	j->result = NULL;
	if (submit(standby->primary, j) != 0)
		job_fail(j);
}

/* A standby's pool: to the standby when the floor and the pool allow,
 * else to the primary. */
static int submit_read(struct dbpool *p, struct dbjob *j)
{
	j->standby = p;
	j->submitted_us = now_monotonic_us();
	int ok = p->floor->route(p->floor->arg, j->lsn, sizeof(j->lsn), &j->token);
	if (ok && atomic_load(&p->n_connected) > 0) {
		j->on_standby = 1;
		if (submit(p, j) == 0)
			return 0;
		j->on_standby = 0;
	}
	atomic_fetch_add(&p->diverted, 1);
	return submit(p->primary, j);
}

static int submit_job(struct dbpool *p, struct dbjob *j)
{
	int rc = p->primary ? submit_read(p, j) : submit(p, j);
	if (rc != 0)
		job_free(j);
	return rc;
}

/* A job of a literal; generic: run by its generic plan. */
static int query_literal(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                         db_result_cb cb, void *arg, int generic)
{
	struct dbjob *j = job_new(sql, nparams, params, cb, arg);
	if (!j)
		return -1;
	j->generic = generic;
	return submit_job(p, j);
}

int dbpool_query(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                 db_result_cb cb, void *arg)
{
	return query_literal(p, sql, nparams, params, cb, arg, 0);
}

int dbpool_query_generic(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                         db_result_cb cb, void *arg)
{
	return query_literal(p, sql, nparams, params, cb, arg, 1);
}

int dbpool_query_grouped(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                         db_result_cb cb, void *arg)
{
	if (p->primary) /* a standby's pool: a write goes to the primary */
		return dbpool_query_grouped(p->primary, sql, nparams, params, cb, arg);
	struct dbjob *j = job_new(sql, nparams, params, cb, arg);
	if (!j)
		return -1;
	j->grouped = 1;
	return submit_job(p, j);
}

/* A job of SQL built at run time (copied); planned: never prepared;
 * generic: run by its generic plan. */
static int query_built(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                       db_result_cb cb, void *arg, int planned, int generic)
{
	struct dbjob *j = job_new(sql, nparams, params, cb, arg);
	if (!j || !(j->sql_copy = strdup(sql))) {
		job_free(j);
		return -1;
	}
	j->sql = j->sql_copy;
	j->by_text = 1;
	j->planned = planned;
	j->generic = generic;
	return submit_job(p, j);
}

int dbpool_query_text(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                      db_result_cb cb, void *arg)
{
	return query_built(p, sql, nparams, params, cb, arg, 0, 0);
}

int dbpool_query_text_generic(struct dbpool *p, const char *sql, int nparams,
                              const char *const *params, db_result_cb cb, void *arg)
{
	return query_built(p, sql, nparams, params, cb, arg, 0, 1);
}

int dbpool_query_planned(struct dbpool *p, const char *sql, int nparams, const char *const *params,
                         db_result_cb cb, void *arg)
{
	return query_built(p, sql, nparams, params, cb, arg, 1, 0);
}

int dbpool_up(const struct dbpool *p)
{
	return atomic_load(&p->n_connected) > 0;
}

void dbpool_get_stats(const struct dbpool *p, struct dbpool_stats *out)
{
	out->size = p->size;
	out->connected = atomic_load(&p->n_connected);
	out->busy = atomic_load(&p->n_busy);
	out->queued = atomic_load(&p->n_queued);
	out->connect_failures = atomic_load(&p->connect_failures);
	out->queries = atomic_load(&p->queries);
	out->refused = atomic_load(&p->refused);
	out->pipelined = atomic_load(&p->pipelined);
	out->grouped = atomic_load(&p->grouped);
	out->run_again = atomic_load(&p->run_again);
	out->timeouts = atomic_load(&p->timeouts);
	out->callback_max_us = atomic_load(&p->callback_max_us);
	out->diverted = atomic_load(&p->diverted);
	out->fallbacks = atomic_load(&p->fallbacks);
	out->behind = atomic_load(&p->behind);
}
