/* tokenbucket.c - see tokenbucket.h. */
#include "tokenbucket.h"

#include <math.h>

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
