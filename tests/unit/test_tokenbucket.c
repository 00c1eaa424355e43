/* test_tokenbucket.c - the token bucket's arithmetic (common/tokenbucket.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/ratelimit.h"

/* One bucket's arithmetic: a full burst, then the wait until the next
 * token in ms, refilled with time (rates below one a second too). */
static void test_token_bucket(void **state)
{
	(void)state;
	struct tokenbucket b;
	tokenbucket_init(&b, 2, 1000);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1000), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1000), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1000), 500);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1250), 250);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1500), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 60000), 0); /* never above the burst */
	assert_int_equal(tokenbucket_take(&b, 2, 2, 60000), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 60000), 500);
	tokenbucket_init(&b, 1, 0);
	assert_int_equal(tokenbucket_take(&b, 0.1, 1, 0), 0);
	assert_int_equal(tokenbucket_take(&b, 0.1, 1, 0), 10000);
	assert_int_equal(tokenbucket_take(&b, 0.1, 1, 9000), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
