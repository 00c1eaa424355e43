/* test_log.c - the log's field escape (common/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

static void test_log_escape(void **state)
{
	(void)state;
	char out[64];
	log_escape("/x\" status=200\n\\\x7f\xc3\xa9", 100, out, sizeof(out));
	assert_string_equal(out, "/x\\\" status=200\\x0a\\\\\\x7f\\xc3\\xa9");
	log_escape("abcdef", 3, out, sizeof(out));
	assert_string_equal(out, "abc");
	log_escape("\"\"\"\"", 100, out, 5); /* never cut inside an escape */
	assert_string_equal(out, "\\\"\\\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
