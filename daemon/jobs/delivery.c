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
#include "validate.h"
#include "whsig.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_BATCH     256
#define LEASE_MARGIN_MS 5000
/* The longest a claimed message waits in memory for its endpoint's rate
 * limit: well inside its lease, so no other claim takes it meanwhile. */
#define RATE_WAIT_MAX_MS  (LEASE_MARGIN_MS - 1000)
#define REPORT_BATCH      128
#define REPORTS_IN_FLIGHT 2

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
			    sched_array_add_int(a[2], j->delay_ms) ||
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
	if (sched_ok_rows(res, "claiming messages")) {
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
	sched_op_done(sc);
}

void claim_step(struct scheduler *sc)
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
	if (sched_query(sc, SCHED_CLAIM, 4, p, on_claimed, sc) == 0)
		sc->claim_busy = 1;
}
