/* dbpool_probe.c - drives the database pool against a real server and
 * checks what its callers cannot see from outside: pipelining (answers
 * matched to their jobs, an error confined to its job, nothing queued
 * behind a slow query, a lost session failing everything in flight) and
 * statements prepared while others are in flight, generic plans for a
 * job alone, and deadlines: a
 * statement cut by the server at the query timeout, a backend frozen with
 * SIGSTOP (the server holds the session and says nothing) losing its
 * connection a moment later. Run by
 * test_database.py with a conninfo; prints "ok"/"not ok" lines and exits
 * non-zero when a check failed. */
#include "dbpool.h"

#include <event2/event.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* Quick statements are recognised by address: these literals are the ones
 * the pool is given. */
static const char sql_double[] = "SELECT $1::int * 2";
static const char sql_divide[] = "SELECT 100 / $1::int";
static const char sql_bad[] = "SELEC 1 WHERE $1::int = 1";
static const char sql_mode[] = "SELECT current_setting('plan_cache_mode') WHERE $1::int = 1";
static const char sql_kill[] = "SELECT pg_terminate_backend(pg_backend_pid()) WHERE $1::int = 1";
static const char *const quick[] = {sql_double, sql_divide, sql_bad, sql_kill, NULL};
/* Grouped statements (dbpool_query_grouped): a row written, the writer's
 * transaction id back. */
static const char sql_put[] = "INSERT INTO probe_groups (v) VALUES ($1::int)"
                              " RETURNING txid_current()::text";
static const char sql_txid[] = "SELECT txid_current()::text WHERE $1::int = 1";
static const char sql_sleep[] = "SELECT pg_sleep($1::float)::text";
static const char sql_put_deferred[] = "INSERT INTO probe_deferred (v) VALUES ($1::int)"
                                       " RETURNING txid_current()::text";

#define MAXJOBS 32

struct answer {
	int done;
	int ok;           /* PGRES_TUPLES_OK */
	int lost;         /* res NULL: no answer from the server */
	char value[32];   /* first column of the first row */
	char sqlstate[6]; /* of an error */
	double at;        /* when answered (seconds(), monotonic) */
};

static struct event_base *base;
static struct dbpool *pool;
static struct answer answers[MAXJOBS];
static int pending, failures;

static void check(int cond, const char *what)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", what);
	if (!cond)
		failures++;
}

static double seconds(void);

