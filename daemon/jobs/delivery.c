/* delivery.c - messages: due ones are claimed (FOR UPDATE SKIP LOCKED,
 * with a lease) up to webhook_concurrency in flight, signed (Standard
 * Webhooks) and sent by the sender, each within its endpoint's rate limit;
 * the outcomes are recorded in batches, which also retries, fails or
 * disables as the answers say. */
#include "clock.h"
#include "config.h"
#include "core/metrics.h"
#include "dbpool.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "jobs/sender.h"
#include "log.h"
#include "macros.h"
#include "strhash.h"
#include "validate.h"
#include "whsig.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_BATCH 1000
/* Messages claimed ahead of the places to send them, per endpoint and in
 * all, as a multiple of the concurrency: a claim is one statement for a
 * thousand messages instead of one per place freed. A claim asks whether
 * the endpoint may still see what a message tells, so a message waits
 * for a place LANE_WAIT_MAX_MS at most: later it goes back unsent, to be
 * asked again, and its endpoint is claimed no further ahead than its
 * places for SLOW_HOLD_MS. */
#define PREFETCH         8
#define LANE_WAIT_MAX_MS 250
#define SLOW_HOLD_MS     60000
/* The longest a claimed message waits in memory for its endpoint's rate
 * limit: well inside its lease, so no other claim takes it meanwhile. A
 * message held ahead of its time (sql/022) may wait as long for a place:
 * a burst's messages all join their lane at their time, and their lease
 * runs from it. */
#define RATE_WAIT_MAX_MS (LEASE_MARGIN_MS - 1000)
/* Held messages checked in one statement at most. */
#define CHECK_BATCH       10000
#define REPORT_BATCH      1000
#define REPORTS_IN_FLIGHT 2
/* An outcome is recorded this long before its lease would run out, at
 * the latest: the time its report may take. */
#define REPORT_MARGIN_MS 2000

void job_free(struct job *j)
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

/* ---- lanes: each endpoint's places ------------------------------------------ */

static struct lane *lane_get(struct scheduler *sc, const char *endpoint)
{
	struct lane **b = &sc->lanes[str_hash(endpoint) % LANE_BUCKETS];
	for (struct lane *l = *b; l; l = l->hnext)
		if (!strcmp(l->endpoint, endpoint))
			return l;
	struct lane *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	snprintf(l->endpoint, sizeof(l->endpoint), "%s", endpoint);
	l->hnext = *b;
	*b = l;
	return l;
}

/* Frees the lanes with nothing in them and nothing to remember; all of
 * them when all is set (at exit, the jobs being freed apart). */
void lanes_sweep(struct scheduler *sc, int all)
{
	int64_t now = now_monotonic_ms();
	for (size_t i = 0; i < LANE_BUCKETS; i++) {
		struct lane **p = &sc->lanes[i];
		while (*p) {
			struct lane *l = *p;
			if (all || (!l->inflight && !l->head && l->slow_until <= now)) {
				*p = l->hnext;
				free(l);
			} else {
				p = &l->hnext;
			}
		}
	}
}

static void job_send(struct job *j);
static void outcome_add(struct job *j);
static void report_flush(struct scheduler *sc);

/* Sends what l's places allow, in the order claimed. A message that has
 * waited past LANE_WAIT_MAX_MS goes back unsent (due at once, no attempt
 * counted), and the endpoint is claimed no further ahead than its places
 * for a while. */
static void lane_pump(struct scheduler *sc, struct lane *l)
{
	int64_t now = now_monotonic_ms();
	while (l->head) {
		struct job *j = l->head;
		int late = now - j->ready_ms > (j->ahead ? RATE_WAIT_MAX_MS : LANE_WAIT_MAX_MS);
		if (!late && !sc->stopping) {
			if (l->inflight >= sc->cfg->webhook_endpoint_concurrency)
				return;
			if (sc->sending >= sc->cfg->webhook_concurrency) {
				sc->lanes_full = 1;
				return;
			}
		}
		l->head = j->lane_next;
		if (!l->head)
			l->tail = NULL;
		j->lane_next = NULL;
		sc->waiting -= j->ahead;
		if (late || sc->stopping) {
			if (late)
				l->slow_until = now + SLOW_HOLD_MS;
			j->lane = NULL;
			j->state = "pending";
			j->delay_ms = 0;
			j->tried = 0;
			outcome_add(j);
			continue;
		}
		l->inflight++;
		sc->sending++;
		j->sending = 1;
		job_send(j);
	}
}

