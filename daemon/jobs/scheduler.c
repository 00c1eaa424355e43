/* scheduler.c - the thread that turns events into reminders and messages
 * into signed POSTs. Its loop plans the fire times of queued events, fires
 * due reminders into the outbox, claims due messages and sends them with
 * libcurl, and records each attempt. NOTIFY wakes it (liaison_reminders,
 * liaison_messages); a timer set to the next due time keeps it punctual; a
 * one-second poll covers lost notifications and other instances' work.
 * Every state change is one statement in PostgreSQL, so any instance may
 * die at any point: at worst a message is sent again with the same id.
 * The loop also keeps the stored VEVENTs current (warmer.c). */
#include "jobs/scheduler.h"

#include "config.h"
#include "dblisten.h"
#include "dbpool.h"
#include "log.h"
#include "core/metrics.h"
#include "tokenbucket.h"
#include "recur.h"
#include "remind.h"
#include "core/remind_row.h"
#include "jobs/scheduler_sql.h"
#include "jobs/sender.h"
#include "token.h"
#include "clock.h"
#include "macros.h"
#include "validate.h"
#include "jobs/warmer.h"
#include "whsig.h"

#include <event2/buffer.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_BATCH      64
#define FIRE_BATCH      1000
#define CLAIM_BATCH     256
#define POLL_MS         1000
#define BEHIND_MS       250 /* wait when work is due but could not be taken */
#define PLAN_HORIZON_S  (400LL * 86400)
#define EXTEND_EVERY_MS (3600LL * 1000)
#define LEASE_MARGIN_MS 5000
/* The longest a claimed message waits in memory for its endpoint's rate
 * limit: well inside its lease, so no other claim takes it meanwhile. */
#define RATE_WAIT_MAX_MS  (LEASE_MARGIN_MS - 1000)
#define MAX_BUCKETS       256
#define REPORT_BATCH      128
#define REPORTS_IN_FLIGHT 2
#define WARM_START_MS     2000 /* the first background render pass, after start */

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
	struct event *wait; /* rate limit */
	/* the outcome of its attempt */
	struct send_result res;
	char *response;
	const char *state;
	int64_t delay_ms;
	int ok;
	int tried; /* an attempt was made (0: handed back unsent) */
	char error[300];
	struct job *next;                /* in the outcomes queue or a report */
	struct job *all_prev, *all_next; /* every live job, freed at exit */
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
	int fire_busy, fire_again;
	int claim_busy, claim_again;
	int next_busy;
	int jobs;                             /* claimed and not yet reported */
	struct job *outcomes, *outcomes_tail; /* attempts made, not yet recorded */
	struct job *all_jobs;
	int reports_in_flight;
	int db_ops; /* statements in flight */
	int64_t last_extend_ms;
	struct bucket buckets[MAX_BUCKETS];
	size_t nbuckets;
};

static void plan_step(struct scheduler *sc);
static void fire_step(struct scheduler *sc);
static void claim_step(struct scheduler *sc);
static void next_step(struct scheduler *sc);

static int query(struct scheduler *sc, const char *sql, int n, const char *const *p,
                 db_result_cb cb, void *arg)
{
	if (dbpool_query(sc->db, sql, n, p, cb, arg) != 0)
		return -1;
	sc->db_ops++;
	return 0;
}

static int ok_rows(PGresult *res, const char *what)
{
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		return 1;
	if (res)
		log_error("scheduler: %s failed: %s", what, PQresultErrorMessage(res));
	return 0;
}

/* After each statement: the loop ends once stopping and idle. */
static void op_done(struct scheduler *sc)
{
	sc->db_ops--;
	if (sc->stopping && sc->db_ops == 0 && sc->jobs == 0)
		event_base_loopexit(sc->base, NULL);
}

/* ---- planning --------------------------------------------------------------- */

/* PostgreSQL array literals, built as the plan is walked. */
struct planarrays {
	struct evbuffer *a[6]; /* occurrence start, end, start local, end local, trigger, fire */
	int failed;
};

static int arr_add_int(struct evbuffer *b, int64_t v)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", (long long)v);
	return db_array_add(b, text);
}

