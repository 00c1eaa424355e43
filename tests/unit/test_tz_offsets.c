/* test_tz_offsets.c - the tables of a zone's offsets (common/tz_offsets.c)
 * give what libical gives, and so tz_to_utc and tz_from_utc what they gave
 * when they asked libical each time: at every change of offset to the
 * second, in zones with gaps and folds, DST of 30 minutes and negative
 * DST, far past and far future, and from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tz.h"
#include "tz_offsets.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Gaps and folds both ways, 30-minute DST (Lord Howe), negative DST and
 * Ramadan breaks (Casablanca, Dublin), a skipped day (Apia, 2011), a
 * southern zone (Santiago), +2 h DST (Troll), a half-hour zone (St
 * John's), one without DST (Kolkata), and a legacy path name. */
static const char *const zones[] = {"Europe/Berlin",     "America/New_York", "Australia/Lord_Howe",
                                    "Africa/Casablanca", "Europe/Dublin",    "Pacific/Apia",
                                    "America/Santiago",  "Antarctica/Troll", "America/St_Johns",
                                    "Asia/Kolkata",      "Asia/Gaza",        "Asia/Saigon",
                                    "posix/Europe/Paris"};
/* Far past and future, the years of history, libical's 2037/2038 edge,
 * a run of recent years (Ramadan moves through them), and years outside
 * the tables (libical answers those). */
static const int years[] = {1850, 1900, 1901, 1916, 1945, 1970, 1996, 2011, 2019, 2020, 2021,
                            2022, 2023, 2024, 2025, 2026, 2027, 2028, 2029, 2030, 2031, 2032,
                            2033, 2034, 2035, 2036, 2037, 2038, 2100, 2199, 2200, 2300};

static int64_t year_start(int y)
{
	struct civil c = {y, 1, 1, 0, 0, 0};
	return civil_to_epoch(&c);
}

/* Wall time w converted both ways agrees: result and instant. */
static void check_to_utc(const char *zone, const struct civil *w, long *checked)
{
	int64_t a = 0, b = 0;
	enum tz_result ra = tz_to_utc(zone, w, &a), rb = tz_to_utc_uncached(zone, w, &b);
	if (ra != rb || a != b) {
		char s[CIVIL_LEN];
		civil_format(w, 0, s);
		fail_msg("%s %s: tz_to_utc %d %lld, libical %d %lld", zone, s, ra, (long long)a, rb,
		         (long long)b);
	}
	(*checked)++;
}

static void check_from_utc(const char *zone, int64_t t, long *checked)
{
	struct civil a, b;
	enum tz_result ra = tz_from_utc(zone, t, &a), rb = tz_from_utc_uncached(zone, t, &b);
	assert_int_equal(ra, rb);
	if (civil_to_epoch(&a) != civil_to_epoch(&b))
		fail_msg("%s at %lld: tz_from_utc %lld, libical %lld", zone, (long long)t,
		         (long long)civil_to_epoch(&a), (long long)civil_to_epoch(&b));
	(*checked)++;
}

/* Around a change of offset at instant at (from off0 to off1): instants
 * a second either side, and the wall times of the gap or fold it makes,
 * their edges and a second either side. */
static void check_change(const char *zone, int64_t at, int off0, int off1, long *checked)
{
	for (int64_t d = -2; d <= 2; d++)
		check_from_utc(zone, at + d, checked);
	int64_t lo = at + (off0 < off1 ? off0 : off1), hi = at + (off0 > off1 ? off0 : off1);
	const int64_t walls[] = {lo - 3600, lo - 1, lo,     lo + 1,   (lo + hi) / 2,
	                         hi - 1,    hi,     hi + 1, hi + 3600};
	for (size_t i = 0; i < ARRAY_LEN(walls); i++) {
		struct civil w;
		civil_from_epoch(walls[i], &w);
		check_to_utc(zone, &w, checked);
	}
}

/* One zone over one year: every change (found by libical's own offsets a
 * day apart, then to the second), and every six hours both ways. */