/* j is ready to go: into its endpoint's lane (sent at once if there is no
 * lane to be had: better early than never). */
static void lane_enqueue(struct job *j)
{
	struct scheduler *sc = j->sc;
	struct lane *l = lane_get(sc, j->endpoint);
	if (!l) {
		sc->sending++;
		j->sending = 1;
		job_send(j);
		return;
	}
	j->lane = l;
	j->lane_next = NULL;
	j->ready_ms = now_monotonic_ms();
	if (l->tail)
		l->tail->lane_next = j;
	else
		l->head = j;
	l->tail = j;
	sc->waiting += j->ahead;
	lane_pump(sc, l);
}

/* An attempt ended: its place goes to the next in its lane, and if lanes
 * waited for the instance's places, to them. */
static void lane_done(struct job *j)
{
	struct scheduler *sc = j->sc;
	if (!j->sending)
		return;
	j->sending = 0;
	sc->sending--;
	struct lane *l = j->lane;
	j->lane = NULL;
	if (l) {
		l->inflight--;
		lane_pump(sc, l);
	}
	if (sc->lanes_full && sc->sending < sc->cfg->webhook_concurrency) {
		sc->lanes_full = 0;
		for (size_t i = 0; i < LANE_BUCKETS; i++)
			for (struct lane *x = sc->lanes[i]; x; x = x->hnext)
				if (x->head)
					lane_pump(sc, x);
	}
	if (!sc->waiting) /* the reports held back while they waited */
		report_flush(sc);
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
 * database sees one statement per batch instead of one per attempt.
 * While messages held ahead of their time (a burst fired ahead, sql/022)
 * wait in lanes for a place, outcomes wait too, until none does or the
 * first outcome's lease comes near: the database's share of the cores
 * goes to the sending first, and the reports come after in full batches.
 * (Messages claimed in the ordinary way that wait for a place do not
 * hold the reports back: claims would wait for the room they take.) */

struct report {
	struct scheduler *sc;
	struct job *jobs;
	int n;
};

static void on_reported(PGresult *res, void *arg)
{
	struct report *rep = arg;
	struct scheduler *sc = rep->sc;
	if (sched_ok_rows(res, "recording delivery attempts") && PQntuples(res) == 1 &&
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
	sched_op_done(sc);
}

static void on_report_timer(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	report_flush(arg);
}

/* Whether the outcomes queued may wait for the lanes to empty (then a
 * timer is set for when they may not). */
static int report_defer(struct scheduler *sc)
{
	int64_t left = sc->outcomes_by_ms - now_monotonic_ms();
	if (!sc->waiting || sc->stopping || left <= 0 || sc->noutcomes >= HOLD_MAX)
		return 0;
	if (!sc->report_timer)
		sc->report_timer = evtimer_new(sc->base, on_report_timer, sc);
	struct timeval tv = timeval_ms(left);
	return sc->report_timer && evtimer_add(sc->report_timer, &tv) == 0;
}

static void report_flush(struct scheduler *sc)
{
	if (!sc->outcomes || sc->reports_in_flight >= REPORTS_IN_FLIGHT || report_defer(sc))
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
			    (j->delay_ms == DELAY_KEEP ? db_array_add(a[2], NULL)
			                               : sched_array_add_int(a[2], j->delay_ms)) ||
			    (j->res.status ? sched_array_add_int(a[3], j->res.status)
			                   : db_array_add(a[3], NULL)) ||
			    db_array_add(a[4], j->error[0] ? j->error : NULL) ||
			    db_array_add(a[5], j->ok ? "t" : "f") ||
			    sched_array_add_int(a[6], j->res.duration_ms) ||
			    db_array_add(a[7], j->response && *j->response ? j->response : NULL) ||
			    db_array_add(a[8], j->res.status == 410 ? "t" : "f") ||
			    db_array_add(a[9], j->tried ? "t" : "f"))
				ok = 0;
		}
		if (!sc->outcomes)
			sc->outcomes_tail = NULL;
		sc->noutcomes -= rep->n;
		sc->outcomes_by_ms = INT64_MAX;
		for (struct job *j = sc->outcomes; j; j = j->next)
			if (j->report_by_ms < sc->outcomes_by_ms)
				sc->outcomes_by_ms = j->report_by_ms;
		for (int i = 0; ok && i < 10; i++)
			ok &= (texts[i] = db_array_end(a[i])) != NULL;
	}
	char after[24];
	snprintf(after, sizeof(after), "%lld", (long long)sc->cfg->webhook_disable_after_ms);
	const char *p[] = {sc->instance, texts[0], texts[1], texts[2], texts[3], texts[4],
	                   texts[5],     texts[6], texts[7], texts[8], after,    texts[9]};
	if (ok && sched_query(sc, SCHED_REPORT, 12, p, on_reported, rep) == 0) {
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
	if (sc->outcomes_tail) {
		sc->outcomes_tail->next = j;
	} else {
		sc->outcomes = j;
		sc->outcomes_by_ms = INT64_MAX;
	}
	sc->outcomes_tail = j;
	sc->noutcomes++;
	/* A job that never got so far as a claim time has its lease from now. */
	int64_t by = (j->claimed_ms ? j->claimed_ms : now_monotonic_ms()) +
	             sc->cfg->webhook_timeout_ms + LEASE_MARGIN_MS - REPORT_MARGIN_MS;
	j->report_by_ms = by;
	if (by < sc->outcomes_by_ms)
		sc->outcomes_by_ms = by;
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
	/* Its place first: a report that cannot be written frees j. */
	lane_done(j);
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
	lane_enqueue(j);
}

