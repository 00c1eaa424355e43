/* sched_state.h - the scheduler thread's state, shared by the files of
 * its loop: scheduler.c (the thread, timers, notifications), planner.c
 * (reminder plans, firing), overdue.c (visits' tasks past their
 * deadline), delivery.c (claiming, sending, recording attempts) and
 * follow.c (dormant and expiring agreements). Each step below runs on that
 * loop only; a step asked for while it runs is run once more when it ends
 * (the *_again flags). */
#ifndef LIAISON_SCHED_STATE_H
#define LIAISON_SCHED_STATE_H

#include "dbpool.h"
#include "jobs/sender.h"
#include "tokenbucket.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MAX_BUCKETS  256
#define LANE_BUCKETS 64
/* Reminders become messages this long before they fall due (sql/019):
 * long enough for a burst of ten thousand to be written before its fire
 * time on two busy cores, short enough that little is taken back by
 * changes. */
#define FIRE_AHEAD_MS 10000
/* Messages are claimed this long before they fall due, and held until
 * then: at its fire time a reminder needs no round trip to the database.
 * What a claim decided (the endpoint may see the event) is that much
 * older when sent, as a claimed message's wait for a place may be. */
#define CLAIM_AHEAD_MS 100
/* A job handed back keeps the due time its row holds: a delay worked out
 * here would be counted from the report's now(), later by its latency. */
#define DELAY_KEEP (-1)
/* Messages the fire statement claims as it writes them (sql/022), held in
 * memory until their time, at most: a burst's worth, each a few kB. */
#define HOLD_MAX 20000
/* Changes heard on liaison_retake kept at once (retake.c); past it, a
 * mark stands for them. */
#define RETAKE_MAX 32
/* Fire statements in flight at once (planner.c). */
#define FIRES_IN_FLIGHT 2
/* A claim's lease outlasts an attempt (webhook_timeout) by this much. */
#define LEASE_MARGIN_MS 5000

struct job;

/* A held job's check (struct job's held): none, waiting for its time,
 * queued for the next check statement, in one. */
enum { HELD_NO, HELD_WAIT, HELD_QUEUED, HELD_CHECKING };

/* An endpoint's messages claimed by this instance: at most
 * webhook_endpoint_concurrency in flight, the others waiting in order. */
struct lane {
	char endpoint[40];
	int inflight;
	struct job *head, *tail; /* waiting for a place */
	int64_t slow_until;      /* monotonic: claims take no more than it sends at once */
	struct lane *hnext;      /* in its bucket of sc->lanes */
};

struct bucket {
	char endpoint[40];
	struct tokenbucket tb;
};

struct job {
	struct scheduler *sc;
	char id[64];
	char endpoint[40];
	char *url, *body, *secret, *previous;
	double rate;
	int attempts;       /* the number of the attempt about to be made */
	int64_t claimed_ms; /* monotonic, when claimed */
	int64_t ready_ms;   /* monotonic, when it joined its lane */
	struct event *wait; /* its time (claimed ahead), then its rate limit */
	struct lane *lane;  /* while waiting for a place or in flight */
	struct job *lane_next;
	int sending; /* an attempt is in flight */
	/* Claimed by the fire statement ahead of its time (sql/022): until
	 * checked, 100 ms before it, HELD_WAIT, HELD_QUEUED or HELD_CHECKING. */
	int ahead;
	int held;
	int64_t due_ms;       /* realtime, when it is due */
	int64_t report_by_ms; /* monotonic: its outcome is recorded by then (its lease) */
	/* the outcome of its attempt */
	struct send_result res;
	char *response;
	const char *state;
	int64_t delay_ms; /* DELAY_KEEP: due when it was, as the row says */
	int ok;
	int tried; /* an attempt was made (0: handed back unsent) */
	char error[300];
	struct job *next;                /* in the outcomes queue or a report */
	struct job *all_prev, *all_next; /* every live job, freed at exit */
};

/* A change heard on liaison_retake (or a mark standing for changes):
 * its transaction id (xid8, decimal), heard at heard_ms (monotonic). It
 * is compared with fires until every fire this instance had sent by then
 * (up to number fires) has ended and a take-back has run after them, and
 * at least until until_ms. */
struct retake {
	char xid[24];
	int64_t heard_ms, until_ms;
	uint64_t fires;
	char seen[40];  /* the database's clock at the first take-back sent for it */
	int last;       /* the take-back in flight came after all those fires */
	int clear;      /* a take-back found nothing that might still miss it */
	int clear_sent; /* ... before the one in flight was sent */
	int sent;       /* in the take-back in flight */
};

/* A fire statement in flight: its number (from 1), the callback's arg. */
struct fire_call {
	struct scheduler *sc;
	uint64_t seq;
	int busy;
};