static int on_fire_time(const struct remind_fire *f, void *arg)
{
	struct planarrays *pa = arg;
	if (arr_add_int(pa->a[0], f->occ_start) || arr_add_int(pa->a[1], f->occ_end) ||
	    db_array_add(pa->a[2], f->start_local) || db_array_add(pa->a[3], f->end_local) ||
	    db_array_add(pa->a[4], f->trigger) || arr_add_int(pa->a[5], f->fire_at))
		pa->failed = 1;
	return 0;
}

/* One plan written or parked: once the batch is done, the next step. */
static void plan_write_done(struct scheduler *sc)
{
	if (--sc->plan_writes == 0) {
		sc->plan_busy = 0;
		if (sc->plan_rows == PLAN_BATCH || sc->plan_again) {
			sc->plan_again = 0;
			plan_step(sc);
		}
		fire_step(sc);
		next_step(sc);
	}
	op_done(sc);
}

static void on_plan_written(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	ok_rows(res, "writing a reminder plan");
	plan_write_done(sc);
}

struct parked {
	struct scheduler *sc;
	char event[37];
	char why[200];
};

static void on_plan_parked(PGresult *res, void *arg)
{
	struct parked *pk = arg;
	struct scheduler *sc = pk->sc;
	metrics_inc(M_REMINDER_PLAN_FAILURES);
	/* Logged once, when first parked; the retries only count. */
	if (ok_rows(res, "parking a reminder plan") && PQntuples(res) == 1 &&
	    !strcmp(PQgetvalue(res, 0, 0), "1")) {
		metrics_inc(M_REMINDER_PLANS_PARKED);
		log_warn("scheduler: cannot plan the reminders of event %s: %s; parked, tried "
		         "again after 30 s, then less and less often",
		         pk->event, pk->why);
	}
	free(pk);
	plan_write_done(sc);
}

/* A row that cannot be planned leaves the head of the queue for a while
 * (SCHED_PLAN_PARK): other events are planned meanwhile. */
static void park_plan(struct scheduler *sc, PGresult *res, int row, const char *why)
{
	struct parked *pk = calloc(1, sizeof(*pk));
	if (!pk)
		return; /* the row stays due: tried again on the next round */
	pk->sc = sc;
	snprintf(pk->event, sizeof(pk->event), "%s", PQgetvalue(res, row, P_ID));
	snprintf(pk->why, sizeof(pk->why), "%s", why);
	const char *p[] = {PQgetvalue(res, row, P_ID), PQgetvalue(res, row, P_TICKET), pk->why};
	if (query(sc, SCHED_PLAN_PARK, 3, p, on_plan_parked, pk) == 0)
		sc->plan_writes++;
	else
		free(pk);
}

static void write_plan(struct scheduler *sc, PGresult *res, int row)
{
	struct planarrays pa = {0};
	char until[24];
	char *arrs[6] = {0};
	int ok = 1;
	for (int i = 0; i < 6; i++)
		ok &= (pa.a[i] = evbuffer_new()) != NULL;
	int64_t after = strtoll(PQgetvalue(res, row, P_AFTER), NULL, 10);
	int64_t horizon = strtoll(PQgetvalue(res, row, P_NOW), NULL, 10) + PLAN_HORIZON_S;
	const char *why = NULL;
	if (ok && remind_plan_row(res, row, after, horizon, on_fire_time, &pa, until, &why) != 0) {
		park_plan(sc, res, row, why);
		ok = 0;
	}
	ok &= !pa.failed;
	for (int i = 0; ok && i < 6; i++)
		ok &= (arrs[i] = db_array_end(pa.a[i])) != NULL;
	if (ok) {
		const char *p[] = {PQgetvalue(res, row, P_ID),
		                   PQgetvalue(res, row, P_VERSION),
		                   PQgetvalue(res, row, P_TICKET),
		                   arrs[0],
		                   arrs[1],
		                   arrs[2],
		                   arrs[3],
		                   arrs[4],
		                   arrs[5],
		                   PQgetvalue(res, row, P_CUTOFF),
		                   until[0] ? until : NULL};
		if (query(sc, SCHED_PLAN_WRITE, 11, p, on_plan_written, sc) == 0)
			sc->plan_writes++;
	}
	for (int i = 0; i < 6; i++) {
		free(arrs[i]);
		if (pa.a[i])
			evbuffer_free(pa.a[i]);
	}
}

