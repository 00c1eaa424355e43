/* test_tz.c - zone names and tables, civil dates, wall time <-> UTC (common/tz.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tz.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The first lookups come from several threads at once: the table is
 * loaded once, and every thread gets the same answer. */
static void *canonical_of_saigon(void *arg)
{
	(void)arg;
	return (void *)tz_canonical("Asia/Saigon");
}

static int64_t utc_of(const char *zone, const char *local, enum tz_result *r)
{
	struct civil c;
	assert_int_equal(civil_parse(local, 0, &c), 0);
	int64_t u = 0;
	*r = tz_to_utc(zone, &c, &u);
	return u;
}

static const char *fmt_utc(int64_t u)
{
	static char out[CIVIL_LEN];
	struct civil c;
	civil_from_epoch(u, &c);
	civil_format(&c, 0, out);
	return out;
}

struct names {
	long n, bad, self, differ;
	const char *root;
	int other_from_zi;
};

static void check_name(const char *name, const char *canonical, void *arg)
{
	struct names *x = arg;
	x->n++;
	if (!strcmp(name, canonical))
		x->self++;
	const char *c = tz_canonical(name);
	if (x->root) {
		/* Compared with the table tz_canonical uses (tzdata.zi here). */
		if (!c || strcmp(c, canonical)) {
			x->differ++;
			print_message("# %s: %s here, %s in tzdata.zi\n", name, canonical,
			              c ? c : "(none)");
		}
		return;
	}
	/* Every zone can be converted with, and its canonical name is itself
	 * canonical. */
	struct civil w;
	if (!c || strcmp(c, canonical) || strcmp(tz_canonical(canonical), canonical) ||
	    tz_from_utc(canonical, 1800000000, &w) != TZ_OK) {
		x->bad++;
		print_message("# %s (%s) does not work\n", name, canonical);
	}
}

static void test_zones(void **state)
{
	(void)state;
	assert_true(tz_valid("Asia/Ho_Chi_Minh"));
	assert_true(tz_valid("America/Toronto"));
	assert_true(tz_valid("UTC"));
	assert_true(tz_valid("America/Argentina/Buenos_Aires"));
	assert_false(tz_valid("Mars/Olympus"));
	assert_false(tz_valid(""));
	assert_false(tz_valid("../../etc/passwd"));
	assert_false(tz_valid("/etc/localtime"));
	assert_false(tz_valid("Asia/../Asia/Seoul"));
	assert_false(tz_valid("Asia/Seoul/"));
	assert_false(tz_valid("Asia"));     /* a directory, not a zone */
	assert_false(tz_valid("zone.tab")); /* a file, not TZif */
	assert_false(tz_valid("Asia/Seoul\n"));
}

static void test_zone_table_loads_once(void **state)
{
	(void)state;
	pthread_t th[4];
	void *got[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, canonical_of_saigon, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], &got[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_non_null(got[i]);
		assert_ptr_equal(got[i], got[0]);
	}
	assert_string_equal(got[0], "Asia/Ho_Chi_Minh");
}

