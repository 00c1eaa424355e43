/* clock.h - the clocks, and time in the forms the daemon hands out. */
#ifndef LIAISON_CLOCK_H
#define LIAISON_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

/* Milliseconds on the monotonic clock. */
int64_t now_monotonic_ms(void);
/* Microseconds on the monotonic clock. */
int64_t now_monotonic_us(void);
/* Wall-clock milliseconds since the epoch. */
int64_t now_realtime_ms(void);
/* Wall-clock microseconds since the epoch. */
int64_t now_realtime_us(void);
/* A span of milliseconds as libevent's timers take it. */
struct timeval timeval_ms(int64_t ms);
/* UTC instant as RFC 3339 with Z and whole seconds ("2024-08-20T07:00:00Z"). */
void rfc3339_utc(int64_t unix_seconds, char out[21]);

#endif
