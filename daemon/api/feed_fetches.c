/* feed_fetches.c - see feed_fetches.h. */
#include "api/feed_fetches.h"

#include "api/feed_health_sql.h"
#include "clock.h"
#include "core/metrics.h"
#include "dbpool.h"
#include "log.h"
#include "token.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_MS 1000
/* Feeds and kinds of client per second and worker: a power of two. Full
 * at three quarters, so that a lookup stays short; a quarter at most for
 * 404s, so that fetches of unknown tokens cannot crowd out real ones. */
#define SLOTS     512
#define SLOTS_USE (SLOTS * 3 / 4)
#define SLOTS_404 (SLOTS / 4)

const char *const fetch_client_names[FC_COUNT] = {"google",      "microsoft", "apple",
                                                  "thunderbird", "icsx5",     "other"};

/* What each calendar client puts in its User-Agent, as the clients send it:
 * Google Calendar's fetcher "Google-Calendar-Importer"; Outlook.com and
 * Microsoft 365 fetch through Exchange ("Microsoft.Exchange/15.20 (...)"),
 * Outlook on Windows "Microsoft Office/16.0 (... Microsoft Outlook 16.0...)",
 * its apps "Outlook-iOS/..."; Apple "iOS/17.0 (21A329) dataaccessd/1.0",
 * "macOS/14.0 (23A344) CalendarAgent/988", older "iCal/5.0", newer
 * "calaccessd"; Thunderbird "... Gecko/20100101 Thunderbird/115.3.1";
 * "ICSx5/2.2 (ical4j/3.2; okhttp/4.12; Android/14)" and DAVx5 (formerly
 * DAVdroid). Matched without case, in this order. */
static const struct {
	const char *needle;
	enum fetch_client client;
} agents[] = {
    {"google-calendar-importer", FC_GOOGLE},
    {"microsoft.exchange", FC_MICROSOFT},
    {"microsoft office", FC_MICROSOFT},
    {"microsoft outlook", FC_MICROSOFT},
    {"outlook-", FC_MICROSOFT},
    {"dataaccessd", FC_APPLE},
    {"calaccessd", FC_APPLE},
    {"calendaragent", FC_APPLE},
    {"ical/", FC_APPLE},
    {"coredav", FC_APPLE},
    {"thunderbird", FC_THUNDERBIRD},
    {"icsx5", FC_ICSX5},
    {"davx5", FC_ICSX5},
    {"davdroid", FC_ICSX5},
};

enum fetch_client fetch_client_of(const char *ua)
{
	for (size_t i = 0; ua && i < ARRAY_LEN(agents); i++)
		if (strcasestr(ua, agents[i].needle))
			return agents[i].client;
	return FC_OTHER;
}

struct slot {
	char hash[TOKEN_HASH_HEX + 1]; /* "" when free */
	unsigned char client;
	int status;
	uint32_t fetches;
	/* The last one's, Unix microseconds: two fetches of one feed by one
	 * client on two threads a millisecond apart or less still order by
	 * when they came, whichever thread writes last (the write keeps the
	 * latest). */
	int64_t at_us;
	uint64_t bytes;
};

struct fetchlog {
	struct dbpool *db;
	struct event *timer;
	int armed;
	int used, used404;
	int order[SLOTS_USE]; /* the slots in use */
	struct slot slots[SLOTS];
};

static void on_flush_timer(evutil_socket_t fd, short what, void *arg);

struct fetchlog *fetchlog_new(struct event_base *base, struct dbpool *db)
{
	struct fetchlog *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->db = db;
	if (!(l->timer = evtimer_new(base, on_flush_timer, l))) {
		free(l);
		return NULL;
	}
	return l;
}

void fetchlog_free(struct fetchlog *l)
{
	if (!l)
		return;
	event_free(l->timer);
	free(l);
}

static unsigned slot_of(const char *hash, enum fetch_client c)
{
	unsigned h = 0;
	for (int i = 0; i < 8 && hash[i]; i++)
		h = h << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 32) - 'a' + 10);
	return (h * 7u + (unsigned)c) & (SLOTS - 1);
}

void fetchlog_record(struct fetchlog *l, const char *hash, int status, size_t bytes,
                     const char *user_agent)
{
	if (!l || !hash)
		return;
	enum fetch_client c = fetch_client_of(user_agent);
	metrics_feed_fetch((size_t)c);
	unsigned at = slot_of(hash, c);
	struct slot *s = &l->slots[at];
	while (s->hash[0] && (s->client != c || strcmp(s->hash, hash))) {
		at = (at + 1) & (SLOTS - 1);
		s = &l->slots[at];
	}
	if (!s->hash[0]) {
		if (l->used == SLOTS_USE || (status == 404 && l->used404 == SLOTS_404)) {
			metrics_inc(M_FEED_FETCHES_UNRECORDED);
			return;
		}
		snprintf(s->hash, sizeof(s->hash), "%s", hash);
		s->client = (unsigned char)c;
		s->fetches = 0;
		l->order[l->used++] = (int)at;
		l->used404 += status == 404;
	}
	s->fetches++;
	s->status = status;
	s->bytes = bytes;
	s->at_us = now_realtime_us();
	if (!l->armed) {
		struct timeval tv = timeval_ms(FLUSH_MS);
		l->armed = evtimer_add(l->timer, &tv) == 0;
	}
}

static void on_written(PGresult *res, void *arg)
{
	long long n = (long long)(intptr_t)arg;
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warn("recording %lld feed fetches failed: %s", n,
		         res ? PQresultErrorMessage(res) : "no connection");
		metrics_add(M_FEED_FETCHES_UNRECORDED, (uint64_t)n);
	}
}

/* Sends what it holds in one statement, without waiting for the answer. */
static void fetchlog_flush(struct fetchlog *l)
{
	if (!l || !l->used)
		return;
	struct evbuffer *col[6];
	int rc = 0;
	uint64_t total = 0;
	for (int k = 0; k < 6; k++)
		rc |= !(col[k] = evbuffer_new());
	for (int i = 0; i < l->used; i++) {
		struct slot *s = &l->slots[l->order[i]];
		char n[16], at[24], status[8], bytes[24];
		snprintf(n, sizeof(n), "%u", (unsigned)s->fetches);
		snprintf(at, sizeof(at), "%lld", (long long)s->at_us);
		snprintf(status, sizeof(status), "%d", s->status);
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)s->bytes);
		total += s->fetches;
		if (rc == 0)
			rc |= db_array_add(col[0], s->hash) | db_array_add(col[1], n) |
			      db_array_add(col[2], at) |
			      db_array_add(col[3], fetch_client_names[s->client]) |
			      db_array_add(col[4], status) | db_array_add(col[5], bytes);
		memset(s, 0, sizeof(*s));
	}
	l->used = l->used404 = 0;
	char *p[6] = {NULL};
	for (int k = 0; k < 6; k++) {
		p[k] = rc == 0 ? db_array_end(col[k]) : NULL;
		rc |= !p[k];
		if (col[k])
			evbuffer_free(col[k]);
	}
	if (rc != 0 || dbpool_query(l->db, SQL_FEED_FETCHES_WRITE, 6, (const char *const *)p,
	                            on_written, (void *)(intptr_t)total) != 0)
		metrics_add(M_FEED_FETCHES_UNRECORDED, total);
	for (int k = 0; k < 6; k++)
		free(p[k]);
}

static void on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
	UNUSED(fd);
	UNUSED(what);
	struct fetchlog *l = arg;
	l->armed = 0;
	fetchlog_flush(l);
}
