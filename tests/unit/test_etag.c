/* test_etag.c - If-Match / If-None-Match lists (daemon/http/http.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"

static void test_etag_lists(void **state)
{
	(void)state;
	/* Any listed tag may match; "*" alone matches. */
	assert_true(etag_listed("\"1\"", "1", ETAG_STRONG));
	assert_true(etag_listed("\"zzz\", \"1\"", "1", ETAG_STRONG));
	assert_true(etag_listed("\"1\" ,\t\"zzz\"", "1", ETAG_STRONG));
	assert_true(etag_listed(", ,\"1\",", "1", ETAG_STRONG));
	assert_true(etag_listed("*", "1", ETAG_STRONG));
	assert_true(etag_listed(" * ", "1", ETAG_WEAK));
	/* Strong comparison: a weak tag never matches; weak: it does. */
	assert_false(etag_listed("W/\"1\"", "1", ETAG_STRONG));
	assert_false(etag_listed("\"zzz\", W/\"1\"", "1", ETAG_STRONG));
	assert_true(etag_listed("W/\"1\"", "1", ETAG_WEAK));
	assert_true(etag_listed("\"a\", W/\"1\"", "1", ETAG_WEAK));
	/* Whole tags only, and only from a well-formed list. */
	static const char *const none[] = {
	    "",         "1",        "\"11\"",    "\"1\"x",      "\"x\"1\"", "w/\"1\"",
	    "\"*\"",    "*, \"1\"", "\"1\", *",  "\"1\" \"2\"", "\"1",      "\"a b\", \"1\"",
	    "\"2\", 1", "W/ \"1\"", "\"1\";q=1", "\"1\"\x01",   "\"zzz\"",  "W/\"\"",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		if (etag_listed(none[i], "1", ETAG_STRONG) || etag_listed(none[i], "1", ETAG_WEAK))
			fail_msg("matched: %s", none[i]);
	}
	assert_false(etag_listed(NULL, "1", ETAG_WEAK));
	/* A feed's tags per coding differ. */
	assert_false(etag_listed("\"abc\"", "abc-gz", ETAG_WEAK));
	assert_true(etag_listed("\"abc\", \"abc-gz\"", "abc-gz", ETAG_WEAK));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_etag_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
