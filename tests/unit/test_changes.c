/* test_changes.c - what a change since a generation can reach
 * (daemon/core/changes.c): an org named by id or slug, whole words only;
 * a change without a reach, one too long to keep, or one no longer kept
 * reaches every feed; the counter may wrap. Against the database's
 * payloads: test_feed_writes.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/changes.h"

#include <stdatomic.h>
#include <string.h>

#define ORG "06a56483-8af6-41c3-9893-96643547dd7f"

static void test_reach_by_id_or_slug(void **state)
{
	(void)state;
	_Atomic unsigned g = 10;
	unsigned from = atomic_load(&g);
	unsigned to = changes_bump(&g, ORG ",busan-city,cabc");
	assert_int_equal(to, 11);
	assert_true(changes_reach(from, to, ORG, "hcmc-dost"));
	assert_true(changes_reach(from, to, "other", "cabc"));
	assert_false(changes_reach(from, to, "other", "hcmc-dost"));
	/* Whole words: a slug that only starts or ends like one is not it. */
	assert_false(changes_reach(from, to, "other", "busan"));
	assert_false(changes_reach(from, to, "other", "abc"));
	assert_false(changes_reach(from, to, "", ""));
	/* Nothing since: nothing reaches. */
	assert_false(changes_reach(to, to, ORG, "cabc"));
	/* Any step that reaches is enough. */
	changes_bump(&g, "cabc");
	to = changes_bump(&g, "hcmc-dost");
	assert_true(changes_reach(from, to, "other", "hcmc-dost"));
	assert_false(changes_reach(from, to, "other", "seoul"));
}

static void test_unknown_reaches_everything(void **state)
{
	(void)state;
	_Atomic unsigned g = 100;
	unsigned from = atomic_load(&g);
	changes_bump(&g, "cabc");
	unsigned to = changes_bump(&g, NULL);
	assert_true(changes_reach(from, to, "other", "seoul"));
	/* A reach too long to keep is kept as everything. */
	char big[2048];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	from = to;
	to = changes_bump(&g, big);
	assert_true(changes_reach(from, to, "other", "seoul"));
	/* Steps no longer kept: everything. */
	from = atomic_load(&g);
	for (int i = 0; i < 300; i++)
		to = changes_bump(&g, "cabc");
	assert_true(changes_reach(from, to, "other", "seoul"));
	assert_false(changes_reach(to - 10, to, "other", "seoul"));
	/* A generation not bumped through here was never recorded. */
	atomic_fetch_add(&g, 1);
	assert_true(changes_reach(to, atomic_load(&g), "other", "seoul"));
}

static void test_counter_wraps(void **state)
{
	(void)state;
	_Atomic unsigned g = UINT32_MAX - 1;
	unsigned from = atomic_load(&g);
	changes_bump(&g, "cabc");
	unsigned to = changes_bump(&g, "busan-city");
	assert_int_equal(to, 0);
	assert_false(changes_reach(from, to, "other", "seoul"));
	assert_true(changes_reach(from, to, "other", "busan-city"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reach_by_id_or_slug),
	    cmocka_unit_test(test_unknown_reaches_everything),
	    cmocka_unit_test(test_counter_wraps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
