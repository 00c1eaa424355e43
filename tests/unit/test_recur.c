/* test_recur.c - RFC 5545 durations and rules, expansion and its budget (common/recur.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "event.h"
#include "recur.h"

static const char *fmt_utc(int64_t u)
{
	static char out[CIVIL_LEN];
	struct civil c;
	civil_from_epoch(u, &c);
	civil_format(&c, 0, out);
	return out;
}

struct seen {
	int n;
	int64_t utc[8];
	int hour[8];
};

static int collect(const struct civil *s, int64_t u, void *arg)
{
	struct seen *x = arg;
	if (x->n < 8) {
		x->utc[x->n] = u;
		x->hour[x->n] = s->hour;
	}
	x->n++;
	return 0;
}

struct occ_seen {
	int n;
	char start[8][CIVIL_LEN], end[8][CIVIL_LEN];
	int64_t utc[8], end_utc[8];
	int64_t dur;
	const char *zone;
};

static int collect_occ(const struct civil *s, int64_t u, void *arg)
{
	struct occ_seen *x = arg;
	if (x->n < 8) {
		struct civil e;
		x->utc[x->n] = u;
		x->end_utc[x->n] = recur_end(x->zone, 0, s, u, x->dur, &e);
		civil_format(s, 0, x->start[x->n]);
		civil_format(&e, 0, x->end[x->n]);
	}
	x->n++;
	return 0;
}

struct count_in {
	int64_t from, to;
	int n;
	int64_t first;
};

static int count_window(const struct civil *s, int64_t u, void *arg)
{
	(void)s;
	struct count_in *c = arg;
	if (u >= c->from && u < c->to && c->n++ == 0)
		c->first = u;
	return 0;
}

/* A Toronto series from start to end under rule: its duration, and its
 * second occurrence's end (wall time, and UTC). */
static void second_end(const char *rule, const struct civil *start, const struct civil *end,
                       int64_t dur, const char *want_end, const char *want_end_utc)
{
	struct occ_seen x = {.zone = "America/Toronto"};
	x.dur = recur_duration(x.zone, start, end, 0);
	assert_int_equal(x.dur, dur);
	assert_int_equal(recur_expand(rule, x.zone, start, 0, INT64_MAX, collect_occ, &x), 2);
	assert_string_equal(x.end[1], want_end);
	assert_string_equal(fmt_utc(x.end_utc[1]), want_end_utc);
}

