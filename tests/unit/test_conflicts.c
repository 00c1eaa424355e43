/* test_conflicts.c - candidates kept by occurrences (daemon/api/conflicts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/conflicts.h"

#include <stdlib.h>
#include <string.h>

/* A weekly Monday series 09:00-10:00 UTC from 2027-01-04, eight times. */
#define MON_S    1799053200
#define MON_T    1799056800
#define MON_LAST 1803290400

static json_t *mondays(const char *exdates, const char *overridden)
{
	json_t *x = json_pack(
	    "{sI sI sI sI ss sb ss ss ss so so so}", "s", (json_int_t)MON_S, "t", (json_int_t)MON_T,
	    "from", (json_int_t)MON_S, "to", (json_int_t)MON_LAST, "timezone", "UTC", "all_day", 0,
	    "start", "2027-01-04T09:00:00", "end", "2027-01-04T10:00:00", "rrule",
	    "FREQ=WEEKLY;BYDAY=MO;COUNT=8", "exdates", json_loads(exdates, 0, NULL), "rdates",
	    json_array(), "overridden", json_loads(overridden, 0, NULL));
	assert_non_null(x);
	return x;
}

/* A single item [s, t). */
static json_t *single(int64_t s, int64_t t)
{
	return json_pack("{sI sI}", "s", (json_int_t)s, "t", (json_int_t)t);
}

/* A list of one marked candidate c and the item self; how many stay. */
static size_t settle_one(json_t *c, json_t *self)
{
	json_t *list =
	    json_pack("[{ss ss so} {so}]", "id", "c", "title", "C", "_occ", c, "_self", self);
	struct recur_budget b;
	recur_budget_init(&b, RECUR_MAX_ITERATIONS, RECUR_BUDGET_MS);
	assert_int_equal(conflicts_settle_list(list, &b), 0);
	size_t n = json_array_size(list);
	if (n) {
		/* The answer's shape: no key of the check is left. */
		assert_null(json_object_get(json_array_get(list, 0), "_occ"));
	}
	json_decref(list);
	return n;
}

/* A meeting 09:30-10:30 on the 18th (a Monday) or the 19th (a Tuesday). */
#define MON18 single(1800264600, 1800268200)
#define TUE19 single(1800351000, 1800354600)

static void test_series_candidate(void **state)
{
	(void)state;
	assert_int_equal(settle_one(mondays("[]", "[]"), MON18), 1);
	assert_int_equal(settle_one(mondays("[\"2027-01-18T09:00:00\"]", "[]"), MON18), 0);
	assert_int_equal(settle_one(mondays("[]", "[\"2027-01-18T09:00:00\"]"), MON18), 0);
	assert_int_equal(settle_one(mondays("[]", "[\"2027-01-25T09:00:00\"]"), MON18), 1);
	assert_int_equal(settle_one(mondays("[]", "[]"), TUE19), 0);
	/* An instant meets what spans it, not what ends there. */
	assert_int_equal(
	    settle_one(mondays("[]", "[]"), single(1800262800 + 1800, 1800262800 + 1800)), 1);
	assert_int_equal(settle_one(mondays("[]", "[]"), single(1800266400, 1800266400)), 0);
}

/* The item a series, the candidate a single event. */
static void test_series_item(void **state)
{
	(void)state;
	assert_int_equal(settle_one(MON18, mondays("[]", "[]")), 1);
	assert_int_equal(settle_one(TUE19, mondays("[]", "[]")), 0);
	assert_int_equal(settle_one(MON18, mondays("[]", "[\"2027-01-18T09:00:00\"]")), 0);
}

static json_t *weekly_forever(const char *day, int64_t s, const char *start, const char *end)
{
	return json_pack("{sI sI sI sn ss sb ss ss ss s[] s[] s[]}", "s", (json_int_t)s, "t",
	                 (json_int_t)(s + 3600), "from", (json_int_t)s, "to", "timezone", "UTC",
	                 "all_day", 0, "start", start, "end", end, "rrule", day, "exdates",
	                 "rdates", "overridden");
}

