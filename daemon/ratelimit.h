/* ratelimit.h - token buckets: the arithmetic of one, and a table of them
 * per API key shared by every worker thread (the scheduler keeps its own
 * table, per webhook endpoint). */
#ifndef LIAISON_RATELIMIT_H
#define LIAISON_RATELIMIT_H

#include <stdint.h>

/* rate tokens a second, up to burst; at_ms is when it was last filled. */
struct tokenbucket {
	double tokens;
	int64_t at_ms;
};
/* A full bucket. */
void tokenbucket_init(struct tokenbucket *b, double burst, int64_t now_ms);
/* Fills b for the time since at_ms and takes a token: 0 when one was
 * there, else the milliseconds until there is one (rate > 0). */
int64_t tokenbucket_take(struct tokenbucket *b, double rate, double burst, int64_t now_ms);

/* rate per second (0: off); the burst is twice the rate. */
void ratelimit_configure(double rate);
/* Takes one token for key; 0 when allowed, else the seconds to wait. */
int ratelimit_take(const char *key, int64_t now_ms);

#endif
