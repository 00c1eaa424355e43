/* retake.c - the take-back of reminders fired ahead by a fire that could
 * not see a change to who hears of them (sql/028). Such a change (an
 * endpoint added, changed or deleted, an org renamed, a visit changed)
 * takes back what was fired before it, but not a fire still under way;
 * it tells its transaction id on liaison_retake as it commits, and every
 * instance hears it. Each then takes back, in one statement
 * (SCHED_RETAKE), the reminders of every fire whose snapshot did not see
 * it, to be fired again from what is true now: when it hears it, and
 * after each of its own fires that was under way then (whenever that
 * fire's commit lands), so that one runs after both the change and the
 * fire have committed, whichever was last.
 *
 * Changes it may not have heard (the LISTEN connection was lost, or more
 * came than it keeps) are stood for by a transaction of its own committed
 * since (SCHED_RETAKE_MARK): a fire that did not see one of them began
 * before it, and does not see it either. */
#include "clock.h"
#include "config.h"
#include "dbpool.h"
#include "jobs/sched_state.h"
#include "jobs/scheduler_sql.h"
#include "log.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number of the oldest fire of this instance still in flight, or one
 * past the last sent. */
static uint64_t oldest_fire(const struct scheduler *sc)
{
	uint64_t oldest = sc->fires_sent + 1;
	for (int i = 0; i < FIRES_IN_FLIGHT; i++)
		if (sc->fires[i].busy && sc->fires[i].seq < oldest)
			oldest = sc->fires[i].seq;
	return oldest;
}

/* Adds xid (n decimal digits); 0 when kept, -1 when there is no room. */
static int retake_add(struct scheduler *sc, const char *xid, size_t n)
{
	int64_t now = now_monotonic_ms();
	int i = 0;
	while (i < sc->nretakes && strcmp(sc->retakes[i].xid, xid))
		i++;
	if (i == RETAKE_MAX)
		return -1;
	if (i == sc->nretakes)
		sc->nretakes++;
	memcpy(sc->retakes[i].xid, xid, n);
	sc->retakes[i].xid[n] = '\0';
	sc->retakes[i].heard_ms = now;
	/* Another instance's fire under way when it was heard: that instance
	 * heard it too, and its own fires are its to look after. This floor
	 * covers one that stops before it does. */
	sc->retakes[i].until_ms = now + sc->cfg->db_query_timeout_ms + 1000;
	sc->retakes[i].fires = sc->fires_sent;
	sc->retakes[i].seen[0] = '\0';
	sc->retakes[i].last = sc->retakes[i].clear = sc->retakes[i].clear_sent = 0;
	sc->retakes[i].sent = 0;
	return 0;
}

static void retake_mark(struct scheduler *sc);

static void on_marked(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->mark_busy = 0;
	int again = sc->mark_again; /* changes missed after this one was asked */
	sc->mark_again = 0;
	if (sched_ok_rows(res, "marking a take-back") && PQntuples(res) == 1) {
		/* It stands for the changes heard before it was asked for. */
		int kept = 0;
		for (int i = 0; i < sc->nretakes; i++)
			if (sc->retakes[i].heard_ms >= sc->mark_asked_ms)
				sc->retakes[kept++] = sc->retakes[i];
		sc->nretakes = kept;
		const char *xid = PQgetvalue(res, 0, 0);
		size_t n = strlen(xid);
		if (n < sizeof(sc->retakes[0].xid) && retake_add(sc, xid, n) == 0 && !again)
			sc->mark_due = 0;
		retake_step(sc); /* which asks for another mark, if one is due */
	}
	/* Failed: mark_due stays, and the poll asks again. */
	sched_op_done(sc);
}

/* Asks for a transaction id that stands for every change heard so far,
 * and any not heard. */
static void retake_mark(struct scheduler *sc)
{
	sc->mark_due = 1;
	if (sc->stopping)
		return;
	if (sc->mark_busy) {
		sc->mark_again = 1;
		return;
	}
	sc->mark_asked_ms = now_monotonic_ms();
	sc->mark_busy = 1; /* first: a send that fails answers before it returns */
	if (sched_query(sc, SCHED_RETAKE_MARK, 0, NULL, on_marked, sc) != 0)
		sc->mark_busy = 0;
}

