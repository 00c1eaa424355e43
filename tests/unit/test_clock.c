/* test_clock.c - the clock's text forms (common/clock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"

#include <string.h>

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
	memset(out, 'x', sizeof(out));
	rfc3339_utc(INT64_MIN, out);
	assert_non_null(memchr(out, '\0', sizeof(out)));
	assert_int_equal(strncmp(out + strlen(out) - 15, "-01-01T00:00:00Z" + 1, 15), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_rfc3339_utc)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