static void on_plan_claimed(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->plan_rows = 0;
	if (ok_rows(res, "reading the reminder queue")) {
		sc->plan_rows = PQntuples(res);
		for (int i = 0; i < PQntuples(res); i++)
			write_plan(sc, res, i);
	}
	if (sc->plan_writes == 0) {
		sc->plan_busy = 0;
		/* A batch that planned nothing (every row failed) is not retried
		 * at once: the poll comes back to it. */
		fire_step(sc);
		next_step(sc);
	}
	op_done(sc);
}

static void plan_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->plan_busy) {
		sc->plan_again = 1;
		return;
	}
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", PLAN_BATCH);
	const char *p[] = {batch};
	if (query(sc, SCHED_PLAN_CLAIM, 1, p, on_plan_claimed, sc) == 0)
		sc->plan_busy = 1;
}

static void on_extended(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("scheduler: extending plans failed: %s", PQresultErrorMessage(res));
	else if (res && strcmp(PQcmdTuples(res), "0") != 0)
		plan_step(sc);
	op_done(sc);
}

/* ---- firing ----------------------------------------------------------------- */

static void on_fired(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->fire_busy = 0;
	if (ok_rows(res, "firing reminders") && PQntuples(res) == 1) {
		long fired = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		long missed = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		long msgs = strtol(PQgetvalue(res, 0, 2), NULL, 10);
		metrics_add(M_REMINDERS_FIRED, (uint64_t)(fired - missed));
		metrics_add(M_REMINDERS_MISSED, (uint64_t)missed);
		if (missed)
			log_warn(
			    "scheduler: %ld reminders not sent: their occurrence had ended (%s)",
			    missed, PQgetvalue(res, 0, 3));
		if (msgs)
			claim_step(sc);
		if (fired == FIRE_BATCH || sc->fire_again) {
			sc->fire_again = 0;
			fire_step(sc);
		}
	}
	next_step(sc);
	op_done(sc);
}

static void fire_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->fire_busy) {
		sc->fire_again = 1;
		return;
	}
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", FIRE_BATCH);
	const char *p[] = {batch};
	if (query(sc, SCHED_FIRE, 1, p, on_fired, sc) == 0)
		sc->fire_busy = 1;
}

/* ---- timers ----------------------------------------------------------------- */

static void on_next_due(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->next_busy = 0;
	if (ok_rows(res, "reading the next due time") && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0) && !sc->stopping) {
		int64_t wait = strtoll(PQgetvalue(res, 0, 0), NULL, 10) - now_realtime_ms();
		if (wait <= 0)
			wait = BEHIND_MS;
		if (wait < POLL_MS) {
			struct timeval tv = timeval_ms(wait);
			evtimer_add(sc->due_timer, &tv);
		}
	}
	op_done(sc);
}

static void next_step(struct scheduler *sc)
{
	if (sc->stopping || sc->next_busy)
		return;
	if (query(sc, SCHED_NEXT_DUE, 0, NULL, on_next_due, sc) == 0)
		sc->next_busy = 1;
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	fire_step(sc);
	claim_step(sc);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	int64_t now = now_monotonic_ms();
	atomic_store(&sc->last_beat_ms, now);
	if (sc->stopping)
		return;
	if (now - sc->last_extend_ms >= EXTEND_EVERY_MS) {
		sc->last_extend_ms = now;
		if (query(sc, SCHED_PLAN_EXTEND, 0, NULL, on_extended, sc) != 0)
			sc->last_extend_ms = 0;
	}
	plan_step(sc);
	fire_step(sc);
	claim_step(sc);
}

static void on_notify_reminders(const char *payload, void *arg)
{
	UNUSED(payload);
	plan_step(arg);
}

static void on_notify_messages(const char *payload, void *arg)
{
	struct scheduler *sc = arg;
	if (!payload) /* reconnected: anything may have been missed */
		plan_step(sc);
	claim_step(sc);
}

/* ---- sending ---------------------------------------------------------------- */

static void job_free(struct job *j)
{
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		j->sc->all_jobs = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
	if (j->wait)
		event_free(j->wait);
	free(j->url);
	free(j->body);
	if (j->secret)
		memset(j->secret, 0, strlen(j->secret));
	if (j->previous)
		memset(j->previous, 0, strlen(j->previous));
	free(j->secret);
	free(j->previous);
	free(j->response);
	free(j);
}

/* Token bucket per rate-limited endpoint: the wait in ms before the next
 * message may go (0: now, and the token is taken). The burst is one
 * second's worth, and at least one message. */
