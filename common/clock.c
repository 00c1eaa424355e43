/* clock.c - see clock.h. */
#include "clock.h"

#include "tz.h"

#include <time.h>

int64_t now_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t now_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timeval timeval_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
	return tv;
}

void rfc3339_utc(int64_t unix_seconds, char out[21])
{
	/* Years outside 0000-9999 do not fit the form: they are held at its
	 * ends, so out is always a text. */
	const int64_t first = -62167219200LL, last = 253402300799LL;
	struct civil c;
	civil_from_epoch(unix_seconds < first  ? first
	                 : unix_seconds > last ? last
	                                       : unix_seconds,
	                 &c);
	civil_write(&c, 0, out);
	out[19] = 'Z';
	out[20] = '\0';
}
