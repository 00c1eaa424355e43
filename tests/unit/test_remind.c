/* test_remind.c - reminder fire times (common/remind.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "remind.h"

#include <string.h>

static const char *fmt_utc(int64_t u)
{
	static char out[CIVIL_LEN];
	struct civil c;
	civil_from_epoch(u, &c);
	civil_format(&c, 0, out);
	return out;
}

struct fires {
	int n;
	struct remind_fire f[8];
};

static int collect_fire(const struct remind_fire *f, void *arg)
{
	struct fires *x = arg;
	if (x->n < 8)
		x->f[x->n] = *f;
	x->n++;
	return 0;
}

struct fire_list {
	int64_t at[16];
	char start[16][CIVIL_LEN];
	int n;
};

static int collect(const struct remind_fire *f, void *arg)
{
	struct fire_list *out = arg;
	if (out->n < 16) {
		out->at[out->n] = f->fire_at;
		memcpy(out->start[out->n], f->start_local, CIVIL_LEN);
		out->n++;
	}
	return 0;
}

static int64_t utc(const char *s)
{
	struct civil c;
	assert_int_equal(civil_parse(s, 0, &c), 0);
	return civil_to_epoch(&c);
}

/* Reminders of the occurrence in the gap: its real start and end, and the
 * trigger counted from that instant. */
static void test_reminder_in_dst_gap(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=DAILY;COUNT=3",
	                          .zone = "America/New_York",
	                          .start = {2027, 3, 13, 2, 30, 0},
	                          .end = {2027, 3, 13, 3, 30, 0}};
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s]", "-PT15M");
	struct fires x = {0};
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect_fire, &x, NULL), INT64_MAX);
	assert_int_equal(x.n, 3);
	int found = 0;
	for (int i = 0; i < 3; i++) {
		if (strcmp(x.f[i].start_local, "2027-03-14T03:30:00"))
			continue;
		found = 1;
		assert_string_equal(fmt_utc(x.f[i].occ_start), "2027-03-14T07:30:00");
		assert_string_equal(x.f[i].end_local, "2027-03-14T04:30:00");
		assert_string_equal(fmt_utc(x.f[i].occ_end), "2027-03-14T08:30:00");
		assert_string_equal(fmt_utc(x.f[i].fire_at), "2027-03-14T07:15:00");
	}
	assert_true(found);
	/* An override of that occurrence names it by its real wall time. */
	json_array_append_new(ev.overridden, json_string("2027-03-14T03:30:00"));
	struct fires y = {0};
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect_fire, &y, NULL), INT64_MAX);
	assert_int_equal(y.n, 2);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
	json_decref(ev.triggers);
}

/* A weekly 09:00 meeting in Toronto across 2026-03-08: the reminder an
 * hour before is 13:00Z in EST and 12:00Z in EDT. */
static void test_reminders_follow_dst(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=WEEKLY;COUNT=3", .zone = "America/Toronto"};
	assert_int_equal(civil_parse("2026-03-01T09:00:00", 0, &ev.start), 0);
	assert_int_equal(civil_parse("2026-03-01T10:00:00", 0, &ev.end), 0);
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s]", "-PT1H");
	struct fire_list f = {0};
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect, &f, NULL), INT64_MAX);
	assert_int_equal(f.n, 3);
	assert_true(f.at[0] == utc("2026-03-01T13:00:00"));
	assert_true(f.at[1] == utc("2026-03-08T12:00:00"));
	assert_true(f.at[2] == utc("2026-03-15T12:00:00"));
	assert_string_equal(f.start[1], "2026-03-08T09:00:00");
	/* An exdate and an overridden occurrence plan nothing; fire times at
	 * or before `after` are skipped; an rdate adds one. */
	json_array_append_new(ev.exdates, json_string("2026-03-08T09:00:00"));
	json_array_append_new(ev.overridden, json_string("2026-03-15T09:00:00"));
	json_array_append_new(ev.rdates, json_string("2026-04-01T09:00:00"));
	memset(&f, 0, sizeof(f));
	assert_int_equal(remind_plan(&ev, utc("2026-03-01T13:00:00"), INT64_MAX, collect, &f, NULL),
	                 INT64_MAX);
	assert_int_equal(f.n, 1);
	assert_true(f.at[0] == utc("2026-04-01T12:00:00"));
	/* Bad triggers are refused, not guessed. */
	json_decref(ev.triggers);
	ev.triggers = json_pack("[s]", "-P1X");
	const char *why = NULL;
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect, &f, &why), -1);
	assert_non_null(why);
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

/* An open-ended daily series stops at the cap and says where. */
static void test_reminder_plan_is_bounded(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=DAILY", .zone = "Asia/Seoul"};
	assert_int_equal(civil_parse("2027-01-01T09:00:00", 0, &ev.start), 0);
	ev.end = ev.start;
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s,s,s]", "-PT1H", "-PT2H", "-P1D");
	struct fire_list f = {0};
	int64_t stop = remind_plan(&ev, 0, INT64_MAX, collect, &f, NULL);
	assert_true(stop != INT64_MAX && stop > utc("2027-01-01T00:00:00"));
	/* 2000 fire times of 3 triggers a day: the 667th day. */
	assert_true(stop == utc("2028-10-28T00:00:00"));
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

/* A rule libical accepts but cannot step is an error with a reason, not
 * an empty plan: the scheduler parks such a row and the API says why. */
static void test_unsteppable_rule_is_an_error(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=YEARLY;BYYEARDAY=-366,366,1;BYMONTHDAY=-1",
	                          .zone = "Asia/Seoul"};
	assert_int_equal(civil_parse("2027-01-01T09:00:00", 0, &ev.start), 0);
	ev.end = ev.start;
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s]", "-PT1H");
	struct fire_list f = {0};
	const char *why = NULL;
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect, &f, &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, "recurrence rule"));
	assert_int_equal(f.n, 0);
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

/* Triggers at one offset (stored before the API refused them) fire once,
 * under the first one's text; others keep theirs. */
static void test_same_offset_fires_once(void **state)
{
	(void)state;
	struct remind_event ev = {.zone = "Asia/Seoul"};
	assert_int_equal(civil_parse("2027-01-05T09:00:00", 0, &ev.start), 0);
	ev.end = ev.start;
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s,s,s,s,s]", "-PT60M", "-PT1H", "-P1D", "-PT1H", "-PT24H");
	struct fires x = {0};
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect_fire, &x, NULL), INT64_MAX);
	assert_int_equal(x.n, 2);
	int hour = 0, day = 0;
	for (int i = 0; i < 2; i++) {
		if (!strcmp(x.f[i].trigger, "-PT60M")) {
			hour++;
			assert_string_equal(fmt_utc(x.f[i].fire_at), "2027-01-04T23:00:00");
		} else {
			day++;
			assert_string_equal(x.f[i].trigger, "-P1D");
			assert_string_equal(fmt_utc(x.f[i].fire_at), "2027-01-04T00:00:00");
		}
	}
	assert_int_equal(hour, 1);
	assert_int_equal(day, 1);
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reminder_in_dst_gap),
	    cmocka_unit_test(test_reminders_follow_dst),
	    cmocka_unit_test(test_reminder_plan_is_bounded),
	    cmocka_unit_test(test_unsteppable_rule_is_an_error),
	    cmocka_unit_test(test_same_offset_fires_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