static int64_t bucket_take(struct scheduler *sc, const char *endpoint, double rate)
{
	int64_t now = now_monotonic_ms();
	double burst = rate < 1 ? 1 : rate;
	struct bucket *b = NULL;
	for (size_t i = 0; i < sc->nbuckets && !b; i++)
		if (!strcmp(sc->buckets[i].endpoint, endpoint))
			b = &sc->buckets[i];
	if (!b) {
		b = &sc->buckets[sc->nbuckets < MAX_BUCKETS ? sc->nbuckets++ : 0];
		snprintf(b->endpoint, sizeof(b->endpoint), "%s", endpoint);
		tokenbucket_init(&b->tb, burst, now);
	}
	return tokenbucket_take(&b->tb, rate, burst, now);
}

/* Answers go into a text column: invalid UTF-8 and NULs become '?'. s is
 * NUL-terminated after its n bytes (the sender keeps it so). */
static char *printable(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t i = 0;
	while (i < n) {
		size_t len = s[i] ? utf8_seq((const unsigned char *)s + i) : 0;
		if (!len || i + len > n) {
			out[i++] = '?';
			continue;
		}
		memcpy(out + i, s + i, len);
		i += len;
	}
	out[n] = '\0';
	return out;
}

/* ---- recording outcomes, in batches ------------------------------------------- */

/* Outcomes wait here while REPORTS_IN_FLIGHT batches are being written:
 * at low load each is written at once, under load they group, so the
 * database sees one statement per batch instead of one per attempt. */
static void report_flush(struct scheduler *sc);

struct report {
	struct scheduler *sc;
	struct job *jobs;
	int n;
};

static void on_reported(PGresult *res, void *arg)
{
	struct report *rep = arg;
	struct scheduler *sc = rep->sc;
	if (ok_rows(res, "recording delivery attempts") && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0)) {
		metrics_inc(M_WEBHOOK_ENDPOINTS_DISABLED);
		log_warn("webhook endpoint disabled: %s (%s other endpoints told)",
		         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	}
	/* On failure the leases run out and the messages are tried again. */
	while (rep->jobs) {
		struct job *j = rep->jobs;
		rep->jobs = j->next;
		job_free(j);
	}
	sc->jobs -= rep->n;
	sc->reports_in_flight--;
	free(rep);
	report_flush(sc);
	claim_step(sc);
	op_done(sc);
}

static void report_flush(struct scheduler *sc)
{
	if (!sc->outcomes || sc->reports_in_flight >= REPORTS_IN_FLIGHT)
		return;
	struct report *rep = calloc(1, sizeof(*rep));
	struct evbuffer *a[10];
	int ok = rep != NULL;
	for (int i = 0; i < 10; i++)
		ok &= (a[i] = evbuffer_new()) != NULL;
	char *texts[10] = {0};
	if (ok) {
		rep->sc = sc;
		while (sc->outcomes && rep->n < REPORT_BATCH) {
			struct job *j = sc->outcomes;
			sc->outcomes = j->next;
			j->next = rep->jobs;
			rep->jobs = j;
			rep->n++;
			if (db_array_add(a[0], j->id) || db_array_add(a[1], j->state) ||
			    arr_add_int(a[2], j->delay_ms) ||
			    (j->res.status ? arr_add_int(a[3], j->res.status)
			                   : db_array_add(a[3], NULL)) ||
			    db_array_add(a[4], j->error[0] ? j->error : NULL) ||
			    db_array_add(a[5], j->ok ? "t" : "f") ||
			    arr_add_int(a[6], j->res.duration_ms) ||
			    db_array_add(a[7], j->response && *j->response ? j->response : NULL) ||
			    db_array_add(a[8], j->res.status == 410 ? "t" : "f") ||
			    db_array_add(a[9], j->tried ? "t" : "f"))
				ok = 0;
		}
		if (!sc->outcomes)
			sc->outcomes_tail = NULL;
		for (int i = 0; ok && i < 10; i++)
			ok &= (texts[i] = db_array_end(a[i])) != NULL;
	}
	char after[24];
	snprintf(after, sizeof(after), "%lld", (long long)sc->cfg->webhook_disable_after_ms);
	const char *p[] = {sc->instance, texts[0], texts[1], texts[2], texts[3], texts[4],
	                   texts[5],     texts[6], texts[7], texts[8], after,    texts[9]};
	if (ok && query(sc, SCHED_REPORT, 12, p, on_reported, rep) == 0) {
		sc->reports_in_flight++;
	} else if (rep) {
		log_error("scheduler: cannot record %d delivery attempts; they will be sent again",
		          rep->n);
		while (rep->jobs) {
			struct job *j = rep->jobs;
			rep->jobs = j->next;
			job_free(j);
		}
		sc->jobs -= rep->n;
		free(rep);
	}
	for (int i = 0; i < 10; i++) {
		free(texts[i]);
		if (a[i])
			evbuffer_free(a[i]);
	}
}