/* Only zones and links of the tz database; links give their zone. */
static void test_zone_names(void **state)
{
	(void)state;
	const char *same[] = {"Asia/Ho_Chi_Minh", "America/New_York",
	                      "Asia/Seoul",       "America/Argentina/Buenos_Aires",
	                      "Etc/GMT+5",        "UTC"};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_non_null(tz_canonical(same[i]));
		assert_string_equal(tz_canonical(same[i]), same[i]);
	}
	assert_string_equal(tz_canonical("Asia/Saigon"), "Asia/Ho_Chi_Minh");
	assert_string_equal(tz_canonical("US/Eastern"), "America/New_York");
	assert_string_equal(tz_canonical("Asia/Calcutta"), "Asia/Kolkata");
	assert_string_equal(tz_canonical("ROK"), "Asia/Seoul");
	assert_ptr_equal(tz_canonical("Asia/Saigon"), tz_canonical("Asia/Ho_Chi_Minh"));
	const char *utc[] = {"UTC",      "Etc/UTC",       "Etc/UCT",  "UCT",     "Zulu",
	                     "Etc/Zulu", "Universal",     "GMT",      "Etc/GMT", "GMT0",
	                     "GMT+0",    "Etc/Greenwich", "Greenwich"};
	for (size_t i = 0; i < sizeof(utc) / sizeof(utc[0]); i++) {
		if (!tz_canonical(utc[i]))
			fail_msg("%s refused", utc[i]);
		assert_string_equal(tz_canonical(utc[i]), "UTC");
		assert_true(tz_is_utc(utc[i]));
	}
	assert_false(tz_is_utc("Europe/London"));
	assert_false(tz_is_utc("Etc/GMT+1"));
	/* Files of the tz directory that are not zones, and non-names. */
	const char *bad[] = {"localtime",
	                     "posixrules",
	                     "posix/Asia/Seoul",
	                     "right/UTC",
	                     "right/Asia/Seoul",
	                     "Factory",
	                     "posix",
	                     "right",
	                     "zone.tab",
	                     "tzdata.zi",
	                     "leapseconds",
	                     "Asia",
	                     "Mars/Olympus",
	                     "../etc/passwd",
	                     "/etc/localtime",
	                     "Asia/Seoul/",
	                     "asia/seoul",
	                     "",
	                     "posix/UTC",
	                     "SystemV/EST5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tz_canonical(bad[i]))
			fail_msg("\"%s\" accepted as %s", bad[i], tz_canonical(bad[i]));
		assert_false(tz_valid(bad[i]));
	}
	assert_null(tz_canonical(NULL));
	/* A name stored before names were checked is still read. */
	enum tz_result r;
	assert_string_equal(fmt_utc(utc_of("posix/Asia/Seoul", "2027-04-20T09:00:00", &r)),
	                    "2027-04-20T00:00:00");
	assert_int_equal(r, TZ_OK);
	utc_of("Asia/../etc/passwd", "2027-04-20T09:00:00", &r);
	assert_int_equal(r, TZ_UNKNOWN);
}

static void test_every_zone_works(void **state)
{
	(void)state;
	struct names x = {0};
	long n = tz_table_each("/usr/share/zoneinfo/", 1, check_name, &x);
	assert_true(n > 400 && n < 4000);
	assert_int_equal(x.n, n);
	assert_int_equal(x.bad, 0);
	assert_true(x.self > 300 && x.self < n); /* zones, and links */
}

/* Without tzdata.zi, the directory's TZif files and symbolic links give
 * the same answers. */
static void test_zone_table_without_tzdata_zi(void **state)
{
	(void)state;
	struct names x = {.root = "/usr/share/zoneinfo/"};
	long n = tz_table_each(x.root, 0, check_name, &x);
	assert_true(n > 400 && n < 4000);
	assert_int_equal(x.differ, 0);
	assert_int_equal(tz_table_each("/nonexistent/", 0, check_name, &x), -1);
	assert_int_equal(tz_table_each("/nonexistent/", 1, check_name, &x), -1);
}