static void on_rate_wait(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	job_go(arg);
}

/* A message claimed ahead of its time, now due. */
static void on_due_wait(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct job *j = arg;
	event_free(j->wait); /* a rate limit's wait has its own */
	j->wait = NULL;
	if (j->ahead) /* its lease runs from now */
		j->claimed_ms = now_monotonic_ms();
	job_go(j);
}

/* j waits for its time (claimed ahead of it), or goes now. */
static void job_wait_due(struct job *j, int64_t due_ms)
{
	int64_t early = due_ms - now_realtime_ms();
	if (j->wait) { /* its check's */
		event_free(j->wait);
		j->wait = NULL;
	}
	if (early > 0) {
		j->wait = evtimer_new(j->sc->base, on_due_wait, j);
		struct timeval tv = timeval_ms(early);
		if (j->wait && evtimer_add(j->wait, &tv) == 0)
			return;
	}
	if (j->ahead)
		j->claimed_ms = now_monotonic_ms();
	job_go(j);
}

static char *dup_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

/* A job for the claimed message in row of a claim's result (SCHED_CLAIM's
 * columns), counted; NULL when there is none to send (out of memory: its
 * lease runs out and it is tried again; or nothing to sign with). */
static struct job *job_new(struct scheduler *sc, PGresult *res, int row)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
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
		return NULL;
	}
	j->due_ms = strtoll(PQgetvalue(res, row, 10), NULL, 10);
	return j;
}

static void start_job(struct scheduler *sc, PGresult *res, int row)
{
	struct job *j = job_new(sc, res, row);
	if (!j)
		return;
	if (!j->body) {
		/* The event or agreement it was about is gone. */
		struct send_result fail = {.retry_after_ms = -1};
		snprintf(fail.error, sizeof(fail.error),
		         "nothing to send: its subject no longer exists");
		j->attempts = INT32_MAX / 2;
		on_sent(&fail, j);
		return;
	}
	job_wait_due(j, j->due_ms);
}

/* ---- messages held ahead of their time (sql/022) -------------------------------- */

/* j goes back unsent, due at its time, to whichever instance claims it. */
static void held_give_back(struct job *j)
{
	struct scheduler *sc = j->sc;
	if (j->wait)
		evtimer_del(j->wait);
	if (j->held != HELD_NO)
		sc->held--;
	j->held = HELD_NO;
	j->state = "pending";
	j->delay_ms = DELAY_KEEP;
	j->tried = 0;
	outcome_add(j);
}

static void check_step(struct scheduler *sc);