/* Queues j's outcome for the next report. */
static void outcome_add(struct job *j)
{
	struct scheduler *sc = j->sc;
	j->next = NULL;
	if (sc->outcomes_tail)
		sc->outcomes_tail->next = j;
	else
		sc->outcomes = j;
	sc->outcomes_tail = j;
	report_flush(sc);
}

static int64_t retry_delay(const struct config *cfg, int attempts, int64_t retry_after_ms)
{
	if (retry_after_ms >= 0)
		return retry_after_ms;
	size_t i = (size_t)(attempts - 1);
	int64_t base = cfg->webhook_retry_schedule_ms[i < cfg->webhook_retry_count ? i : 0];
	/* Up to 10 % later, so that receivers that failed together are not
	 * all retried in the same instant. */
	unsigned char r;
	if (RAND_bytes(&r, 1) != 1)
		r = 128;
	return base + base * r / 2550;
}

static void on_sent(const struct send_result *res, void *arg)
{
	struct job *j = arg;
	struct scheduler *sc = j->sc;
	const struct config *cfg = sc->cfg;
	j->res = *res;
	j->res.response = NULL;
	j->tried = 1;
	j->ok = res->status >= 200 && res->status < 300;
	metrics_inc(M_WEBHOOK_ATTEMPTS);
	metrics_inc(j->ok ? M_WEBHOOK_DELIVERED : M_WEBHOOK_FAILED_ATTEMPTS);
	j->state = "pending";
	if (j->ok)
		j->state = "delivered";
	else if (res->status == 410 || (size_t)j->attempts > cfg->webhook_retry_count)
		j->state = "failed";
	else
		j->delay_ms = retry_delay(cfg, j->attempts, res->retry_after_ms);
	if (res->error[0])
		snprintf(j->error, sizeof(j->error), "%s", res->error);
	else if (!j->ok)
		snprintf(j->error, sizeof(j->error), "the endpoint answered %ld", res->status);
	j->response = printable(res->response ? res->response : "", res->response_len);
	outcome_add(j);
}

static void job_send(struct job *j)
{
	struct scheduler *sc = j->sc;
	int64_t ts = now_realtime_ms() / 1000;
	char sig[WHSIG_V1_LEN + 1], old[WHSIG_V1_LEN + 1], header[2 * WHSIG_V1_LEN + 2];
	size_t len = strlen(j->body);
	struct send_result fail = {.retry_after_ms = -1};
	if (whsig_sign(j->secret, j->id, ts, j->body, len, sig) != 0) {
		snprintf(fail.error, sizeof(fail.error), "the endpoint's secret cannot be used");
		on_sent(&fail, j);
		return;
	}
	/* During a rotation both secrets sign, space-separated. */
	if (j->previous && whsig_sign(j->previous, j->id, ts, j->body, len, old) == 0)
		snprintf(header, sizeof(header), "%s %s", sig, old);
	else
		snprintf(header, sizeof(header), "%s", sig);
	struct send_request rq = {.url = j->url,
	                          .body = j->body,
	                          .body_len = len,
	                          .msg_id = j->id,
	                          .timestamp = ts,
	                          .signature = header};
	if (sender_post(sc->sender, &rq, on_sent, j) != 0) {
		snprintf(fail.error, sizeof(fail.error), "cannot start the request");
		on_sent(&fail, j);
	}
}

static void on_rate_wait(evutil_socket_t fd, short what, void *arg);

/* Sends j now, or when its endpoint's rate allows (if no timer can be
 * set, now: better early than never). A wait that would outlast the
 * claim's lease hands the message back unsent, due when the rate allows:
 * held in memory, its lease would run out and another claim send it a
 * second time (and count an attempt each time, none of them made). */