static void test_civil_parse(void **state)
{
	(void)state;
	struct civil c;
	assert_int_equal(civil_parse("2024-02-29T23:59:59", 0, &c), 0);
	assert_int_equal(civil_parse("2024-10-17", 1, &c), 0);
	const char *bad[] = {"2023-02-29T00:00:00", "2024-13-01T00:00:00", "2024-00-10T00:00:00",
	                     "2024-01-32T00:00:00", "2024-01-01T24:00:00", "2024-01-01T00:60:00",
	                     "2024-01-01T00:00:60", "2024-01-01 00:00:00", "2024-01-01T00:00:00Z",
	                     "2024-01-01T00:00",    "1899-12-31T00:00:00", "20240101T000000",
	                     "2024-1-01T00:00:00",  "+024-01-01T00:00:00", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(civil_parse(bad[i], 0, &c), 0);
	assert_int_not_equal(civil_parse("2024-10-17T10:00:00", 1, &c), 0);
}

static void test_epoch_round_trip(void **state)
{
	(void)state;
	struct civil c = {1970, 1, 1, 0, 0, 0}, back;
	assert_int_equal(civil_to_epoch(&c), 0);
	struct civil d = {2024, 8, 21, 7, 0, 0};
	assert_int_equal(civil_to_epoch(&d), 1724223600);
	for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400 * 37 + 3671) {
		civil_from_epoch(t, &back);
		assert_int_equal(civil_to_epoch(&back), t);
	}
	struct civil e = {2024, 2, 28, 12, 0, 0};
	civil_add_days(&e, 1);
	assert_int_equal(e.day, 29);
	civil_add_days(&e, 1);
	assert_int_equal(e.month, 3);
}

/* civil_format writes its digits by hand: the same text as the printf
 * form it replaced, for every value a field may hold, in range or not. */
static void test_civil_format_is_the_printf_form(void **state)
{
	(void)state;
	const int v[] = {0,    1,    9,     10,    59, 99,  100,       999,      1000,
	                 2026, 9999, 10000, 12345, -1, -59, INT32_MAX, INT32_MIN};
	const int n = (int)(sizeof(v) / sizeof(v[0]));
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			struct civil c = {v[i],
			                  v[j],
			                  v[(i + j) % n],
			                  v[(i + 2 * j) % n],
			                  v[(2 * i + j) % n],
			                  v[(i * j) % n]};
			char got[CIVIL_LEN], want[64];
			civil_format(&c, 1, got);
			snprintf(want, sizeof(want), "%04u-%02u-%02u", (unsigned)c.year % 10000u,
			         (unsigned)c.month % 100u, (unsigned)c.day % 100u);
			assert_string_equal(got, want);
			civil_format(&c, 0, got);
			snprintf(want, sizeof(want), "%04u-%02u-%02uT%02u:%02u:%02u",
			         (unsigned)c.year % 10000u, (unsigned)c.month % 100u,
			         (unsigned)c.day % 100u, (unsigned)c.hour % 100u,
			         (unsigned)c.minute % 100u, (unsigned)c.second % 100u);
			assert_string_equal(got, want);
		}
}

/* zone_resolve remembers the last eight names a thread resolved, names
 * that are no zone included: more names than that, in turn and again,
 * still get their own answers. */
static void test_zone_memory_keeps_answers_apart(void **state)
{
	(void)state;
	const char *names[] = {"UTC",
	                       "Asia/Seoul",
	                       "Etc/UTC",
	                       "America/Toronto",
	                       "Zulu",
	                       "Nowhere/At_All",
	                       "Europe/Berlin",
	                       "Asia/Ho_Chi_Minh",
	                       "Australia/Lord_Howe",
	                       "GMT",
	                       "Not/A_Zone"};
	const int utc[] = {1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0};
	const int64_t noon[] = {1782907200, 1782874800, 1782907200, 1782921600, 1782907200, 0,
	                        1782900000, 1782882000, 1782869400, 1782907200, 0};
	struct civil c = {2026, 7, 1, 12, 0, 0}; /* 2026-07-01 12:00, local in each */
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
			int64_t u = 0;
			enum tz_result r = tz_to_utc(names[i], &c, &u);
			assert_int_equal(tz_is_utc(names[i]), utc[i]);
			if (noon[i]) {
				assert_int_equal(r, TZ_OK);
				assert_int_equal(u, noon[i]);
			} else {
				assert_int_equal(r, TZ_UNKNOWN);
			}
		}
}