/* Two series without end: on different days they never meet. */
static void test_open_ended(void **state)
{
	(void)state;
	json_t *tue = weekly_forever("FREQ=WEEKLY;BYDAY=TU", 1799139600, "2027-01-05T09:00:00",
	                             "2027-01-05T10:00:00");
	json_t *fri = weekly_forever("FREQ=WEEKLY;BYDAY=FR", 1799398800, "2027-01-08T09:00:00",
	                             "2027-01-08T10:00:00");
	json_t *fri2 = weekly_forever("FREQ=WEEKLY;BYDAY=FR", 1799398800, "2027-01-08T09:00:00",
	                              "2027-01-08T10:00:00");
	json_t *tue_fri = weekly_forever("FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,FR", 1799139600,
	                                 "2027-01-05T09:00:00", "2027-01-05T10:00:00");
	assert_int_equal(settle_one(tue, fri), 0);
	assert_int_equal(settle_one(tue_fri, fri2), 1);
}

/* Unmarked conflicts stay, up to CONFLICTS_MAX; a candidate the budget
 * cannot decide stays too. */
static void test_bounds(void **state)
{
	(void)state;
	json_t *list = json_array();
	json_array_append_new(list, json_pack("{ss ss so}", "id", "c", "title", "Mondays", "_occ",
	                                      mondays("[]", "[]")));
	for (int i = 0; i < 60; i++)
		json_array_append_new(list, json_pack("{ss ss}", "id", "x", "title", "X"));
	json_array_append_new(list, json_pack("{so}", "_self", TUE19));
	struct recur_budget b;
	recur_budget_init(&b, 0, RECUR_BUDGET_MS);
	assert_int_equal(conflicts_settle_list(list, &b), 0);
	assert_int_equal(json_array_size(list), CONFLICTS_MAX);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "title")),
	                    "Mondays");
	assert_int_equal(json_object_size(json_array_get(list, 0)), 2);
	json_decref(list);
}

/* The text of an answer: untouched without marks; a visit's items each. */
/* An hourly item without end against two meetings six years apart: its
 * occurrences over both windows at once are too many to hold, so each
 * candidate expands it again, after the list has let go of "_self" (read
 * freed memory before: seen under ASan). Both meetings clash. */
static void test_item_expanded_per_candidate(void **state)
{
	(void)state;
	json_t *self = json_pack("{sI sI sI sn ss sb ss ss ss so so so}", "s", (json_int_t)MON_S,
	                         "t", (json_int_t)(MON_S + 1800), "from", (json_int_t)MON_S, "to",
	                         "timezone", "UTC", "all_day", 0, "start", "2027-01-04T09:00:00",
	                         "end", "2027-01-04T09:30:00", "rrule", "FREQ=HOURLY", "exdates",
	                         json_array(), "rdates", json_array(), "overridden", json_array());
	json_t *later = single(1800264600 + 6LL * 365 * 86400, 1800268200 + 6LL * 365 * 86400);
	json_t *list = json_pack("[{ss ss so} {ss ss so} {so}]", "id", "a", "title", "A", "_occ",
	                         MON18, "id", "b", "title", "B", "_occ", later, "_self", self);
	assert_non_null(list);
	struct recur_budget b;
	recur_budget_init(&b, RECUR_MAX_ITERATIONS, RECUR_BUDGET_MS);
	assert_int_equal(conflicts_settle_list(list, &b), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
}

static void test_text(void **state)
{
	(void)state;
	char *out = (char *)1;
	assert_int_equal(
	    conflicts_settle("{\"title\": \"\\\"_self\\\": \", \"conflicts\": []}", &out), 0);
	assert_null(out);
	json_t *v = json_pack("{s[{s[{ss so}{so}]} {s[{ss so}{so}]}]}", "programme", "conflicts",
	                      "id", "c", "_occ", mondays("[]", "[]"), "_self", MON18, "conflicts",
	                      "id", "c", "_occ", mondays("[]", "[]"), "_self", TUE19);
	assert_non_null(v);
	char *text = json_dumps(v, 0);
	/* jsonb writes ": " after a key, as jansson does. */
	assert_non_null(strstr(text, "\"_self\": "));
	assert_int_equal(conflicts_settle(text, &out), 0);
	assert_non_null(out);
	json_t *got = json_loads(out, 0, NULL);
	json_t *items = json_object_get(got, "programme");
	assert_int_equal(json_array_size(json_object_get(json_array_get(items, 0), "conflicts")),
	                 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(items, 1), "conflicts")),
	                 0);
	assert_null(strstr(out, "_occ"));
	json_decref(got);
	json_decref(v);
	free(text);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_series_candidate),
	    cmocka_unit_test(test_series_item),
	    cmocka_unit_test(test_open_ended),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_item_expanded_per_candidate),
	    cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