static long check_zone_year(const char *zone, int year, int *changes)
{
	struct tz_offsets *z = tz_offsets_of(tz_canonical(zone) ? tz_canonical(zone) : zone);
	assert_non_null(z);
	long checked = 0;
	int64_t a = year_start(year), b = year_start(year + 1);
	int prev = tz_offsets_at_uncached(z, a);
	for (int64_t t = a; t < b; t += 86400) {
		int64_t next = t + 86400 < b ? t + 86400 : b;
		int off = tz_offsets_at_uncached(z, next);
		if (off != prev) {
			int64_t lo = t, hi = next;
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;
				if (tz_offsets_at_uncached(z, mid) == prev)
					lo = mid;
				else
					hi = mid;
			}
			assert_int_equal(tz_offsets_at(z, hi - 1), prev);
			assert_int_equal(tz_offsets_at(z, hi), off);
			check_change(zone, hi, prev, off, &checked);
			(*changes)++;
			prev = off;
		}
		for (int64_t s = t; s < next; s += 6 * 3600) {
			check_from_utc(zone, s, &checked);
			struct civil w;
			civil_from_epoch(s + 1800, &w);
			check_to_utc(zone, &w, &checked);
		}
	}
	return checked;
}

static void test_tables_agree_with_libical(void **state)
{
	(void)state;
	long checked = 0;
	int changes = 0;
	for (size_t i = 0; i < ARRAY_LEN(zones); i++)
		for (size_t k = 0; k < ARRAY_LEN(years); k++)
			checked += check_zone_year(zones[i], years[k], &changes);
	print_message("# %ld conversions compared, %d changes of offset\n", checked, changes);
	/* The years chosen hold real changes: the test looks at some. */
	assert_true(changes > 300);
}

/* Named cases, so that agreement is not agreement on something wrong. */
static void test_gaps_and_folds(void **state)
{
	(void)state;
	struct civil w;
	int64_t u;
	/* Lord Howe: clocks go forward 30 minutes at 02:00 on 5 October 2025. */
	assert_int_equal(civil_parse("2025-10-05T02:15:00", 0, &w), 0);
	assert_int_equal(tz_to_utc("Australia/Lord_Howe", &w, &u), TZ_GAP);
	/* Berlin, 26 October 2025: 02:30 happens twice; the first is CEST. */
	assert_int_equal(civil_parse("2025-10-26T02:30:00", 0, &w), 0);
	assert_int_equal(tz_to_utc("Europe/Berlin", &w, &u), TZ_OK);
	assert_int_equal(u, 1761438600); /* 00:30Z */
	/* Apia skipped 30 December 2011. */
	assert_int_equal(civil_parse("2011-12-30T12:00:00", 0, &w), 0);
	assert_int_equal(tz_to_utc("Pacific/Apia", &w, &u), TZ_GAP);
	/* New York in 2199 still keeps DST, as libical reads the rule. */
	assert_int_equal(civil_parse("2199-07-01T12:00:00", 0, &w), 0);
	assert_int_equal(tz_to_utc("America/New_York", &w, &u), TZ_OK);
	assert_int_equal(civil_to_epoch(&w) - u, -4 * 3600);
}

struct racer {
	int id;
	long mismatches;
};

/* Threads that fill the same tables at once read what libical says. */
static void *race(void *arg)
{
	struct racer *r = arg;
	for (int y = 1990; y < 2060; y++) {
		const char *zone = zones[(r->id + y) % ARRAY_LEN(zones)];
		for (int m = 1; m <= 12; m++) {
			struct civil w = {y, m, 1 + (r->id * 7 + m) % 28, 2, 30, 0};
			int64_t a = 0, b = 0;
			enum tz_result ra = tz_to_utc(zone, &w, &a);
			enum tz_result rb = tz_to_utc_uncached(zone, &w, &b);
			r->mismatches += ra != rb || a != b;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[6];
	struct racer r[6];
	for (int i = 0; i < 6; i++) {
		r[i] = (struct racer){i, 0};
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].mismatches, 0);
	}
}

static void test_unknown_zone(void **state)
{
	(void)state;
	struct civil w = {2026, 1, 1, 0, 0, 0};
	int64_t u;
	assert_null(tz_offsets_of("Mars/Olympus"));
	assert_int_equal(tz_to_utc("Mars/Olympus", &w, &u), TZ_UNKNOWN);
	assert_int_equal(tz_from_utc("Mars/Olympus", 0, &w), TZ_UNKNOWN);
	/* One object for a name, however often it is asked for. */
	assert_ptr_equal(tz_offsets_of("Asia/Ho_Chi_Minh"), tz_offsets_of("Asia/Ho_Chi_Minh"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_tables_agree_with_libical),
	    cmocka_unit_test(test_gaps_and_folds),
	    cmocka_unit_test(test_unknown_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