static void job_go(struct job *j)
{
	int64_t wait = j->rate > 0 ? bucket_take(j->sc, j->endpoint, j->rate) : 0;
	if (wait > 0 && now_monotonic_ms() + wait - j->claimed_ms > RATE_WAIT_MAX_MS) {
		j->state = "pending";
		j->delay_ms = wait;
		j->tried = 0;
		outcome_add(j);
		return;
	}
	if (wait > 0) {
		if (!j->wait)
			j->wait = evtimer_new(j->sc->base, on_rate_wait, j);
		struct timeval tv = timeval_ms(wait);
		if (j->wait && evtimer_add(j->wait, &tv) == 0)
			return;
	}
	job_send(j);
}

static void on_rate_wait(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	job_go(arg);
}

static char *dup_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

static void start_job(struct scheduler *sc, PGresult *res, int row)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return; /* the lease runs out; the message is tried again */
	j->sc = sc;
	j->all_next = sc->all_jobs;
	if (sc->all_jobs)
		sc->all_jobs->all_prev = j;
	sc->all_jobs = j;
	snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(res, row, 0));
	snprintf(j->endpoint, sizeof(j->endpoint), "%s", PQgetvalue(res, row, 1));
	j->body = dup_or_null(res, row, 2);
	j->attempts = atoi(PQgetvalue(res, row, 3));
	j->claimed_ms = now_monotonic_ms();
	j->url = dup_or_null(res, row, 4);
	j->secret = dup_or_null(res, row, 5);
	j->previous = dup_or_null(res, row, 6);
	j->rate = PQgetisnull(res, row, 7) ? 0 : strtod(PQgetvalue(res, row, 7), NULL);
	sc->jobs++;
	if (!j->url || !j->secret || (!PQgetisnull(res, row, 6) && !j->previous)) {
		sc->jobs--;
		job_free(j);
		return;
	}
	if (!j->body) {
		/* The event or agreement it was about is gone. */
		struct send_result fail = {.retry_after_ms = -1};
		snprintf(fail.error, sizeof(fail.error),
		         "nothing to send: its subject no longer exists");
		j->attempts = INT32_MAX / 2;
		on_sent(&fail, j);
		return;
	}
	job_go(j);
}

static void on_claimed(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->claim_busy = 0;
	int n = 0;
	long withheld = 0;
	if (ok_rows(res, "claiming messages")) {
		n = PQntuples(res);
		withheld = n ? strtol(PQgetvalue(res, 0, 8), NULL, 10) : 0;
		if (withheld > 0) {
			metrics_add(M_WEBHOOK_WITHHELD, (uint64_t)withheld);
			log_info(
			    "scheduler: %ld messages cancelled unsent: their endpoints' orgs may "
			    "no longer see their event or agreement",
			    withheld);
		}
		/* A row without id only carries that count. */
		for (int i = 0; i < n && !sc->stopping; i++)
			if (!PQgetisnull(res, i, 0))
				start_job(sc, res, i);
	}
	/* Cancelled messages took places in the batch (and in their
	 * endpoints' share) that others behind them may have now. */
	if (sc->claim_again || n == CLAIM_BATCH || withheld > 0) {
		sc->claim_again = 0;
		claim_step(sc);
	}
	op_done(sc);
}

static void claim_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->claim_busy) {
		sc->claim_again = 1;
		return;
	}
	int room = sc->cfg->webhook_concurrency - sc->jobs;
	if (room <= 0)
		return; /* a finished attempt claims again */
	char limit[16], per_endpoint[16], lease[24];
	snprintf(limit, sizeof(limit), "%d", room < CLAIM_BATCH ? room : CLAIM_BATCH);
	snprintf(per_endpoint, sizeof(per_endpoint), "%d", sc->cfg->webhook_endpoint_concurrency);
	snprintf(lease, sizeof(lease), "%lld",
	         (long long)(sc->cfg->webhook_timeout_ms + LEASE_MARGIN_MS));
	const char *p[] = {sc->instance, limit, per_endpoint, lease};
	if (query(sc, SCHED_CLAIM, 4, p, on_claimed, sc) == 0)
		sc->claim_busy = 1;
}