static void test_durations(void **state)
{
	(void)state;
	int64_t s;
	assert_int_equal(ical_duration_parse("-P7D", &s), 0);
	assert_int_equal(s, -7 * 86400);
	assert_int_equal(ical_duration_parse("-PT2H", &s), 0);
	assert_int_equal(s, -7200);
	assert_int_equal(ical_duration_parse("P1W", &s), 0);
	assert_int_equal(s, 604800);
	assert_int_equal(ical_duration_parse("-P1DT2H30M15S", &s), 0);
	assert_int_equal(s, -(86400 + 9000 + 15));
	assert_int_equal(ical_duration_parse("PT0S", &s), 0);
	assert_int_equal(s, 0);
	const char *bad[] = {"",      "P",          "-P",    "PT",   "P1",    "7D",
	                     "P1H",   "PT1D",       "P1W2D", "P1DT", "P1D1D", "PT1S1M",
	                     "-P-1D", "P99999999D", "P1.5D", "p1d",  "-P7D ", "PT2H-"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(ical_duration_parse(bad[i], &s), 0);
}

static void test_rrule_validation(void **state)
{
	(void)state;
	char err[160];
	const char *good[] = {"FREQ=WEEKLY;COUNT=4", "FREQ=YEARLY", "FREQ=MONTHLY;BYDAY=2TU",
	                      "FREQ=DAILY;UNTIL=20261231T000000Z;INTERVAL=2",
	                      "FREQ=HOURLY;COUNT=5"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(recur_validate(good[i], 0, err, sizeof(err)), 0);
	const char *bad[] = {"",
	                     "COUNT=4",
	                     "FREQ=SECONDLY",
	                     "FREQ=MINUTELY;COUNT=2",
	                     "FREQ=HOURLY",
	                     "FREQ=WEEKLY;COUNT=0",
	                     "FREQ=WEEKLY;COUNT=100000",
	                     "FREQ=WEEKLY;COUNT=2;UNTIL=20261231T000000Z",
	                     "FREQ=WEEKLY;FREQ=DAILY",
	                     "FREQ=WEEKLY;COLOUR=RED",
	                     "FREQ=WEEKLY;",
	                     "FREQ=FORTNIGHTLY",
	                     "freq=weekly",
	                     "FREQ=WEEKLY;INTERVAL=0",
	                     "FREQ=DAILY;UNTIL=20261231T000000",
	                     "FREQ=WEEKLY;BYDAY=MO;DROP TABLE",
	                     "FREQ=WEEKLY\nCOUNT=2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (recur_validate(bad[i], 0, err, sizeof(err)) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(recur_validate("FREQ=YEARLY;UNTIL=20301231", 1, err, sizeof(err)), 0);
	assert_int_not_equal(
	    recur_validate("FREQ=YEARLY;UNTIL=20301231T000000Z", 1, err, sizeof(err)), 0);
}

static void test_expansion_keeps_wall_time(void **state)
{
	(void)state;
	struct civil start = {2026, 2, 23, 9, 0, 0};
	struct seen x = {0};
	assert_int_equal(recur_expand("FREQ=WEEKLY;COUNT=4", "America/Toronto", &start, 0,
	                              INT64_MAX, collect, &x),
	                 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(x.hour[i], 9);
	assert_string_equal(fmt_utc(x.utc[1]), "2026-03-02T14:00:00");
	assert_string_equal(fmt_utc(x.utc[2]), "2026-03-09T13:00:00");
	/* UNTIL in UTC bounds the series at that instant. */
	struct seen y = {0};
	assert_int_equal(recur_expand("FREQ=DAILY;UNTIL=20260225T140000Z", "America/Toronto",
	                              &start, 0, INT64_MAX, collect, &y),
	                 3);
	assert_int_equal(recur_last_start("FREQ=YEARLY", "Asia/Seoul", &start, 0), INT64_MAX);
}

/* A daily 02:30 in New York across 2027-03-14, when 02:00-03:00 is
 * skipped: that day's occurrence is 03:30 EDT (07:30Z), RFC 5545 3.3.10
 * read with 3.3.5, and its wall time says so; an hour later it ends. */
static void test_occurrence_in_dst_gap(void **state)
{
	(void)state;
	struct civil start = {2027, 3, 13, 2, 30, 0};
	struct occ_seen x = {.dur = 3600, .zone = "America/New_York"};
	assert_int_equal(
	    recur_expand("FREQ=DAILY;COUNT=3", x.zone, &start, 0, INT64_MAX, collect_occ, &x), 3);
	assert_string_equal(x.start[0], "2027-03-13T02:30:00");
	assert_string_equal(fmt_utc(x.utc[0]), "2027-03-13T07:30:00");
	assert_string_equal(x.start[1], "2027-03-14T03:30:00");
	assert_string_equal(fmt_utc(x.utc[1]), "2027-03-14T07:30:00");
	assert_string_equal(x.end[1], "2027-03-14T04:30:00");
	assert_string_equal(fmt_utc(x.end_utc[1]), "2027-03-14T08:30:00");
	assert_string_equal(x.start[2], "2027-03-15T02:30:00");
	assert_string_equal(fmt_utc(x.utc[2]), "2027-03-15T06:30:00");
	/* The wall time handed out is the instant's own. */
	for (int i = 0; i < 3; i++) {
		struct civil w;
		char back[CIVIL_LEN];
		assert_int_equal(tz_from_utc(x.zone, x.utc[i], &w), TZ_OK);
		civil_format(&w, 0, back);
		assert_string_equal(back, x.start[i]);
		assert_int_equal(tz_from_utc(x.zone, x.end_utc[i], &w), TZ_OK);
		civil_format(&w, 0, back);
		assert_string_equal(back, x.end[i]);
	}

	/* An end in the gap: 01:30-02:30 ends at 03:30 EDT that day. */
	struct civil early = {2027, 3, 13, 1, 30, 0};
	struct occ_seen y = {.dur = 3600, .zone = "America/New_York"};
	assert_int_equal(
	    recur_expand("FREQ=DAILY;COUNT=2", y.zone, &early, 0, INT64_MAX, collect_occ, &y), 2);
	assert_string_equal(y.start[1], "2027-03-14T01:30:00");
	assert_string_equal(y.end[1], "2027-03-14T03:30:00");
	assert_string_equal(fmt_utc(y.end_utc[1]), "2027-03-14T07:30:00");

	/* Each occurrence lasts the first one's exact duration (RFC 5545
	 * 3.8.5.3), as a feed's DTSTART and DTEND give it to its readers: a
	 * 3 h night block across the fall-back hour ends at 02:30 EST, and
	 * a Friday-to-Sunday workshop at 16:00 EST. The wall times' sum
	 * (03:30, 17:00) was what the API said, an hour after the feed. */
	struct civil block = {2026, 10, 31, 0, 30, 0}, block_end = {2026, 10, 31, 3, 30, 0};
	second_end("FREQ=DAILY;COUNT=2", &block, &block_end, 3 * 3600, "2026-11-01T02:30:00",
	           "2026-11-01T07:30:00");
	struct civil fri = {2026, 10, 23, 9, 0, 0}, sun = {2026, 10, 25, 17, 0, 0};
	second_end("FREQ=WEEKLY;COUNT=2", &fri, &sun, 56 * 3600, "2026-11-01T16:00:00",
	           "2026-11-01T21:00:00");
	/* Dates count whole days. */
	struct civil d0 = {2026, 10, 30, 0, 0, 0}, d1 = {2026, 11, 2, 0, 0, 0};
	assert_int_equal(recur_duration("America/Toronto", &d0, &d1, 1), 3 * 86400);

	/* Hourly: 02:30 moves onto 03:30, which the rule makes too; one
	 * instance, not two at the same instant. */
	struct civil night = {2027, 3, 14, 0, 30, 0};
	struct occ_seen z = {.dur = 1800, .zone = "America/New_York"};
	assert_int_equal(
	    recur_expand("FREQ=HOURLY;COUNT=5", z.zone, &night, 0, INT64_MAX, collect_occ, &z), 4);
	assert_string_equal(z.start[2], "2027-03-14T03:30:00");
	assert_string_equal(z.start[3], "2027-03-14T04:30:00");
	for (int i = 1; i < 4; i++)
		assert_true(z.utc[i] > z.utc[i - 1]);

	/* The window test agrees: 07:00-07:45Z holds the moved occurrence. */
	struct civil end = {2027, 3, 13, 3, 30, 0};
	json_t *none = json_array();
	assert_true(recur_occurs_in("FREQ=DAILY;COUNT=3", "America/New_York", &start, &end, 0, none,
	                            none, 1805007600, 1805010300));
	/* ... and an exdate at the real wall time removes it. */
	json_t *ex = json_pack("[s]", "2027-03-14T03:30:00");
	assert_false(recur_occurs_in("FREQ=DAILY;COUNT=3", "America/New_York", &start, &end, 0, ex,
	                             none, 1805007600, 1805010300));
	json_decref(ex);
	json_decref(none);
}

/* Rules that never match, or that libical cannot step, are refused at
 * once: an HOURLY one from 1900 took libical 22 s to find nothing. */
static void test_rules_that_never_match_are_refused(void **state)
{
	(void)state;
	static const char *const never[] = {"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
	                                    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30;COUNT=1",
	                                    "FREQ=MONTHLY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
	                                    "FREQ=YEARLY;BYYEARDAY=367",
	                                    "FREQ=YEARLY;BYYEARDAY=-366,366,1;BYMONTHDAY=-1",
	                                    "FREQ=YEARLY;BYYEARDAY=60;BYMONTH=1",
	                                    "FREQ=WEEKLY;BYMONTHDAY=1",
	                                    "FREQ=MONTHLY;BYYEARDAY=1",
	                                    "FREQ=WEEKLY;BYDAY=2TU",
	                                    "FREQ=DAILY;BYWEEKNO=1"};
	char err[160];
	int64_t t0 = now_monotonic_us();
	for (size_t i = 0; i < sizeof(never) / sizeof(*never); i++) {
		if (recur_validate(never[i], 0, err, sizeof(err)) == 0)
			fail_msg("accepted %s", never[i]);
	}
	assert_true(now_monotonic_us() - t0 < 1000000);
	static const char *const fine[] = {"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
	                                   "FREQ=MONTHLY;BYMONTHDAY=-1",
	                                   "FREQ=YEARLY;BYYEARDAY=366",
	                                   "FREQ=MONTHLY;BYDAY=5FR",
	                                   "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO",
	                                   "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=5",
	                                   "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
	                                   "FREQ=DAILY;BYHOUR=9,17;BYSETPOS=2"};
	for (size_t i = 0; i < sizeof(fine) / sizeof(*fine); i++)
		if (recur_validate(fine[i], 0, err, sizeof(err)) != 0)
			fail_msg("refused %s: %s", fine[i], err);
}

/* A long series is expanded from near the window, not cut after a number
 * of steps from DTSTART: 24 occurrences a day since 2000 are 230,000
 * before 2027. */
static void test_long_series_expand_near_the_window(void **state)
{
	(void)state;
	struct civil start = {2000, 1, 1, 0, 0, 0};
	struct count_in c = {1798761600 /* 2027-01-01Z */, 1798761600 + 86400, 0, 0};
	long got = recur_expand_window(
	    "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
	    "UTC", &start, 0, c.from, c.to, NULL, count_window, &c);
	assert_true(got > 0);
	assert_int_equal(c.n, 24);
	/* HOURLY keeps its phase: every 5 hours from 01:00 on 2000-01-01. */
	struct civil one = {2000, 1, 1, 1, 0, 0};
	struct count_in h = {1798761600, 1798761600 + 86400, 0, 0};
	got = recur_expand_window("FREQ=HOURLY;INTERVAL=5;UNTIL=20300101T000000Z", "UTC", &one, 0,
	                          h.from, h.to, NULL, count_window, &h);
	assert_true(got > 0);
	assert_int_equal((h.first - 946688400 /* 2000-01-01T01Z */) % (5 * 3600), 0);
	assert_true(h.n == 4 || h.n == 5);
	/* Weekly with an interval keeps its weeks. */
	struct civil wed = {2000, 1, 5, 9, 0, 0};
	struct count_in w = {1798761600, 1798761600 + 28 * 86400, 0, 0};
	assert_true(recur_expand_window("FREQ=WEEKLY;INTERVAL=2", "Asia/Seoul", &wed, 0, w.from,
	                                w.to, NULL, count_window, &w) > 0);
	assert_int_equal(w.n, 2);
	assert_int_equal((w.first - (946684800 + 4 * 86400)) % (14 * 86400), 0);
}

/* Every expansion stops within its budget and says so. */
static void test_expansion_budget(void **state)
{
	(void)state;
	struct civil start = {2026, 1, 1, 9, 0, 0};
	struct recur_budget b;
	recur_budget_init(&b, 10, 1000);
	struct count_in c = {INT64_MIN, INT64_MAX, 0, 0};
	assert_int_equal(recur_expand_window("FREQ=DAILY", "UTC", &start, 0, INT64_MIN, INT64_MAX,
	                                     &b, count_window, &c),
	                 RECUR_EXHAUSTED);
	assert_true(c.n <= 10);
	recur_budget_init(&b, 1000000, 0);
	assert_int_equal(recur_expand_window("FREQ=DAILY", "UTC", &start, 0, INT64_MIN, INT64_MAX,
	                                     &b, count_window, &c),
	                 RECUR_EXHAUSTED);
	/* The last start of a rule too long to walk is unknown: no end. */
	assert_int_equal(recur_last_start("FREQ=MINUTELY;UNTIL=21000101T000000Z", "UTC", &start, 0),
	                 INT64_MAX);
}

/* A rule stored without the API's checks (by SQL) is read as the API
 * would have refused it, within the expansion's budget on every path: one
 * libical step of FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30 searched a year's
 * window second by second (18 s), past any budget. A rule that matches no
 * date has no instance; a SECONDLY or MINUTELY one is one whose expansion
 * ran out of budget. */
static void test_stored_rules_the_api_refuses(void **state)
{
	(void)state;
	struct civil start = {2026, 1, 5, 9, 0, 0};
	int64_t from = 1798761600; /* 2027-01-01Z */
	static const struct {
		const char *rule;
		long expect;
	} stored[] = {{"FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", 0},
	              {"FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31", 0},
	              {"FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", 0},
	              {"FREQ=SECONDLY;BYMONTH=2;COUNT=3", RECUR_EXHAUSTED},
	              {"FREQ=MINUTELY;BYHOUR=3", RECUR_EXHAUSTED}};
	for (size_t i = 0; i < sizeof(stored) / sizeof(*stored); i++) {
		struct recur_budget b;
		recur_budget_init(&b, RECUR_MAX_ITERATIONS, 2000);
		struct count_in c = {from, from + 366 * 86400LL, 0, 0};
		long got = recur_expand_window(stored[i].rule, "Asia/Seoul", &start, 0, c.from,
		                               c.to, &b, count_window, &c);
		if (got != stored[i].expect || c.n != 0)
			fail_msg("%s: %ld, %d occurrences", stored[i].rule, got, c.n);
		if (b.spent_us > b.limit_us)
			fail_msg("%s spent %lld ms of its 2000", stored[i].rule,
			         (long long)(b.spent_us / 1000));
		char err[160];
		assert_int_equal(recur_validate(stored[i].rule, 0, err, sizeof(err)), -1);
		assert_null(recur_walk_new(stored[i].rule, "Asia/Seoul", &start, 0));
	}
	/* The other readers: no end known, no first instance, not an
	 * occurrence; a window it cannot be counted in is listed. */
	const char *secondly = "FREQ=SECONDLY;BYMONTH=2;COUNT=3";
	struct civil first, feb = {2027, 2, 1, 0, 0, 1}, end = {2026, 1, 5, 10, 0, 0};
	assert_int_equal(recur_last_start(secondly, "UTC", &start, 0), INT64_MAX);
	assert_int_equal(recur_first(secondly, "UTC", &start, 0, &first), -1);
	assert_int_equal(recur_is_occurrence(secondly, "UTC", &start, 0, NULL, NULL, &feb), 0);
	assert_int_equal(
	    recur_occurs_in(secondly, "UTC", &start, &end, 0, NULL, NULL, from, from + 86400), 1);
	assert_int_equal(
	    recur_first("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30;COUNT=1", "UTC", &start, 0, &first),
	    -1);
}

/* An all-day series' span ends at its last day's own end on the wall,
 * also where the clocks skip that day's midnight (Havana, 2027-03-14:
 * 00:00 does not exist; the day after begins at 04:00Z, not 05:00Z); a
 * stored rule that gives no date at all ends with its first day. */
static void test_all_day_series_span(void **state)
{
	(void)state;
	struct event_in e = {.timezone = "America/Havana",
	                     .all_day = 1,
	                     .rrule = "FREQ=WEEKLY;COUNT=3",
	                     .start = {2027, 2, 28, 0, 0, 0}};
	assert_int_equal(event_times(&e), 0);
	assert_int_equal(e.last_end_utc, 1805083200); /* 2027-03-15T04:00:00Z */
	const char *never = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2";
	struct civil jan = {2027, 1, 1, 0, 0, 0}, wall;
	assert_int_equal(recur_last_occurrence(never, "Europe/Berlin", &jan, 1, &wall), INT64_MIN);
	struct event_in n = {
	    .timezone = "Europe/Berlin", .all_day = 1, .rrule = never, .start = jan};
	assert_int_equal(event_times(&n), 0);
	assert_int_equal(n.last_end_utc, n.end_utc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_rrule_validation),
	    cmocka_unit_test(test_expansion_keeps_wall_time),
	    cmocka_unit_test(test_occurrence_in_dst_gap),
	    cmocka_unit_test(test_rules_that_never_match_are_refused),
	    cmocka_unit_test(test_long_series_expand_near_the_window),
	    cmocka_unit_test(test_expansion_budget),
	    cmocka_unit_test(test_stored_rules_the_api_refuses),
	    cmocka_unit_test(test_all_day_series_span),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
