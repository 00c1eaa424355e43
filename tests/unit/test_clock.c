/* test_clock.c - the clock's text forms (common/clock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"

#include <string.h>
#include <time.h>

static void test_rfc3339_utc(void **state)
{
	(void)state;
	char out[21];
	rfc3339_utc(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	rfc3339_utc(1796220000, out);
	assert_string_equal(out, "2026-12-02T14:00:00Z");
	/* Past the form's years: held at its ends, always a terminated text
	 * (it was left unterminated, found by ASan). */
	memset(out, 'x', sizeof(out));
	rfc3339_utc(INT64_MAX, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	/* strftime's text, for years of four digits (which it gives no fewer
	 * than: year 0 was "0-01-01T..."), every 37 days at a time of day that moves. */
	for (int64_t t = -30610224000LL; t < 253402300800LL; t += 86399LL * 37 + 13) {
		time_t tt = (time_t)t;
		struct tm tm;
		char want[32];
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		rfc3339_utc(t, out);
		assert_string_equal(out, want);
	}
	memset(out, 'x', sizeof(out));
	rfc3339_utc(INT64_MIN, out);
	assert_non_null(memchr(out, '\0', sizeof(out)));
	assert_string_equal(out, "0000-01-01T00:00:00Z");
}

/* The wall clock in microseconds is the one in milliseconds, finer. */
static void test_realtime_us(void **state)
{
	(void)state;
	int64_t ms = now_realtime_ms(), us = now_realtime_us(), ms2 = now_realtime_ms();
	assert_true(us / 1000 >= ms && us / 1000 <= ms2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_rfc3339_utc),
	                                   cmocka_unit_test(test_realtime_us)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
