/* ratelimit.h - token buckets per API key, shared by every worker thread. */
#ifndef LIAISON_RATELIMIT_H
#define LIAISON_RATELIMIT_H

#include <stdint.h>

/* rate per second (0: off); the burst is twice the rate. */
void ratelimit_configure(double rate);
/* Takes one token for key; 0 when allowed, else the seconds to wait. */
int ratelimit_take(const char *key, int64_t now_ms);

#endif
