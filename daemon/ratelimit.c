/* ratelimit.c - a fixed table of token buckets, direct-mapped by a hash of
 * the key id and guarded by striped mutexes, so threads rarely contend and
 * memory stays bounded whatever the number of keys. A key whose slot is
 * taken by another evicts it: the evicted key starts again with a full
 * bucket, which errs on the side of letting a request through. */
#include "ratelimit.h"

#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define SLOTS   4096
#define STRIPES 64

struct bucket {
	char key[40];
	struct tokenbucket tb;
};

static struct bucket buckets[SLOTS];
static pthread_mutex_t stripes[STRIPES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic int64_t rate_milli; /* requests per 1000 s, to stay integral */

void tokenbucket_init(struct tokenbucket *b, double burst, int64_t now_ms)
{
	b->tokens = burst;
	b->at_ms = now_ms;
}

int64_t tokenbucket_take(struct tokenbucket *b, double rate, double burst, int64_t now_ms)
{
	if (now_ms > b->at_ms) {
		b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
		b->at_ms = now_ms;
	}
	if (b->tokens > burst)
		b->tokens = burst;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	return (int64_t)ceil((1.0 - b->tokens) * 1000.0 / rate);
}

static void init_locks(void)
{
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);
}

void ratelimit_configure(double rate)
{
	pthread_once(&once, init_locks);
	atomic_store(&rate_milli, (int64_t)(rate * 1000.0));
}

int ratelimit_take(const char *key, int64_t now_ms)
{
	double rate = (double)atomic_load(&rate_milli) / 1000.0;
	if (rate <= 0)
		return 0;
	pthread_once(&once, init_locks);
	double burst = rate * 2;
	unsigned slot = str_hash(key) % SLOTS;
	pthread_mutex_t *lock = &stripes[slot % STRIPES];
	struct bucket *b = &buckets[slot];
	pthread_mutex_lock(lock);
	if (strncmp(b->key, key, sizeof(b->key)) != 0) {
		strncpy(b->key, key, sizeof(b->key) - 1);
		b->key[sizeof(b->key) - 1] = '\0';
		tokenbucket_init(&b->tb, burst, now_ms);
	}
	int64_t wait_ms = tokenbucket_take(&b->tb, rate, burst, now_ms);
	int wait = (int)((wait_ms + 999) / 1000);
	pthread_mutex_unlock(lock);
	return wait;
}