void retake_heard(struct scheduler *sc, const char *xid)
{
	if (!xid) { /* (re)connected: changes may have been missed meanwhile */
		if (sc->listened || sc->fires_sent)
			retake_mark(sc);
		sc->listened = 1;
		return;
	}
	size_t n = strspn(xid, "0123456789");
	if (!n || xid[n] || n >= sizeof(sc->retakes[0].xid) || retake_add(sc, xid, n) != 0) {
		retake_mark(sc);
		return;
	}
	retake_step(sc);
}

static void on_retaken(PGresult *res, void *arg)
{
	struct scheduler *sc = arg;
	sc->retake_busy = 0;
	int ok = sched_ok_rows(res, "taking back reminders fired during a change") &&
	         PQntuples(res) == 1;
	/* A change is done with once a take-back has run after every fire of
	 * ours that could have missed it, its floor has passed, and no
	 * transaction that might be such a fire was running: twice in a row,
	 * since a fire may commit between this statement's snapshot and its
	 * look at the others. */
	int nothing_waits = ok && PQgetvalue(res, 0, 1)[0] == 'f';
	int kept = 0;
	for (int i = 0; i < sc->nretakes; i++) {
		struct retake x = sc->retakes[i];
		if (!x.sent) { /* heard since it was sent */
			sc->retakes[kept++] = x;
			continue;
		}
		if (ok && !x.seen[0])
			snprintf(x.seen, sizeof(x.seen), "%s", PQgetvalue(res, 0, 2));
		int clear = nothing_waits && x.last && x.until_ms <= sc->retake_sent_ms;
		if (clear && x.clear_sent)
			continue;
		if (ok)
			x.clear = clear;
		x.last = x.clear_sent = x.sent = 0;
		sc->retakes[kept++] = x;
	}
	sc->nretakes = kept;
	if (ok) {
		long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		if (n) {
			log_info(
			    "scheduler: %ld reminders, fired while a change to who hears of them "
			    "committed, are fired again",
			    n);
			fire_step(sc);
		}
	}
	/* Failed (a deadlock, the deadline): the changes stay, and the poll
	 * runs it again. */
	if (sc->retake_again) {
		sc->retake_again = 0;
		retake_step(sc);
	}
	sched_op_done(sc);
}

void retake_step(struct scheduler *sc)
{
	/* Not held back by stopping: a fire that ends in the drain still
	 * needs its take-back. */
	if (sc->mark_due && !sc->mark_busy && !sc->stopping)
		retake_mark(sc);
	if (!sc->nretakes)
		return;
	if (sc->retake_busy) {
		sc->retake_again = 1;
		return;
	}
	uint64_t oldest = oldest_fire(sc);
	/* Writers that began by the latest first take-back of the changes
	 * (none yet for one: now) may be fires that missed them. */
	const char *since = NULL;
	struct evbuffer *a = evbuffer_new();
	int rc = !a;
	for (int i = 0; !rc && i < sc->nretakes; i++) {
		struct retake *x = &sc->retakes[i];
		x->last = x->fires < oldest;
		x->clear_sent = x->clear;
		x->sent = 1;
		if (i == 0 ||
		    (since && (!x->seen[0] || strtod(x->seen, NULL) > strtod(since, NULL))))
			since = x->seen[0] ? x->seen : NULL;
		rc = db_array_add(a, x->xid);
	}
	char *xids = rc ? NULL : db_array_end(a);
	if (a)
		evbuffer_free(a);
	if (!xids)
		return; /* out of memory: the poll tries again */
	const char *p[] = {xids, since};
	sc->retake_sent_ms = now_monotonic_ms();
	sc->retake_busy = 1; /* first: a send that fails answers before it returns */
	if (sched_query(sc, SCHED_RETAKE, 2, p, on_retaken, sc) != 0)
		sc->retake_busy = 0;
	free(xids);
}
