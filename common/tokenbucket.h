/* tokenbucket.h - the arithmetic of one token bucket, for the API's rate
 * limits (daemon/http/ratelimit.c) and the webhook endpoints' (the
 * scheduler's delivery). */
#ifndef LIAISON_TOKENBUCKET_H
#define LIAISON_TOKENBUCKET_H

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

#endif