/* ---- the thread --------------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	sc->stopping = 1;
	evtimer_del(sc->due_timer);
	event_del(sc->poll);
	if (sc->db_ops == 0 && sc->jobs == 0)
		event_base_loopexit(sc->base, NULL);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct scheduler *sc = arg;
	if (sc->jobs)
		log_warn("scheduler: %d webhook attempts still open at shutdown; their leases "
		         "will expire and they will be sent again",
		         sc->jobs);
	event_base_loopexit(sc->base, NULL);
}

static void *scheduler_main(void *arg)
{
	struct scheduler *sc = arg;
	event_base_dispatch(sc->base);
	return NULL;
}

static int instance_id(char out[37])
{
	char hex[33];
	if (random_hex(hex, 16) != 0)
		return -1;
	snprintf(out, 37, "%.8s-%.4s-4%.3s-8%.3s-%.12s", hex, hex + 8, hex + 13, hex + 17,
	         hex + 20);
	return 0;
}

static void scheduler_free(struct scheduler *sc)
{
	sender_free(sc->sender); /* cancels transfers still open */
	while (sc->all_jobs)     /* theirs, and outcomes not recorded: leases run out */
		job_free(sc->all_jobs);
	dblisten_free(sc->listen);
	warmer_free(sc->warmer);
	dbpool_free(sc->db);
	struct event *evs[] = {sc->stop_ev, sc->poll, sc->due_timer, sc->drain_timer};
	for (size_t i = 0; i < ARRAY_LEN(evs); i++)
		if (evs[i])
			event_free(evs[i]);
	if (sc->base)
		event_base_free(sc->base);
	free(sc);
}

struct scheduler *scheduler_start(const struct config *cfg)
{
	struct scheduler *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->cfg = cfg;
	sc->base = event_base_new();
	if (!sc->base || instance_id(sc->instance) != 0)
		goto fail;
	struct dbpool_options opt = {.conninfo = cfg->database,
	                             .size = 6,
	                             .queue_max = 100000,
	                             .query_timeout_ms = cfg->db_query_timeout_ms};
	struct sender_options so = {.timeout_ms = cfg->webhook_timeout_ms,
	                            .allow_private = cfg->webhook_allow_private,
	                            .ca_file = cfg->webhook_ca_file};
	sc->db = dbpool_new(sc->base, &opt);
	sc->sender = sender_new(sc->base, &so);
	sc->listen = dblisten_new(sc->base, cfg->database);
	sc->warmer = sc->db ? warmer_new(sc->base, sc->db, WARM_START_MS) : NULL;
	sc->stop_ev = event_new(sc->base, -1, 0, on_stop, sc);
	sc->poll = event_new(sc->base, -1, EV_PERSIST, on_poll, sc);
	sc->due_timer = evtimer_new(sc->base, on_due, sc);
	sc->drain_timer = evtimer_new(sc->base, on_drain_timeout, sc);
	if (!sc->db || !sc->sender || !sc->listen || !sc->warmer || !sc->stop_ev || !sc->poll ||
	    !sc->due_timer || !sc->drain_timer ||
	    dblisten_on(sc->listen, "liaison_reminders", on_notify_reminders, sc) ||
	    dblisten_on(sc->listen, "liaison_messages", on_notify_messages, sc) ||
	    dblisten_start(sc->listen))
		goto fail;
	struct timeval poll = timeval_ms(POLL_MS);
	struct timeval soon = timeval_ms(1);
	atomic_store(&sc->last_beat_ms, now_monotonic_ms());
	if (event_add(sc->poll, &poll) != 0 || evtimer_add(sc->due_timer, &soon) != 0)
		goto fail;
	if (pthread_create(&sc->thread, NULL, scheduler_main, sc) != 0)
		goto fail;
	sc->running = 1;
	return sc;
fail:
	log_error("cannot start the reminder scheduler");
	scheduler_free(sc);
	return NULL;
}

void scheduler_stop(struct scheduler *sc, int64_t timeout_ms)
{
	if (!sc)
		return;
	if (sc->running) {
		struct timeval tv = timeval_ms(timeout_ms);
		/* Both events belong to the scheduler's loop; adding a timer from
		 * here is safe after evthread_use_pthreads(). */
		evtimer_add(sc->drain_timer, &tv);
		event_active(sc->stop_ev, 0, 0);
		pthread_join(sc->thread, NULL);
	}
	scheduler_free(sc);
}

int scheduler_alive(const struct scheduler *sc, int64_t limit_ms)
{
	return !sc || now_monotonic_ms() - atomic_load(&sc->last_beat_ms) <= limit_ms;
}
