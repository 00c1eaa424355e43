/* test_rowcache.c - single rows kept as answers (daemon/core/rowcache.c):
 * served while fresh, dropped by a change that can reach them or past
 * their time, never kept when read under a generation a reaching change
 * passed; bounded by ways and bytes, rows out of date going first; who
 * may see a row (row_visible, EV_VISIBLE's test). Against the daemon and
 * the database: tests/integration/test_row_cache.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "core/changes.h"
#include "core/rowcache.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OWNER "06a56483-8af6-41c3-9893-96643547dd7f"
#define OTHER "9d1c1d0e-5a43-4a4e-9e43-0c6f3c7c2b1a"

static struct row event_row(const char *body, int network, const char *partners)
{
	return (struct row){.body = body,
	                    .len = strlen(body),
	                    .tag = "3",
	                    .org = OWNER,
	                    .slug = "hcmc-dost",
	                    .partners = partners,
	                    .network = network};
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_kept_until_a_change_reaches_it(void **state)
{
	(void)state;
	_Atomic unsigned g = 5;
	struct rowcache *c = rowcache_new(60000);
	assert_non_null(c);
	struct row r = event_row("{\"title\":\"MOU\"}", 0, "busan-city");
	unsigned at = atomic_load(&g);
	rowcache_put(c, "event:1", at, at, now_monotonic_ms(), &r);
	const struct row *got = rowcache_get(c, "event:1", at);
	assert_non_null(got);
	assert_memory_equal(got->body, r.body, r.len);
	assert_int_equal(got->len, r.len);
	assert_string_equal(got->tag, "3");
	assert_string_equal(got->partners, "busan-city");
	assert_null(rowcache_get(c, "event:2", at));
	/* A change of another org's private events does not reach it. */
	unsigned now = changes_bump(&g, OTHER ",cabc");
	assert_non_null(rowcache_get(c, "event:1", now));
	/* One naming its owner does, and it is gone for good. */
	now = changes_bump(&g, OWNER);
	assert_null(rowcache_get(c, "event:1", now));
	assert_null(rowcache_get(c, "event:1", now));
	/* Read before a change that reached it answered: not kept. */
	unsigned before = atomic_load(&g);
	now = changes_bump(&g, NULL);
	rowcache_put(c, "event:1", before, now, now_monotonic_ms(), &r);
	assert_null(rowcache_get(c, "event:1", now));
	/* ... but kept when the change could not reach it. */
	before = now;
	now = changes_bump(&g, OTHER);
	rowcache_put(c, "event:1", before, now, now_monotonic_ms(), &r);
	assert_non_null(rowcache_get(c, "event:1", now));
	rowcache_free(c);
}

static void test_an_org_row_only_by_a_change_to_everything(void **state)
{
	(void)state;
	_Atomic unsigned g = 50;
	struct rowcache *c = rowcache_new(60000);
	struct row o = {.body = "{}\n",
	                .len = 3,
	                .tag = "",
	                .org = "",
	                .slug = "",
	                .partners = "",
	                .network = 1};
	unsigned at = atomic_load(&g);
	rowcache_put(c, "org:cabc", at, at, now_monotonic_ms(), &o);
	unsigned now = changes_bump(&g, OWNER ",cabc");
	assert_non_null(rowcache_get(c, "org:cabc", now));
	now = changes_bump(&g, NULL);
	assert_null(rowcache_get(c, "org:cabc", now));
	rowcache_free(c);
}

static void test_time_bounds_it(void **state)
{
	(void)state;
	struct rowcache *c = rowcache_new(50);
	struct row r = event_row("{}", 1, "");
	rowcache_put(c, "event:1", 7, 7, now_monotonic_ms(), &r);
	assert_non_null(rowcache_get(c, "event:1", 7));
	sleep_ms(60);
	assert_null(rowcache_get(c, "event:1", 7));
	/* Counted from when the query was sent, not when it answered. */
	rowcache_put(c, "event:1", 7, 7, now_monotonic_ms() - 50, &r);
	assert_null(rowcache_get(c, "event:1", 7));
	rowcache_free(c);
	/* No time at all: nothing is kept. */
	c = rowcache_new(0);
	rowcache_put(c, "event:1", 7, 7, now_monotonic_ms(), &r);
	assert_null(rowcache_get(c, "event:1", 7));
	rowcache_free(c);
}