static void test_zones_and_dst(void **state)
{
	(void)state;
	enum tz_result r;
	assert_string_equal(fmt_utc(utc_of("Asia/Ho_Chi_Minh", "2024-08-21T14:00:00", &r)),
	                    "2024-08-21T07:00:00");
	assert_int_equal(r, TZ_OK);
	/* Toronto, 2026: clocks skip 02:00-03:00 on 8 March, repeat 01:00-02:00 on 1 November. */
	assert_string_equal(fmt_utc(utc_of("America/Toronto", "2026-03-01T09:00:00", &r)),
	                    "2026-03-01T14:00:00");
	assert_string_equal(fmt_utc(utc_of("America/Toronto", "2026-03-15T09:00:00", &r)),
	                    "2026-03-15T13:00:00");
	utc_of("America/Toronto", "2026-03-08T02:30:00", &r);
	assert_int_equal(r, TZ_GAP);
	assert_string_equal(fmt_utc(utc_of("America/Toronto", "2026-11-01T01:30:00", &r)),
	                    "2026-11-01T05:30:00"); /* the first 01:30, EDT */
	assert_int_equal(r, TZ_OK);
	utc_of("Mars/Olympus", "2026-03-01T09:00:00", &r);
	assert_int_equal(r, TZ_UNKNOWN);
	assert_string_equal(fmt_utc(utc_of("UTC", "2026-03-01T09:00:00", &r)),
	                    "2026-03-01T09:00:00");
	struct civil w;
	assert_int_equal(tz_from_utc("Asia/Seoul", 1724223600, &w), TZ_OK);
	assert_int_equal(w.hour, 16);
}

/* Whether a zone keeps one offset over a span (imports keep a UTC series
 * in the org's zone then): exact at the change, and bounded by the tables. */
static void test_offset_constant(void **state)
{
	(void)state;
	enum tz_result r;
	int64_t mar10 = utc_of("UTC", "2026-03-10T16:00:00", &r);
	int64_t apr7 = utc_of("UTC", "2026-04-07T16:00:00", &r);
	int64_t end2200 = utc_of("UTC", "2200-12-31T00:00:00", &r);
	/* Berlin's clocks change on 2026-03-29 01:00Z, Toronto's on 03-08 07:00Z. */
	int64_t berlin = utc_of("UTC", "2026-03-29T01:00:00", &r);
	assert_false(tz_offset_constant("Europe/Berlin", mar10, apr7));
	assert_true(tz_offset_constant("Europe/Berlin", mar10, berlin - 1));
	assert_false(tz_offset_constant("Europe/Berlin", mar10, berlin));
	assert_true(tz_offset_constant("America/Toronto", mar10, apr7));
	assert_false(tz_offset_constant("America/Toronto", mar10 - 3 * 86400, apr7));
	assert_true(tz_offset_constant("Asia/Seoul", mar10, end2200));
	assert_true(tz_offset_constant("Asia/Ho_Chi_Minh", mar10, end2200));
	assert_false(tz_offset_constant("Asia/Seoul", utc_of("UTC", "1987-01-01T00:00:00", &r),
	                                mar10)); /* Seoul had DST in 1987-88 */
	assert_true(tz_offset_constant("UTC", INT64_MIN, INT64_MAX));
	assert_false(tz_offset_constant("Asia/Seoul", mar10, INT64_MAX)); /* past the tables */
	assert_false(tz_offset_constant("Mars/Olympus", mar10, apr7));
	assert_false(tz_offset_constant("Asia/Seoul", apr7, mar10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zones),
	    cmocka_unit_test(test_zone_table_loads_once),
	    cmocka_unit_test(test_zone_names),
	    cmocka_unit_test(test_every_zone_works),
	    cmocka_unit_test(test_zone_table_without_tzdata_zi),
	    cmocka_unit_test(test_civil_parse),
	    cmocka_unit_test(test_epoch_round_trip),
	    cmocka_unit_test(test_civil_format_is_the_printf_form),
	    cmocka_unit_test(test_zone_memory_keeps_answers_apart),
	    cmocka_unit_test(test_zones_and_dst),
	    cmocka_unit_test(test_offset_constant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
