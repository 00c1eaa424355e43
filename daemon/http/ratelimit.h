/* ratelimit.h - token buckets: the arithmetic of one, and tables of them
 * shared by every worker thread: one per API key (rate_limit), one per
 * client address for unknown tokens (auth_failure_limit). The
 * scheduler keeps its own table, per webhook endpoint. */
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

/* rate per second (0: off); the burst is twice the rate, at least 1. */
void ratelimit_configure(double rate);
/* The same with the burst given (config.c derives it from the setting). */
void ratelimit_configure_burst(double rate, double burst);
/* Takes one token for key; 0 when allowed, else the seconds to wait. */
int ratelimit_take(const char *key, int64_t now_ms);

/* Failed authentications per client address (0: off). */
void authlimit_configure(double rate, double burst);
/* 0 when addr may still fail (a token is there; none is taken), else the
 * seconds until it may. */
int authlimit_check(const char *addr, int64_t now_ms);
/* A failed authentication from addr: takes a token. */
void authlimit_fail(const char *addr, int64_t now_ms);

#endif