struct scheduler {
	const struct config *cfg;
	pthread_t thread;
	int running;
	struct event_base *base;
	struct dbpool *db;
	struct dblisten *listen;
	struct sender *sender;
	struct warmer *warmer;
	struct event *stop_ev, *poll, *due_timer, *drain_timer;
	_Atomic int64_t last_beat_ms;
	char instance[37];
	int stopping;
	int plan_busy, plan_again, plan_writes, plan_rows;
	int plan_single; /* the last batch failed: the next is written one event a statement */
	int fire_busy, fire_again; /* busy: statements in flight */
	struct fire_call fires[FIRES_IN_FLIGHT];
	uint64_t fires_sent;
	int overdue_busy;
	int repair_busy, repair_done; /* repair.c; done: the list was empty (or failed) */
	long repaired;
	int claim_busy, claim_again;
	int next_busy;
	int follow_busy, follow_due; /* due: an agreement was written since the last pass */
	int64_t last_follow_ms;      /* monotonic, the last follow_step sent (0: none) */
	int jobs;                    /* claimed and not yet reported */
	int sending;                 /* attempts in flight */
	int lanes_full;              /* a lane waited for webhook_concurrency */
	struct lane *lanes[LANE_BUCKETS];
	struct job *outcomes, *outcomes_tail; /* attempts made, not yet recorded */
	int noutcomes;
	int64_t outcomes_by_ms; /* monotonic: the first outcome queued must be recorded */
	struct event *report_timer;
	int waiting; /* jobs held ahead (sql/022) waiting in lanes for a place */
	struct job *all_jobs;
	int reports_in_flight;
	int held;                         /* jobs held ahead and not yet checked */
	struct job *checks, *checks_tail; /* held jobs whose check is due */
	int check_busy, check_again;
	struct retake retakes[RETAKE_MAX];
	int nretakes;
	int retake_busy, retake_again;
	int64_t retake_sent_ms;
	int mark_due, mark_busy, mark_again; /* SCHED_RETAKE_MARK (retake.c) */
	int64_t mark_asked_ms;
	int listened; /* LISTEN was up before: a reconnection may have missed changes */
	int db_ops;   /* statements in flight */
	int64_t last_extend_ms;
	struct bucket buckets[MAX_BUCKETS];
	size_t nbuckets;
};

/* The steps, each one statement in flight at most. */
void plan_step(struct scheduler *sc);    /* planner.c: plans of queued events */
void plan_extend(struct scheduler *sc);  /* planner.c: open series planned further, hourly */
void fire_step(struct scheduler *sc);    /* planner.c: due reminders become messages */
void overdue_step(struct scheduler *sc); /* overdue.c: visit.task_overdue for late tasks */
void repair_step(struct scheduler *sc);  /* repair.c: old rows' instants computed again */
void claim_step(struct scheduler *sc);   /* delivery.c: due messages claimed and sent */
void next_step(struct scheduler *sc);    /* scheduler.c: a timer for the next due time */
void retake_step(struct scheduler *sc);  /* retake.c: fires that missed a change taken back */
/* retake.c: a change heard on liaison_retake (NULL: reconnected, unknown). */
void retake_heard(struct scheduler *sc, const char *xid);
void follow_step(struct scheduler *sc); /* follow.c: dormant and expiring agreements */
void follow_tick(struct scheduler *sc); /* follow.c: follow_step when due (the poll) */
/* delivery.c: a message the fire statement claimed (row of its result). */
void held_start(struct scheduler *sc, PGresult *res, int row);
/* delivery.c: what is held ahead goes back unsent, due at its time (at stop). */
void held_release(struct scheduler *sc);
/* delivery.c: the endpoints claimed no further ahead than their places, as
 * a PostgreSQL array (free it), or NULL when out of memory. */
char *slow_endpoints(struct scheduler *sc);
/* delivery.c: frees a claimed job (its lease runs out if not recorded). */
void job_free(struct job *j);
/* delivery.c: frees idle lanes (all of them when all is set, at exit). */
void lanes_sweep(struct scheduler *sc, int all);

/* Sends a statement on the scheduler's pool (counted in db_ops); -1 when
 * the pool refused it. */
int sched_query(struct scheduler *sc, const char *sql, int n, const char *const *p, db_result_cb cb,
                void *arg);
/* Whether res has rows; else logs what failed. */
int sched_ok_rows(PGresult *res, const char *what);
/* After each statement: the loop ends once stopping and idle. */
void sched_op_done(struct scheduler *sc);
/* An integer into a PostgreSQL array literal (db_array_add). */
int sched_array_add_int(struct evbuffer *b, int64_t v);

#endif
