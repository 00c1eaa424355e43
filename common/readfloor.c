/* readfloor.c - the WAL position a standby must have replayed for a read
 * to be answered there, and when to try (readfloor.h). */
#include "readfloor.h"

#include "clock.h"
#include "hex.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct readfloor {
	_Atomic uint64_t lsn;     /* the floor */
	_Atomic uint64_t changes; /* changes this instance was told of */
	_Atomic uint64_t covered; /* how many of them the floor is known to cover */
	/* Monotonic: when the read behind which the floor was last read was
	 * submitted; the floor holds every commit before then. */
	_Atomic int64_t read_us;
	_Atomic int64_t hold_until_us; /* the standby was behind: not before then */
	_Atomic int64_t hold_us;       /* the last hold's length */
	/* A readfloor_refresh under way, and what route() would have given
	 * its token and time (only the loop that refreshes reads them). */
	_Atomic int refreshing;
	uint64_t refresh_token;
	int64_t refresh_us;
	struct dbpool_floor policy;
};

/* Never read: older than any age. */
#define NEVER_US (-((int64_t)1 << 62))

static void max_u64(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);
	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

static void max_i64(_Atomic int64_t *a, int64_t v)
{
	int64_t cur = atomic_load(a);
	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

void readfloor_changed(struct readfloor *f)
{
	if (f)
		atomic_fetch_add(&f->changes, 1);
}

int readfloor_route(struct readfloor *f, int64_t now_us, char *lsn, size_t len, uint64_t *token)
{
	/* The token first: a change marked after it is not covered by what
	 * the primary answers this read with. The floor last: it was raised
	 * before covered and read_us were. */
	uint64_t changes = atomic_load(&f->changes);
	*token = changes;
	if (atomic_load(&f->covered) < changes ||
	    now_us - atomic_load(&f->read_us) >= (int64_t)READFLOOR_MAX_AGE_MS * 1000 ||
	    now_us < atomic_load(&f->hold_until_us))
		return 0;
	readfloor_format_lsn(atomic_load(&f->lsn), lsn, len);
	return 1;
}

void readfloor_sampled(struct readfloor *f, const char *lsn, uint64_t token, int64_t submitted_us)
{
	uint64_t v;
	if (readfloor_parse_lsn(lsn, &v) != 0)
		return;
	max_u64(&f->lsn, v);
	max_u64(&f->covered, token);
	max_i64(&f->read_us, submitted_us);
}

void readfloor_seen(struct readfloor *f, const char *lsn)
{
	uint64_t v;
	if (readfloor_parse_lsn(lsn, &v) == 0)
		max_u64(&f->lsn, v);
}

void readfloor_behind(struct readfloor *f, int64_t now_us)
{
	int64_t until = atomic_load(&f->hold_until_us), hold = atomic_load(&f->hold_us);
	if (now_us < until)
		return; /* reads sent before the hold began */
	/* Behind again soon after the last hold ended: twice as long. */
	if (hold && now_us < until + hold)
		hold = hold * 2 < READFLOOR_HOLD_MAX_MS * 1000 ? hold * 2
		                                               : READFLOOR_HOLD_MAX_MS * 1000;
	else
		hold = READFLOOR_HOLD_MIN_MS * 1000;
	atomic_store(&f->hold_us, hold);
	atomic_store(&f->hold_until_us, now_us + hold);
}

static void on_refreshed(PGresult *res, void *arg)
{
	struct readfloor *f = arg;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		readfloor_sampled(f, PQgetvalue(res, 0, 0), f->refresh_token, f->refresh_us);
	atomic_store(&f->refreshing, 0);
}

void readfloor_refresh(struct readfloor *f, struct dbpool *pool)
{
	if (atomic_exchange(&f->refreshing, 1))
		return;
	f->refresh_token = atomic_load(&f->changes); /* before the reading is sent */
	f->refresh_us = now_monotonic_us();
	if (dbpool_query(pool, dbpool_wal_position_sql, 0, NULL, on_refreshed, f) != 0)
		atomic_store(&f->refreshing, 0);
}

static int policy_route(void *arg, char *lsn, size_t len, uint64_t *token)
{
	return readfloor_route(arg, now_monotonic_us(), lsn, len, token);
}

static void policy_sampled(void *arg, const char *lsn, uint64_t token, int64_t submitted_us)
{
	readfloor_sampled(arg, lsn, token, submitted_us);
}

static void policy_seen(void *arg, const char *lsn)
{
	readfloor_seen(arg, lsn);
}

static void policy_behind(void *arg)
{
	readfloor_behind(arg, now_monotonic_us());
}

struct readfloor *readfloor_new(void)
{
	struct readfloor *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	atomic_store(&f->read_us, NEVER_US);
	f->policy.route = policy_route;
	f->policy.sampled = policy_sampled;
	f->policy.seen = policy_seen;
	f->policy.behind = policy_behind;
	f->policy.arg = f;
	return f;
}

void readfloor_free(struct readfloor *f)
{
	free(f);
}

const struct dbpool_floor *readfloor_policy(struct readfloor *f)
{
	return &f->policy;
}

uint64_t readfloor_lsn(const struct readfloor *f)
{
	return atomic_load(&f->lsn);
}

/* One half of a position: 1 to 8 hex digits, nothing else. */
static int parse_half(const char *s, const char **end, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;
	for (; n < 9; n++, s++) {
		int d = hex_value((unsigned char)*s);
		if (d < 0)
			break;
		v = v << 4 | (uint32_t)d;
	}
	*end = s;
	*out = v;
	return n >= 1 && n <= 8 ? 0 : -1;
}

int readfloor_parse_lsn(const char *s, uint64_t *out)
{
	const char *end;
	uint32_t hi, lo;
	if (!s || parse_half(s, &end, &hi) != 0 || *end != '/' ||
	    parse_half(end + 1, &end, &lo) != 0 || *end)
		return -1;
	*out = (uint64_t)hi << 32 | lo;
	return 0;
}

void readfloor_format_lsn(uint64_t lsn, char *buf, size_t len)
{
	snprintf(buf, len, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}
