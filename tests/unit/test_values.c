/* test_values.c - the text forms of settings (common/values.c): durations, rates, host:port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "values.h"

static void test_durations(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(duration_parse("15s", &ms), 0);
	assert_int_equal(ms, 15000);
	assert_int_equal(duration_parse("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(duration_parse("5d", &ms), 0);
	assert_int_equal(ms, 5LL * 86400000);
	assert_int_equal(duration_parse("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	const char *bad[] = {"",
	                     "s",
	                     "15",
	                     "15 s",
	                     "-5s",
	                     "1.5s",
	                     "15sec",
	                     "5w",
	                     "99999999999999999999s",
	                     "9223372036854775807d",
	                     " 5s",
	                     "5s ",
	                     "0x10s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(duration_parse(bad[i], &ms), 0);
}

static void test_duration_lists(void **state)
{
	(void)state;
	int64_t v[8];
	size_t n;
	assert_int_equal(duration_list_parse("5s,5m,30m,2h,5h,10h,10h", v, 8, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(v[0], 5000);
	assert_int_equal(v[6], 36000000);
	assert_int_equal(duration_list_parse("", v, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_not_equal(duration_list_parse("5s,,5m", v, 8, &n), 0);
	assert_int_not_equal(duration_list_parse("5s,", v, 8, &n), 0);
	assert_int_not_equal(duration_list_parse("1s,1s,1s", v, 2, &n), 0);
}

static void test_rates(void **state)
{
	(void)state;
	double r;
	assert_int_equal(rate_parse("50/s", &r), 0);
	assert_true(r == 50.0);
	assert_int_equal(rate_parse("600/m", &r), 0);
	assert_true(r == 10.0);
	assert_int_equal(rate_parse("0", &r), 0);
	assert_true(r == 0.0);
	assert_int_not_equal(rate_parse("50", &r), 0);
	assert_int_not_equal(rate_parse("50/d", &r), 0);
	assert_int_not_equal(rate_parse("/s", &r), 0);
	assert_int_not_equal(rate_parse("-1/s", &r), 0);
}

static void test_hostport(void **state)
{
	(void)state;
	char host[64];
	int port;
	assert_int_equal(hostport_parse("127.0.0.1:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(hostport_parse("[::1]:9", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9);
	const char *bad[] = {"",         "8080",   "host:",   "host:0", "host:65536",
	                     "host:80x", "::1:80", "[::1]80", "[::1",   "h:123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(hostport_parse(bad[i], host, sizeof(host), &port), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_duration_lists),
	    cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_hostport),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