static void test_bounded_by_rows_and_bytes(void **state)
{
	(void)state;
	struct rowcache *c = rowcache_new(60000);
	static char big[ROWCACHE_ROW_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	struct row r = event_row(big, 1, "");
	r.len = ROWCACHE_ROW_MAX + 1;
	rowcache_put(c, "event:big", 1, 1, now_monotonic_ms(), &r);
	assert_null(rowcache_get(c, "event:big", 1));
	/* Rows of the largest size kept, many more than the bytes allow: the
	 * cache never holds more, and the last one written is always there. */
	r.len = ROWCACHE_ROW_MAX;
	size_t fit = ROWCACHE_BYTES / ROWCACHE_ROW_MAX;
	char key[32];
	for (size_t i = 0; i < 3 * fit; i++) {
		snprintf(key, sizeof(key), "event:%zu", i);
		rowcache_put(c, key, 1, 1, now_monotonic_ms(), &r);
		assert_non_null(rowcache_get(c, key, 1));
	}
	size_t kept = 0;
	for (size_t i = 0; i < 3 * fit; i++) {
		snprintf(key, sizeof(key), "event:%zu", i);
		kept += rowcache_get(c, key, 1) != NULL;
	}
	if (kept >= fit)
		fail_msg("%zu rows kept, %zu fit", kept, fit);
	assert_true(kept > 0);
	rowcache_free(c);
}

static void test_rows_out_of_date_go_first(void **state)
{
	(void)state;
	struct rowcache *c = rowcache_new(50);
	static char big[ROWCACHE_ROW_MAX];
	memset(big, 'y', sizeof(big));
	struct row r = event_row(big, 1, "");
	r.len = ROWCACHE_ROW_MAX;
	/* Fill the bytes with rows read "long ago" (out of date already). */
	size_t fit = ROWCACHE_BYTES / ROWCACHE_ROW_MAX;
	char key[32];
	for (size_t i = 0; i < fit; i++) {
		snprintf(key, sizeof(key), "old:%zu", i);
		rowcache_put(c, key, 1, 1, now_monotonic_ms() - 1000, &r);
	}
	/* A fresh row in a set of its own still finds room. */
	snprintf(key, sizeof(key), "event:fresh");
	rowcache_put(c, key, 1, 1, now_monotonic_ms(), &r);
	assert_non_null(rowcache_get(c, key, 1));
	rowcache_free(c);
}

static void test_who_may_see_it(void **state)
{
	(void)state;
	struct row r = event_row("{}", 0, "busan-city,cabc");
	assert_true(row_visible(&r, OWNER, "hcmc-dost"));
	assert_true(row_visible(&r, OTHER, "busan-city"));
	assert_true(row_visible(&r, OTHER, "cabc"));
	assert_false(row_visible(&r, OTHER, "busan"));
	assert_false(row_visible(&r, OTHER, "seoul"));
	assert_false(row_visible(&r, OTHER, ""));
	/* The owner by id: its slug alone names no partner. */
	assert_false(row_visible(&r, OTHER, "hcmc-dost"));
	r.partners = "";
	assert_false(row_visible(&r, OTHER, "busan-city"));
	r.network = 1;
	assert_true(row_visible(&r, OTHER, "seoul"));
	struct row o = {
	    .body = "{}", .len = 2, .tag = "", .org = "", .slug = "", .partners = "", .network = 0};
	assert_false(row_visible(&o, "", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kept_until_a_change_reaches_it),
	    cmocka_unit_test(test_an_org_row_only_by_a_change_to_everything),
	    cmocka_unit_test(test_time_bounds_it),
	    cmocka_unit_test(test_bounded_by_rows_and_bytes),
	    cmocka_unit_test(test_rows_out_of_date_go_first),
	    cmocka_unit_test(test_who_may_see_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
