/* ratelimit.h - token buckets: the arithmetic of one, and tables of them
 * shared by every worker thread: one per API key (rate_limit), one per
 * client address for unknown tokens (auth_failure_limit). The arithmetic
 * of one bucket is common/tokenbucket.c; the scheduler keeps its own
 * table of them, per webhook endpoint. */
#ifndef LIAISON_RATELIMIT_H
#define LIAISON_RATELIMIT_H

#include "tokenbucket.h"

#include <stdint.h>

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
