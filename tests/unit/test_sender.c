/* test_sender.c - Retry-After values (daemon/jobs/sender.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobs/sender.h"

static void test_retry_after_values(void **state)
{
	(void)state;
	assert_true(sender_retry_after_ms("120") == 120000);
	assert_true(sender_retry_after_ms(" 0\r\n") == 0);
	assert_true(sender_retry_after_ms("-5") == 0);
	assert_true(sender_retry_after_ms("99999999999999999999") == 86400000);
	assert_true(sender_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT") == 0); /* past */
	assert_true(sender_retry_after_ms("Fri, 31 Dec 2100 23:59:59 GMT") == 86400000);
	assert_true(sender_retry_after_ms("soon") == -1);
	assert_true(sender_retry_after_ms("") == -1);
	assert_true(sender_retry_after_ms("12abc") == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_after_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
