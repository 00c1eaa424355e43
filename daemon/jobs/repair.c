/* repair.c - the scheduler's step that computes again, once, the instants
 * of rows written before the daemon computed them all (sql/031's
 * events_instants_due): REPAIR_BATCH rows per read and write (fewer when
 * their rules take long), on the poll until the list is empty. Several
 * instances may share the work: a row is the same whoever computes it. */
#include "clock.h"
#include "event.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "log.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPAIR_BATCH    500
#define REPAIR_SLICE_US 50000

enum {
	R_ID,
	R_VERSION,
	R_ZONE,
	R_ALL_DAY,
	R_START,
	R_END,
	R_RRULE,
	R_RDATES,
	R_START_UTC,
	R_END_UTC,
	R_LAST_END_UTC,
	R_RDATES_FROM
};

/* An instant as the read gives it, or INT64_MAX for NULL. */
static int64_t stored(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? INT64_MAX
	                                  : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* The daemon's instants of row; 0 when they differ from what it holds,
 * 1 when the same, -1 when they cannot be computed (left as they are).
 * A timed series keeps the last end it holds: its rule's end was always
 * the daemon's (only its earliest RDATE may be 027's bound). An all-day
 * series' last day was measured by its first one's length before 313b2bd,
 * so its rule is walked; a walk its budget cut short keeps the held end. */
static int computed(PGresult *res, int row, struct event_in *e)
{
	memset(e, 0, sizeof(*e));
	e->timezone = PQgetvalue(res, row, R_ZONE);
	e->all_day = PQgetvalue(res, row, R_ALL_DAY)[0] == 't';
	e->has_end = !PQgetisnull(res, row, R_END);
	int ruled = !PQgetisnull(res, row, R_RRULE);
	if (ruled && e->all_day)
		e->rrule = PQgetvalue(res, row, R_RRULE);
	if (civil_parse(PQgetvalue(res, row, R_START), 0, &e->start) ||
	    (e->has_end && civil_parse(PQgetvalue(res, row, R_END), 0, &e->end)))
		return -1;
	e->rdates = json_loads(PQgetvalue(res, row, R_RDATES), 0, NULL);
	int rc = e->rdates ? event_times(e) : -1;
	json_decref(e->rdates);
	e->rdates = NULL;
	if (rc)
		return -1;
	if (ruled && (!e->rrule || e->last_end_utc == INT64_MAX))
		e->last_end_utc = stored(res, row, R_LAST_END_UTC);
	return e->start_utc == stored(res, row, R_START_UTC) &&
	       e->end_utc == stored(res, row, R_END_UTC) &&
	       e->last_end_utc == stored(res, row, R_LAST_END_UTC) &&
	       e->rdates_from == stored(res, row, R_RDATES_FROM);
}

static int add_instant(struct evbuffer *b, int64_t t)
{
	return t == INT64_MAX ? db_array_add(b, NULL) : sched_array_add_int(b, t);
}

static void on_repair_written(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->repair_busy = 0;
	if (sched_ok_rows(res, "computing old rows' instants again") && PQntuples(res) == 1) {
		sc->repaired += strtol(PQgetvalue(res, 0, 0), NULL, 10);
		repair_step(sc);
	} else if (res && !db_transient(res)) {
		sc->repair_done = 1; /* tried again at the next start */
	} /* else an outage, a deadlock or a timeout: the poll tries again */
	sched_op_done(sc);
}

/* The write of a batch read: 0 when it is sent. */
static int repair_write(struct scheduler *sc, PGresult *res)
{
	struct evbuffer *b[7];
	char *text[7] = {NULL};
	int ok = 1;
	for (int i = 0; i < 7; i++)
		ok &= (b[i] = evbuffer_new()) != NULL;
	/* Rule walks may take a read's budget each: past REPAIR_SLICE_US the
	 * rest of the batch is left listed, for the next pass. */
	int64_t until = now_monotonic_us() + REPAIR_SLICE_US;
	for (int row = 0; ok && row < PQntuples(res) && (row == 0 || now_monotonic_us() < until);
	     row++) {
		struct event_in e;
		ok &= !db_array_add(b[0], PQgetvalue(res, row, R_ID)) &&
		      !db_array_add(b[1], PQgetvalue(res, row, R_VERSION));
		if (!ok || computed(res, row, &e) != 0)
			continue;
		ok &= !db_array_add(b[2], PQgetvalue(res, row, R_ID)) &&
		      !sched_array_add_int(b[3], e.start_utc) &&
		      !sched_array_add_int(b[4], e.end_utc) && !add_instant(b[5], e.last_end_utc) &&
		      !add_instant(b[6], e.rdates_from);
	}
	for (int i = 0; i < 7; i++) {
		if (b[i] && ok)
			ok &= (text[i] = db_array_end(b[i])) != NULL;
		if (b[i])
			evbuffer_free(b[i]);
	}
	int rc = -1;
	if (ok) {
		const char *p[] = {text[0], text[1], text[2], text[3], text[4], text[5], text[6]};
		rc = sched_query(sc, SCHED_REPAIR_WRITE, 7, p, on_repair_written, sc);
	}
	for (int i = 0; i < 7; i++)
		free(text[i]);
	return rc;
}

static void on_repair_read(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->repair_busy = 0;
	if (!sched_ok_rows(res, "reading old rows' instants")) {
		sc->repair_done = res && !db_transient(res); /* else the poll tries again */
	} else if (PQntuples(res) == 0) {
		sc->repair_done = 1;
		if (sc->repaired)
			log_info("scheduler: %ld rows written before 031 now hold the daemon's "
			         "instants",
			         sc->repaired);
	} else if (!sc->stopping && repair_write(sc, res) == 0) {
		sc->repair_busy = 1;
	}
	sched_op_done(sc);
}

void repair_step(struct scheduler *sc)
{
	if (sc->stopping || sc->repair_busy || sc->repair_done)
		return;
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", REPAIR_BATCH);
	const char *p[] = {batch};
	if (sched_query(sc, SCHED_REPAIR_READ, 1, p, on_repair_read, sc) == 0)
		sc->repair_busy = 1;
}
