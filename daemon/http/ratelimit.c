/* ratelimit.c - fixed tables of token buckets, direct-mapped by a hash of
 * the key (an API key id, a client address) and guarded by striped
 * mutexes, so threads rarely contend and memory stays bounded whatever
 * the number of keys. A key whose slot is taken by another evicts it: the
 * evicted key starts again with a full bucket, which errs on the side of
 * letting a request through. */
#include "http/ratelimit.h"

#include "strhash.h"
#include "tokenbucket.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define SLOTS   4096
#define STRIPES 64

struct bucket {
	char key[48];
	struct tokenbucket tb;
};

struct table {
	struct bucket buckets[SLOTS];
	pthread_mutex_t stripes[STRIPES];
	_Atomic int64_t rate_milli; /* tokens per 1000 s, to stay integral */
	_Atomic int64_t burst_milli;
};

static struct table keys, addrs;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_locks(void)
{
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_init(&keys.stripes[i], NULL);
		pthread_mutex_init(&addrs.stripes[i], NULL);
	}
}

static void table_configure(struct table *t, double rate, double burst)
{
	pthread_once(&once, init_locks);
	if (rate > 0 && burst < 1)
		burst = 1; /* under one token, nothing would ever pass */
	atomic_store(&t->rate_milli, (int64_t)(rate * 1000.0));
	atomic_store(&t->burst_milli, (int64_t)(burst * 1000.0));
}

/* With take, takes a token; without, only looks. Returns the seconds to
 * wait, 0 when a token was there. */
static int table_take(struct table *t, const char *key, int64_t now_ms, int take)
{
	double rate = (double)atomic_load(&t->rate_milli) / 1000.0;
	if (rate <= 0)
		return 0;
	pthread_once(&once, init_locks);
	double burst = (double)atomic_load(&t->burst_milli) / 1000.0;
	unsigned slot = str_hash(key) % SLOTS;
	pthread_mutex_t *lock = &t->stripes[slot % STRIPES];
	struct bucket *b = &t->buckets[slot];
	pthread_mutex_lock(lock);
	if (strncmp(b->key, key, sizeof(b->key)) != 0) {
		strncpy(b->key, key, sizeof(b->key) - 1);
		b->key[sizeof(b->key) - 1] = '\0';
		tokenbucket_init(&b->tb, burst, now_ms);
	}
	struct tokenbucket probe = b->tb;
	int64_t wait_ms = tokenbucket_take(take ? &b->tb : &probe, rate, burst, now_ms);
	int wait = (int)((wait_ms + 999) / 1000);
	pthread_mutex_unlock(lock);
	return wait;
}

void ratelimit_configure(double rate)
{
	table_configure(&keys, rate, rate * 2);
}

void ratelimit_configure_burst(double rate, double burst)
{
	table_configure(&keys, rate, burst);
}

int ratelimit_take(const char *key, int64_t now_ms)
{
	return table_take(&keys, key, now_ms, 1);
}

void authlimit_configure(double rate, double burst)
{
	table_configure(&addrs, rate, burst);
}

int authlimit_check(const char *addr, int64_t now_ms)
{
	return table_take(&addrs, addr, now_ms, 0);
}

void authlimit_fail(const char *addr, int64_t now_ms)
{
	(void)table_take(&addrs, addr, now_ms, 1);
}
