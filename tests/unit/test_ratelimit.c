/* test_ratelimit.c - the API's rate-limit tables (daemon/http/ratelimit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/ratelimit.h"

static void test_rate_limit(void **state)
{
	(void)state;
	ratelimit_configure(5);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ratelimit_take("key-a", 1000), 0); /* burst: twice the rate */
	assert_int_equal(ratelimit_take("key-a", 1000), 1);
	assert_int_equal(ratelimit_take("key-b", 1000), 0); /* per key */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take("key-a", 2000), 0); /* one second refills 5 */
	assert_int_not_equal(ratelimit_take("key-a", 2000), 0);
	ratelimit_configure(0);
	assert_int_equal(ratelimit_take("key-a", 2000), 0); /* 0: off */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