struct check {
	struct scheduler *sc;
	struct job *jobs; /* in the order asked */
	int n;
};

static void on_checked(PGresult *res, void *arg)
{
	struct check *ck = arg;
	struct scheduler *sc = ck->sc;
	int ok = sched_ok_rows(res, "checking messages held ahead") && PQntuples(res) == ck->n;
	int gone = 0;
	for (int i = 0; ck->jobs; i++) {
		struct job *j = ck->jobs;
		ck->jobs = j->next;
		j->next = NULL;
		if (sc->stopping) {
			held_give_back(j);
			continue;
		}
		sc->held--;
		j->held = HELD_NO;
		/* Unanswered, it is sent: better twice than never. */
		if (ok && strcmp(PQgetvalue(res, i, 0), "t") != 0) {
			gone++;
			sc->jobs--;
			job_free(j);
			continue;
		}
		job_wait_due(j, j->due_ms);
	}
	if (gone)
		log_info("scheduler: %d reminders held ahead were taken back by changes; they are "
		         "sent as they are now",
		         gone);
	free(ck);
	sc->check_busy = 0;
	if (sc->checks || sc->check_again) {
		sc->check_again = 0;
		check_step(sc);
	}
	sched_op_done(sc);
}

/* Asks which of the held jobs due for their check are still this
 * instance's own (SCHED_HELD_CHECK), one statement for them all. */
static void check_step(struct scheduler *sc)
{
	if (!sc->checks)
		return;
	if (sc->check_busy) {
		sc->check_again = 1;
		return;
	}
	struct check *ck = calloc(1, sizeof(*ck));
	struct evbuffer *ids = evbuffer_new();
	char *list = NULL;
	int ok = ck && ids;
	if (ck)
		ck->sc = sc;
	struct job **tail = ck ? &ck->jobs : NULL;
	while (ok && sc->checks && ck->n < CHECK_BATCH) {
		struct job *j = sc->checks;
		if (db_array_add(ids, j->id)) {
			ok = 0;
			break;
		}
		sc->checks = j->next;
		j->next = NULL;
		j->held = HELD_CHECKING;
		*tail = j;
		tail = &j->next;
		ck->n++;
	}
	if (!sc->checks)
		sc->checks_tail = NULL;
	if (ok)
		list = db_array_end(ids);
	if (ids)
		evbuffer_free(ids);
	const char *p[] = {list, sc->instance};
	if (list && sched_query(sc, SCHED_HELD_CHECK, 2, p, on_checked, ck) == 0) {
		sc->check_busy = 1;
		free(list);
		return;
	}
	free(list);
	/* Not asked: sent at their time (better twice than never). */
	while (ck && ck->jobs) {
		struct job *j = ck->jobs;
		ck->jobs = j->next;
		j->next = NULL;
		sc->held--;
		j->held = HELD_NO;
		job_wait_due(j, j->due_ms);
	}
	free(ck);
}

static void on_check_due(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct job *j = arg;
	struct scheduler *sc = j->sc;
	j->held = HELD_QUEUED;
	j->next = NULL;
	if (sc->checks_tail)
		sc->checks_tail->next = j;
	else
		sc->checks = j;
	sc->checks_tail = j;
	check_step(sc);
}

void held_start(struct scheduler *sc, PGresult *res, int row)
{
	struct job *j = job_new(sc, res, row);
	if (!j)
		return;
	j->ahead = 1;
	j->held = HELD_WAIT;
	sc->held++;
	if (sc->stopping) {
		held_give_back(j);
		return;
	}
	/* Due within CLAIM_AHEAD_MS when written: nothing can take it back. */
	if (!strcmp(PQgetvalue(res, row, 11), "t")) {
		sc->held--;
		j->held = HELD_NO;
		job_wait_due(j, j->due_ms);
		return;
	}
	j->wait = evtimer_new(sc->base, on_check_due, j);
	int64_t early = j->due_ms - CLAIM_AHEAD_MS - now_realtime_ms();
	struct timeval tv = timeval_ms(early > 0 ? early : 0);
	/* No timer for its check: handed back, not checked now, when a change
	 * could still take it back and its reminder fire again (sent twice). */
	if (!j->wait || evtimer_add(j->wait, &tv) != 0)
		held_give_back(j);
}

