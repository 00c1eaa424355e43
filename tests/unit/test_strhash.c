/* test_strhash.c - FNV-1a (common/strhash.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "strhash.h"

/* Array literals: every element quoted, so NULL, commas, braces and blanks
 * are plain text; quotes and backslashes escaped; a null pointer is a NULL
 * element; an empty array is {}. */
/* The published FNV-1a (32-bit) test vectors. */
static void test_str_hash(void **state)
{
	(void)state;
	assert_int_equal(str_hash(""), 0x811c9dc5u);
	assert_int_equal(str_hash("a"), 0xe40c292cu);
	assert_int_equal(str_hash("foobar"), 0xbf9cf968u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_str_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