static void on_answer(PGresult *res, void *arg)
{
	struct answer *a = arg;
	a->done = 1;
	a->at = seconds();
	a->lost = !res;
	a->ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	if (a->ok && PQntuples(res) > 0)
		snprintf(a->value, sizeof(a->value), "%s", PQgetvalue(res, 0, 0));
	if (res && !a->ok)
		snprintf(a->sqlstate, sizeof(a->sqlstate), "%s", db_sqlstate(res));
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Runs the loop until every job submitted has its answer (or 10 s). */
static void run_jobs(void)
{
	struct timeval tv = {10, 0};
	struct event *t = evtimer_new(base, on_timeout, NULL);
	if (!t || evtimer_add(t, &tv) != 0)
		abort();
	/* A reconnect breaks the loop too (on_connected): go on. */
	while (pending > 0 && evtimer_pending(t, NULL))
		event_base_dispatch(base);
	event_free(t);
}

typedef int query_fn(struct dbpool *, const char *, int, const char *const *, db_result_cb, void *);

static void submit_with(query_fn *query, int k, const char *sql, const char *param)
{
	memset(&answers[k], 0, sizeof(answers[k]));
	const char *p[] = {param};
	if (query(pool, sql, 1, p, on_answer, &answers[k]) != 0) {
		printf("not ok - submitting job %d\n", k);
		failures++;
		return;
	}
	pending++;
}

static void submit(int k, const char *sql, const char *param)
{
	submit_with(dbpool_query, k, sql, param);
}

static void submit_generic(int k, const char *sql, const char *param)
{
	submit_with(dbpool_query_generic, k, sql, param);
}

static void submit_grouped(int k, const char *sql, const char *param)
{
	submit_with(dbpool_query_grouped, k, sql, param);
}

static void submit_text(int k, const char *sql)
{
	memset(&answers[k], 0, sizeof(answers[k]));
	if (dbpool_query_text(pool, sql, 0, NULL, on_answer, &answers[k]) != 0) {
		printf("not ok - submitting job %d\n", k);
		failures++;
		return;
	}
	pending++;
}

static uint64_t pipelined(void)
{
	struct dbpool_stats st;
	dbpool_get_stats(pool, &st);
	return st.pipelined;
}

static void on_connected(void *arg)
{
	(void)arg;
	event_base_loopbreak(base);
}

static void wait_connected(void)
{
	struct timeval tv = {10, 0};
	struct event *t = evtimer_new(base, on_timeout, NULL);
	if (!t || evtimer_add(t, &tv) != 0)
		abort();
	while (!dbpool_up(pool) && event_base_dispatch(base) == 0 && evtimer_pending(t, NULL))
		;
	event_free(t);
}

/* Twelve quick jobs on one connection, one of them failing: each gets its
 * own answer, the error stays in its job. */
static void probe_answers_in_order(void)
{
	uint64_t before = pipelined();
	char param[12][8];
	for (int k = 0; k < 12; k++) {
		snprintf(param[k], sizeof(param[k]), "%d", k == 5 ? 0 : k + 1);
		submit(k, k == 5 ? sql_divide : sql_double, param[k]);
	}
	run_jobs();
	int right = 1;
	for (int k = 0; k < 12; k++) {
		char want[16];
		snprintf(want, sizeof(want), "%d", 2 * (k + 1));
		if (k != 5 && (!answers[k].ok || strcmp(answers[k].value, want)))
			right = 0;
	}
	check(right, "every pipelined job gets its own answer");
	check(answers[5].done && !answers[5].ok && !answers[5].lost &&
	          !strcmp(answers[5].sqlstate, "22012"),
	      "a failing job in a pipeline reports its own error");
	check(pipelined() > before, "quick jobs were pipelined");
}

/* Nothing is sent behind a slow query: the quick job waits in the queue. */
static void probe_not_behind_slow(void)
{
	uint64_t before = pipelined();
	submit_text(0, "SELECT pg_sleep(0.2)::text");
	submit(1, sql_double, "21");
	run_jobs();
	check(answers[0].ok && answers[1].ok && !strcmp(answers[1].value, "42"),
	      "a quick job after a slow one is answered");
	check(pipelined() == before, "nothing was pipelined behind a slow query");
}

/* A statement's Parse in flight serves the jobs behind it; a failed Parse
 * fails those jobs with its error and is not reused. */
static void probe_prepare_in_flight(void)
{
	submit(0, sql_bad, "1");
	submit(1, sql_bad, "1");
	submit(2, sql_double, "4");
	run_jobs();
	check(!answers[0].ok && !strcmp(answers[0].sqlstate, "42601") && !answers[1].ok &&
	          answers[1].sqlstate[0] && answers[2].ok && !strcmp(answers[2].value, "8"),
	      "a failed Parse fails the jobs that use it, not the next one");
	submit(0, sql_bad, "1");
	run_jobs();
	check(!strcmp(answers[0].sqlstate, "42601"),
	      "a statement whose Parse failed is parsed again, not run by a stale name");
}

/* A generic job runs by the generic plan (plan_cache_mode set for its
 * transaction only: the jobs beside and after it plan as before), gets its
 * own answer and its own error, in a pipeline too. */
static void probe_generic(void)
{
	submit_generic(0, sql_mode, "1");
	submit(1, sql_mode, "1");
	submit_generic(2, sql_divide, "0");
	submit_generic(3, sql_double, "5");
	submit(4, sql_mode, "1");
	run_jobs();
	check(answers[0].ok && !strcmp(answers[0].value, "force_generic_plan"),
	      "a generic job runs with plan_cache_mode force_generic_plan");
	check(answers[1].ok && !strcmp(answers[1].value, "auto") && answers[4].ok &&
	          !strcmp(answers[4].value, "auto"),
	      "the jobs beside it keep plan_cache_mode auto");
	check(!answers[2].ok && !strcmp(answers[2].sqlstate, "22012") && answers[3].ok &&
	          !strcmp(answers[3].value, "10"),
	      "a generic job gets its own answer and its own error");
}

/* The session dies under a pipeline: every job in flight is told, and the
 * pool reconnects. */
static void probe_lost_session(void)
{
	submit(0, sql_kill, "1");
	submit(1, sql_double, "1");
	submit(2, sql_double, "2");
	run_jobs();
	check(answers[0].done && answers[1].done && answers[2].done && !answers[1].ok &&
	          !answers[2].ok,
	      "jobs in flight on a lost session all get an answer, none a result");
	wait_connected();
	submit(0, sql_double, "50");
	run_jobs();
	check(answers[0].ok && !strcmp(answers[0].value, "100"),
	      "the pool works after reconnecting");
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t timeouts(void)
{
	struct dbpool_stats st;
	dbpool_get_stats(pool, &st);
	return st.timeouts;
}

/* The pool's query timeout is 1 s: the server cancels a longer statement
 * then, the caller is told "no answer" (NULL), and the session goes on. */
static void probe_statement_deadline(void)
{
	uint64_t before = timeouts();
	double t0 = seconds();
	submit_text(0, "SELECT pg_sleep(3)::text");
	run_jobs();
	double took = seconds() - t0;
	check(answers[0].done && answers[0].lost && took > 0.9 && took < 2.0,
	      "a statement past the query timeout is cut by the server and answered as lost");
	check(timeouts() == before + 1, "the timeout is counted");
	submit(0, sql_double, "7");
	run_jobs();
	check(answers[0].ok && !strcmp(answers[0].value, "14"), "the session is still usable");
}

/* A backend stopped with SIGSTOP: the socket stays open and silent. The
 * job in flight fails within the deadline (1 s and a grace of 0.5 s), not
 * never, and the pool connects again once the server is back. */
static void probe_frozen_backend(void)
{
	submit_text(0, "SELECT pg_backend_pid()::text");
	run_jobs();
	pid_t pid = (pid_t)atoi(answers[0].value);
	if (!answers[0].ok || pid <= 0 || kill(pid, SIGSTOP) != 0) {
		check(0, "stopping the backend (SIGSTOP)");
		return;
	}
	uint64_t before = timeouts();
	double t0 = seconds();
	submit(0, sql_double, "3");
	submit(1, sql_double, "4");
	run_jobs();
	double took = seconds() - t0;
	kill(pid, SIGCONT);
	check(answers[0].done && answers[0].lost && answers[1].done && answers[1].lost &&
	          took > 1.4 && took < 3.0,
	      "jobs on a frozen backend are answered as lost at the deadline");
	check(timeouts() == before + 1, "the frozen connection is counted once");
	wait_connected();
	submit(0, sql_double, "50");
	run_jobs();
	check(answers[0].ok && !strcmp(answers[0].value, "100"),
	      "the pool works again after the frozen connection");
}

static void pool_stats(struct dbpool_stats *st)
{
	dbpool_get_stats(pool, st);
}

/* The rows of probe_groups, "1,3", or "" for none. */
static const char *rows_written(void)
{
	submit_text(0,
	            "SELECT coalesce(string_agg(v::text, ',' ORDER BY v), '') FROM probe_groups");
	run_jobs();
	return answers[0].ok ? answers[0].value : "?";
}

/* Grouped jobs: while one group is in flight (a pool of one connection
 * here), the next wait and go together, one transaction; each still gets
 * its own answer. A statement of a group that fails rolls the group back,
 * and the others run again on their own, so that each job ends as it
 * would have alone: committed, or failed with its own error. */
static void probe_groups(void)
{
	submit_text(0, "CREATE TABLE IF NOT EXISTS probe_groups (v int)");
	run_jobs();
	submit_text(0, "TRUNCATE probe_groups");
	run_jobs();
	struct dbpool_stats st0, st;
	pool_stats(&st0);
	for (int k = 0; k < 6; k++)
		submit_grouped(k, sql_txid, "1");
	run_jobs();
	int same = 1;
	for (int k = 1; k < 6; k++)
		same &= answers[k].ok && !strcmp(answers[k].value, answers[1].value);
	pool_stats(&st);
	check(answers[0].ok && same && strcmp(answers[0].value, answers[1].value) &&
	          st.grouped == st0.grouped + 5,
	      "grouped jobs behind a group in flight share the next transaction");

	/* 2 fails (division by zero): 1 and 3 run again alone and commit. */
	submit_grouped(0, sql_sleep, "0.1");
	submit_grouped(1, sql_put, "1");
	submit_grouped(2, sql_divide, "0");
	submit_grouped(3, sql_put, "3");
	run_jobs();
	pool_stats(&st0);
	check(answers[1].ok && answers[3].ok && strcmp(answers[1].value, answers[3].value) &&
	          !answers[2].ok && !answers[2].lost && !strcmp(answers[2].sqlstate, "22012") &&
	          st0.run_again == st.run_again + 3,
	      "a failed group's jobs run again alone: the failing one gets its own error");
	check(!strcmp(rows_written(), "1,3"), "the others' rows are committed once each");

	/* 6 cut at the deadline (1 s): answered lost, not run again; 5 and 7
	 * commit. */
	submit_text(0, "TRUNCATE probe_groups");
	run_jobs();
	double t0 = seconds();
	submit_grouped(0, sql_sleep, "0.1");
	submit_grouped(1, sql_put, "5");
	submit_grouped(2, sql_sleep, "3");
	submit_grouped(3, sql_put, "7");
	run_jobs();
	double took = seconds() - t0;
	check(answers[1].ok && answers[2].lost && answers[3].ok && took < 2.5,
	      "a grouped statement cut at its deadline is answered lost, not run again");
	check(!strcmp(rows_written(), "5,7"), "the rest of its group is committed");

	/* The session dies within a group: every job is told it failed, and
	 * none of the group's rows is there. */
	submit_text(0, "TRUNCATE probe_groups");
	run_jobs();
	submit_grouped(0, sql_sleep, "0.1");
	submit_grouped(1, sql_put, "8");
	submit_grouped(2, sql_kill, "1");
	submit_grouped(3, sql_put, "9");
	run_jobs();
	check(answers[1].done && !answers[1].ok && answers[2].done && !answers[2].ok &&
	          answers[3].done && !answers[3].ok,
	      "a group on a lost session: every job answered, none with a result");
	wait_connected();
	check(!strcmp(rows_written(), ""), "nothing of that group was committed");

	/* Three statements of 0.6 s each, under the 1 s timeout: a group of
	 * 1.8 s past the connection's deadline (1.5 s from a send) is slow,
	 * not frozen: the deadline counts from each job's turn. */
	uint64_t before = timeouts();
	submit_grouped(0, sql_sleep, "0.1");
	submit_grouped(1, sql_sleep, "0.6");
	submit_grouped(2, sql_sleep, "0.6");
	submit_grouped(3, sql_sleep, "0.6");
	run_jobs();
	check(answers[1].ok && answers[2].ok && answers[3].ok && timeouts() == before,
	      "a group of slow statements, each within its timeout, is answered, not cut");

	/* A commit that fails at the Sync (a deferred unique constraint):
	 * alone, the job gets that error and the session goes on; in a group,
	 * the group runs again alone, and only the duplicate fails. */
	submit_text(0, "CREATE TABLE probe_deferred (v int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
	run_jobs();
	submit(0, sql_put_deferred, "1");
	run_jobs();
	submit(0, sql_put_deferred, "1");
	run_jobs();
	check(!answers[0].ok && !answers[0].lost && !strcmp(answers[0].sqlstate, "23505"),
	      "a commit failing at the Sync is the job's own error");
	submit_text(0, "TRUNCATE probe_deferred");
	run_jobs();
	submit_grouped(0, sql_sleep, "0.1");
	submit_grouped(1, sql_put_deferred, "1");
	submit_grouped(2, sql_put_deferred, "1");
	submit_grouped(3, sql_put_deferred, "2");
	run_jobs();
	check(answers[1].ok && !answers[2].ok && !strcmp(answers[2].sqlstate, "23505") &&
	          answers[3].ok,
	      "a group whose commit fails runs again alone: only the duplicate fails");
	submit_text(0, "SELECT string_agg(v::text, ',' ORDER BY v) FROM probe_deferred");
	run_jobs();
	check(answers[0].ok && !strcmp(answers[0].value, "1,2"), "and the others are committed");
	submit_text(0, "DROP TABLE probe_deferred");
	run_jobs();
	submit_text(0, "DROP TABLE probe_groups");
	run_jobs();
}

/* With two connections: a grouped job behind a slow group goes on the
 * free one after GROUP_WAIT_MS (50 ms) rather than wait; and one waiting
 * when the group's session dies goes at once on the other (not once that
 * session is back, 100 ms at the least). */
static void probe_group_lanes(const char *conninfo)
{
	struct dbpool *one = pool;
	struct dbpool_options opt = {.conninfo = conninfo,
	                             .size = 2,
	                             .queue_max = 100,
	                             .query_timeout_ms = 1000,
	                             .quick = quick,
	                             .on_connected = on_connected};
	pool = dbpool_new(base, &opt);
	if (!pool) {
		check(0, "a pool of two connections");
		pool = one;
		return;
	}
	struct timeval tv = {10, 0};
	struct event *t = evtimer_new(base, on_timeout, NULL);
	struct dbpool_stats st = {0};
	if (!t || evtimer_add(t, &tv) != 0)
		abort();
	while (st.connected < 2 && evtimer_pending(t, NULL)) {
		event_base_dispatch(base); /* until a connection is made */
		dbpool_get_stats(pool, &st);
	}
	event_free(t);
	double t0 = seconds();
	submit_grouped(0, sql_sleep, "0.6");
	submit_grouped(1, sql_txid, "1");
	run_jobs();
	check(answers[0].ok && answers[1].ok && answers[1].at - t0 < 0.4,
	      "a grouped job behind a slow group goes on a free connection");
	submit_grouped(0, sql_kill, "1");
	submit_grouped(1, sql_txid, "1");
	run_jobs();
	check(answers[0].done && !answers[0].ok && answers[1].ok &&
	          answers[1].at - answers[0].at < 0.08,
	      "a grouped job waiting when its lane's session dies goes on another at once");
	dbpool_free(pool);
	pool = one;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: dbpool_probe CONNINFO\n");
		return 2;
	}
	base = event_base_new();
	struct dbpool_options opt = {.conninfo = argv[1],
	                             .size = 1,
	                             .queue_max = 100,
	                             .query_timeout_ms = 1000,
	                             .quick = quick,
	                             .on_connected = on_connected};
	pool = base ? dbpool_new(base, &opt) : NULL;
	if (!pool) {
		fprintf(stderr, "cannot make the pool\n");
		return 2;
	}
	wait_connected();
	check(dbpool_up(pool), "the pool connects");
	if (dbpool_up(pool)) {
		probe_answers_in_order();
		probe_not_behind_slow();
		probe_prepare_in_flight();
		probe_generic();
		probe_lost_session();
		probe_groups();
		probe_group_lanes(argv[1]);
		probe_statement_deadline();
		probe_frozen_backend();
	}
	dbpool_free(pool);
	event_base_free(base);
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