void held_release(struct scheduler *sc)
{
	/* Gathered first: a report that cannot be written frees jobs. */
	struct job *back = NULL;
	for (struct job *j = sc->all_jobs; j; j = j->all_next)
		if (j->held == HELD_WAIT) {
			j->next = back;
			back = j;
		}
	while (back) {
		struct job *j = back;
		back = j->next;
		held_give_back(j);
	}
	while (sc->checks) {
		struct job *j = sc->checks;
		sc->checks = j->next;
		held_give_back(j);
	}
	sc->checks_tail = NULL;
	report_flush(sc); /* what waited for the lanes */
}

static void on_claimed(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->claim_busy = 0;
	int n = 0;
	long withheld = 0, missed = 0;
	if (sched_ok_rows(res, "claiming messages")) {
		n = PQntuples(res);
		withheld = n ? strtol(PQgetvalue(res, 0, 8), NULL, 10) : 0;
		missed = n ? strtol(PQgetvalue(res, 0, 9), NULL, 10) : 0;
		if (withheld > 0) {
			metrics_add(M_WEBHOOK_WITHHELD, (uint64_t)withheld);
			log_info(
			    "scheduler: %ld messages cancelled unsent: their endpoints' orgs may "
			    "no longer see their event or agreement",
			    withheld);
		}
		if (missed > 0) {
			metrics_add(M_REMINDERS_MISSED, (uint64_t)missed);
			log_warn("scheduler: %ld reminders not sent: their occurrence had ended "
			         "before they could be sent",
			         missed);
		}
		/* A row without id only carries that count. */
		for (int i = 0; i < n && !sc->stopping; i++)
			if (!PQgetisnull(res, i, 0))
				start_job(sc, res, i);
	}
	/* Cancelled messages took places in the batch (and in their
	 * endpoints' share) that others behind them may have now. */
	if (sc->claim_again || n == CLAIM_BATCH || withheld > 0 || missed > 0) {
		sc->claim_again = 0;
		claim_step(sc);
	}
	sched_op_done(sc);
}

char *slow_endpoints(struct scheduler *sc)
{
	lanes_sweep(sc, 0);
	struct evbuffer *slow = evbuffer_new();
	char *list = NULL;
	int64_t now = now_monotonic_ms();
	int ok = slow != NULL;
	for (size_t i = 0; ok && i < LANE_BUCKETS; i++)
		for (struct lane *l = sc->lanes[i]; ok && l; l = l->hnext)
			if (l->slow_until > now && db_array_add(slow, l->endpoint))
				ok = 0;
	if (ok)
		list = db_array_end(slow);
	if (slow)
		evbuffer_free(slow);
	return list;
}

void claim_step(struct scheduler *sc)
{
	if (sc->stopping)
		return;
	if (sc->claim_busy) {
		sc->claim_again = 1;
		return;
	}
	/* What is held ahead of its time takes no place yet. */
	int room = sc->cfg->webhook_concurrency * PREFETCH - (sc->jobs - sc->held);
	if (room <= 0)
		return; /* a finished attempt claims again */
	char *slow_list = slow_endpoints(sc);
	if (!slow_list)
		return; /* out of memory: the poll claims again */
	char limit[16], per_endpoint[16], places[16], lease[24], ahead[16];
	snprintf(limit, sizeof(limit), "%d", room < CLAIM_BATCH ? room : CLAIM_BATCH);
	snprintf(per_endpoint, sizeof(per_endpoint), "%d",
	         sc->cfg->webhook_endpoint_concurrency * PREFETCH);
	snprintf(places, sizeof(places), "%d", sc->cfg->webhook_endpoint_concurrency);
	snprintf(lease, sizeof(lease), "%lld",
	         (long long)(sc->cfg->webhook_timeout_ms + LEASE_MARGIN_MS));
	snprintf(ahead, sizeof(ahead), "%d", CLAIM_AHEAD_MS);
	const char *p[] = {sc->instance, limit, per_endpoint, lease, slow_list, places, ahead};
	if (sched_query(sc, SCHED_CLAIM, 7, p, on_claimed, sc) == 0)
		sc->claim_busy = 1;
	free(slow_list);
}
