/* recur.c - recurrence rules. libical parses leniently (unknown parts are
 * skipped), so a rule is first checked part by part against RFC 5545's
 * grammar and its rules for which BYxxx parts go with which FREQ, then
 * handed to libical, which must be able to step it, and checked to match
 * some date at all (BYMONTH=2;BYMONTHDAY=30 never does, and libical steps
 * through centuries looking: 22 s for an HOURLY one from 1900). That check
 * and the refusal of SECONDLY and MINUTELY rules and of rules of more than
 * 24 instances a day (rule_steps) are made again before every expansion,
 * for rules stored by other means. Then it is iterated within a budget of
 * steps and time (struct recur_budget), from near the window asked for
 * rather than from DTSTART where the rule allows (a rule with COUNT must
 * count from DTSTART). */
#include "recur.h"

#include "clock.h"
#include "macros.h"

#include <libical/ical.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const parts[] = {"FREQ",     "UNTIL",   "COUNT",    "INTERVAL",   "BYSECOND",
                                    "BYMINUTE", "BYHOUR",  "BYDAY",    "BYMONTHDAY", "BYYEARDAY",
                                    "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"};

static int part_index(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(parts); i++)
		if (strlen(parts[i]) == len && !strncmp(parts[i], name, len))
			return (int)i;
	return -1;
}

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* Part by part: known names, each once, values of the right alphabet. */
static int check_grammar(const char *rrule, unsigned *seen, char *err, size_t errlen)
{
	const char *p = rrule;
	*seen = 0;
	while (*p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq || eq == p || (size_t)(eq - p) + 1 == len)
			return fail(err, errlen, "each part must be NAME=VALUE");
		int idx = part_index(p, (size_t)(eq - p));
		if (idx < 0)
			return fail(err, errlen, "unknown rule part");
		if (*seen & (1u << idx))
			return fail(err, errlen, "a rule part appears twice");
		*seen |= 1u << idx;
		for (const char *v = eq + 1; v < p + len; v++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,+-", *v))
				return fail(
				    err, errlen,
				    "rule values are upper-case letters, digits, ',', '+' and '-'");
		if (!end)
			break;
		p = end + 1;
		if (!*p)
			return fail(err, errlen, "the rule ends with ';'");
	}
	return 0;
}

static int listed(const short *a, size_t n)
{
	return n > 0 && a[0] != ICAL_RECURRENCE_ARRAY_MAX;
}
#define HAS(r, part) listed((r)->part, sizeof((r)->part) / sizeof((r)->part[0]))

/* Whether v (a BYMONTHDAY or BYYEARDAY value, negative counting from the
 * end) names day d of a span of n days. */
static int names_day(int v, int d, int n)
{
	return v > 0 ? v == d : n + v + 1 == d;
}

static int any_names_day(const short *a, size_t size, int d, int n)
{
	for (size_t i = 0; i < size && a[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
		if (names_day(a[i], d, n))
			return 1;
	return 0;
}

static int day_passes(const struct icalrecurrencetype *r, const struct civil *c, int weekday,
                      int yday, int dim, int diy)
{
	if (HAS(r, by_month)) {
		int ok = 0;
		for (size_t i = 0;
		     i < ICAL_BY_MONTH_SIZE && r->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
			ok |= r->by_month[i] == c->month;
		if (!ok)
			return 0;
	}
	if (HAS(r, by_month_day) &&
	    !any_names_day(r->by_month_day, ICAL_BY_MONTHDAY_SIZE, c->day, dim))
		return 0;
	if (HAS(r, by_year_day) && !any_names_day(r->by_year_day, ICAL_BY_YEARDAY_SIZE, yday, diy))
		return 0;
	if (HAS(r, by_day)) {
		int ok = 0;
		for (size_t i = 0;
		     i < ICAL_BY_DAY_SIZE && r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
			ok |= (int)icalrecurrencetype_day_day_of_week(r->by_day[i]) == weekday;
		if (!ok)
			return 0;
	}
	return 1;
}

static int count_of(const short *a, size_t size)
{
	int n = 0;
	while ((size_t)n < size && a[n] != ICAL_RECURRENCE_ARRAY_MAX)
		n++;
	return n;
}

/* The largest set of instances one period of the rule (a year, month,
 * week or day, as its FREQ says) can hold, from the dates that pass its
 * day filters (BYMONTH, BYMONTHDAY, BYYEARDAY, and BYDAY's weekdays) over
 * 28 years, which hold every combination of weekday, leap year and date,
 * times the BYHOUR, BYMINUTE and BYSECOND values that expand it: 0 when no
 * date passes. Ordinals (2TU) and BYWEEKNO only narrow further; a rule
 * they empty is caught by the expansion's bounds. The walk stops once the
 * set reaches `enough` (at least 1): every expansion asks whether a rule
 * matches at all, and most do on their first day. */
static long largest_set(const struct icalrecurrencetype *r, long enough)
{
	static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long times = 1;
	if (r->freq >= ICAL_DAILY_RECURRENCE && HAS(r, by_hour))
		times *= count_of(r->by_hour, ICAL_BY_HOUR_SIZE);
	if (r->freq >= ICAL_HOURLY_RECURRENCE && HAS(r, by_minute))
		times *= count_of(r->by_minute, ICAL_BY_MINUTE_SIZE);
	if (r->freq >= ICAL_MINUTELY_RECURRENCE && HAS(r, by_second))
		times *= count_of(r->by_second, ICAL_BY_SECOND_SIZE);
	long in_period = 0, largest = 0;
	int weekday = 7; /* 2000-01-01 was a Saturday; 1: Sunday */
	for (int year = 2000; year < 2028; year++) {
		int leap = year % 4 == 0; /* 2000 too; 2100 is past the walk */
		int yday = 0;
		for (int month = 1; month <= 12; month++) {
			int dim = month_days[month - 1] + (month == 2 && leap);
			for (int day = 1; day <= dim; day++, weekday = weekday % 7 + 1) {
				yday++;
				if (r->freq == ICAL_YEARLY_RECURRENCE    ? yday == 1
				    : r->freq == ICAL_MONTHLY_RECURRENCE ? day == 1
				    : r->freq == ICAL_WEEKLY_RECURRENCE  ? weekday == 2 /* Monday */
				                                         : 1)
					in_period = 0;
				struct civil c = {year, month, day, 0, 0, 0};
				if (!day_passes(r, &c, weekday, yday, dim, 365 + leap) ||
				    ++in_period <= largest)
					continue;
				largest = in_period;
				if (r->freq < ICAL_DAILY_RECURRENCE || largest * times >= enough)
					return r->freq >= ICAL_DAILY_RECURRENCE ? largest * times
					                                        : times;
			}
		}
	}
	return r->freq >= ICAL_DAILY_RECURRENCE ? largest * times : (largest ? times : 0);
}

/* Whether BYSETPOS names a position some set can have. */
static int setpos_reachable(const struct icalrecurrencetype *r)
{
	if (!HAS(r, by_set_pos))
		return 1;
	long nearest = LONG_MAX;
	for (size_t i = 0; i < ICAL_BY_SETPOS_SIZE && r->by_set_pos[i] != ICAL_RECURRENCE_ARRAY_MAX;
	     i++)
		if (abs(r->by_set_pos[i]) < nearest)
			nearest = abs(r->by_set_pos[i]);
	return largest_set(r, nearest) >= nearest;
}

/* RFC 5545 3.3.10: which BYxxx parts a FREQ takes. */
static const char *misplaced_part(const struct icalrecurrencetype *r)
{
	int f = r->freq;
	if (HAS(r, by_year_day) && (f == ICAL_DAILY_RECURRENCE || f == ICAL_WEEKLY_RECURRENCE ||
	                            f == ICAL_MONTHLY_RECURRENCE))
		return "BYYEARDAY does not go with a DAILY, WEEKLY or MONTHLY rule";
	if (HAS(r, by_month_day) && f == ICAL_WEEKLY_RECURRENCE)
		return "BYMONTHDAY does not go with a WEEKLY rule";
	if (HAS(r, by_week_no) && f != ICAL_YEARLY_RECURRENCE)
		return "BYWEEKNO goes with a YEARLY rule only";
	for (size_t i = 0; i < ICAL_BY_DAY_SIZE && r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
		if (icalrecurrencetype_day_position(r->by_day[i]) != 0 &&
		    ((f != ICAL_MONTHLY_RECURRENCE && f != ICAL_YEARLY_RECURRENCE) ||
		     (f == ICAL_YEARLY_RECURRENCE && HAS(r, by_week_no))))
			return "a numbered BYDAY (2TU) goes with a MONTHLY or YEARLY rule only";
	return NULL;
}

/* Whether libical can step the rule in bounded time: asked when a rule is
 * written (recur_validate) and again before every expansion, so that a
 * rule stored by other means (SQL, an older version) costs no more than
 * one the API took. One step of libical's searches for the next instance
 * inside one call, which no budget between calls can stop: a SECONDLY or
 * MINUTELY rule whose filters pass over most seconds searches the window
 * second by second (18 s a year for FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30),
 * and a rule that matches no date searches to the window's end, or to the
 * year 2582 without one. A part its FREQ does not take (refused at write
 * by name) leaves the question to libical: largest_set reads the filters
 * as RFC 5545 places them. */
enum rule_steps { RULE_STEPS, RULE_UNSUPPORTED, RULE_NEVER, RULE_SUBHOURLY };

static const char *const rule_refusal[] = {
    NULL, "SECONDLY and MINUTELY rules are not supported",
    "the rule matches no date (e.g. BYMONTHDAY=30 with BYMONTH=2)",
    "the rule repeats more than 24 times a day (its BYHOUR, BYMINUTE and BYSECOND values "
    "together)"};

/* How many values a BYxxx part lists (none: 1, the part is not there). */
static int part_count(const short *a, size_t n)
{
	size_t i = 0;
	while (i < n && a[i] != ICAL_RECURRENCE_ARRAY_MAX)
		i++;
	return i ? (int)i : 1;
}
#define PART_COUNT(r, part) part_count((r)->part, sizeof((r)->part) / sizeof((r)->part[0]))

static enum rule_steps rule_steps(const struct icalrecurrencetype *r)
{
	if (!misplaced_part(r) && largest_set(r, 1) == 0)
		return RULE_NEVER;
	if (r->freq == ICAL_SECONDLY_RECURRENCE || r->freq == ICAL_MINUTELY_RECURRENCE)
		return RULE_UNSUPPORTED;
	/* A DAILY rule with BYHOUR=0..23;BYMINUTE=0..59 is a MINUTELY one: a
	 * few of them filled every request's budget for every org that sees
	 * them (a hostile-input pass). At most 24 a day, as HOURLY gives. */
	int hours =
	    r->freq == ICAL_HOURLY_RECURRENCE && !HAS(r, by_hour) ? 24 : PART_COUNT(r, by_hour);
	if (hours * PART_COUNT(r, by_minute) * PART_COUNT(r, by_second) > 24)
		return RULE_SUBHOURLY;
	return RULE_STEPS;
}

int recur_validate(const char *rrule, int all_day, char *err, size_t errlen)
{
	unsigned seen;
	if (strlen(rrule) > 512)
		return fail(err, errlen, "the rule is too long");
	if (check_grammar(rrule, &seen, err, errlen))
		return -1;
	if (!(seen & 1u))
		return fail(err, errlen, "FREQ is required");
	if ((seen & 2u) && (seen & 4u))
		return fail(err, errlen, "COUNT and UNTIL exclude each other");
	icalerror_clear_errno();
	struct icalrecurrencetype r = icalrecurrencetype_from_string(rrule);
	if (icalerrno != ICAL_NO_ERROR || r.freq == ICAL_NO_RECURRENCE) {
		icalerror_clear_errno();
		return fail(err, errlen, "not a valid RFC 5545 rule");
	}
	enum rule_steps steps = rule_steps(&r);
	if (steps != RULE_STEPS)
		return fail(err, errlen, rule_refusal[steps]);
	if (r.freq == ICAL_HOURLY_RECURRENCE && !(seen & 6u))
		return fail(err, errlen, "an HOURLY rule needs COUNT or UNTIL");
	if (r.count < 0 || r.count > RECUR_MAX_COUNT)
		return fail(err, errlen, "COUNT must be from 1 to 10000");
	if ((seen & 4u) && r.count == 0)
		return fail(err, errlen, "COUNT must be from 1 to 10000");
	if (r.interval < 1 || r.interval > 1000)
		return fail(err, errlen, "INTERVAL must be from 1 to 1000");
	if ((seen & 2u) && all_day != r.until.is_date)
		return fail(err, errlen,
		            all_day ? "UNTIL must be a date for an all-day item"
		                    : "UNTIL must be a UTC date-time (…Z)");
	if ((seen & 2u) && !all_day && !icaltime_is_utc(r.until))
		return fail(err, errlen, "UNTIL must be a UTC date-time (…Z)");
	const char *why = misplaced_part(&r);
	if (why)
		return fail(err, errlen, why);
	if (!setpos_reachable(&r))
		return fail(err, errlen, "BYSETPOS names a position no set of the rule reaches");
	/* libical refuses to step some rules it parses: refuse them here. */
	struct icaltimetype t = icaltime_null_time();
	t.year = 2026;
	t.month = t.day = 1;
	t.is_date = all_day;
	icalrecur_iterator *it = icalrecur_iterator_new(r, t);
	if (!it)
		return fail(err, errlen, "the rule cannot be expanded");
	icalrecur_iterator_free(it);
	return 0;
}

int ical_duration_same(const char *a, const char *b)
{
	int64_t x, y;
	return a && b && !ical_duration_parse(a, &x) && !ical_duration_parse(b, &y) && x == y;
}

int ical_duration_parse(const char *s, int64_t *seconds)
{
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (*s++ != 'P' || !*s)
		return -1;
	int64_t total = 0;
	int in_time = 0, any = 0, weeks = 0, units_seen = 0;
	static const char order[] = "WDHMS";
	while (*s) {
		if (*s == 'T') {
			if (in_time || !s[1])
				return -1;
			in_time = 1;
			s++;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -1;
		int64_t v = 0;
		int nd = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (++nd > 7)
				return -1;
		}
		const char *u = strchr(order, *s);
		if (!*s || !u)
			return -1;
		int ui = (int)(u - order);
		/* W and D before T; H, M, S after; each unit once, in order. */
		if ((ui <= 1) == in_time || (units_seen >> ui) || (weeks && ui != 0))
			return -1;
		units_seen |= 1 << ui;
		static const int64_t mult[] = {604800, 86400, 3600, 60, 1};
		total += v * mult[ui];
		weeks |= ui == 0;
		any = 1;
		s++;
	}
	if (!any || (weeks && units_seen != 1))
		return -1;
	*seconds = sign * total;
	return 0;
}

static struct icaltimetype to_ical(const struct civil *c, int all_day)
{
	struct icaltimetype t = icaltime_null_time();
	t.year = c->year;
	t.month = c->month;
	t.day = c->day;
	t.is_date = all_day;
	if (!all_day) {
		t.hour = c->hour;
		t.minute = c->minute;
		t.second = c->second;
	}
	return t;
}

/* RFC 5545 gives a UTC UNTIL for timed items; libical compares it with
 * the floating wall times we iterate, so restate it in local wall time. */
static void localise_until(struct icalrecurrencetype *r, const char *zone)
{
	if (icaltime_is_null_time(r->until) || r->until.is_date)
		return;
	struct civil u = {r->until.year, r->until.month,  r->until.day,
	                  r->until.hour, r->until.minute, r->until.second};
	struct civil w;
	if (tz_from_utc(zone, civil_to_epoch(&u), &w) != TZ_OK)
		return;
	r->until = to_ical(&w, 0);
}

void recur_budget_init(struct recur_budget *b, long steps, int64_t ms)
{
	b->steps = steps;
	b->limit_us = ms * 1000;
	b->spent_us = 0;
}

/* One step of the iterator, within budget b: the next instance, a null
 * time at the end, or -1 in *spent when the budget ran out. Time is
 * counted as spent in the steps, not from a start, so a budget may span
 * work that waits on the database between its steps (an import). */
static struct icaltimetype budget_step(icalrecur_iterator *it, struct recur_budget *b, int *spent)
{
	*spent = --b->steps < 0 || b->spent_us >= b->limit_us;
	if (*spent)
		return icaltime_null_time();
	int64_t t0 = now_monotonic_us();
	struct icaltimetype t = icalrecur_iterator_next(it);
	b->spent_us += now_monotonic_us() - t0;
	return t;
}

/* Where the iteration may start instead of DTSTART, for occurrences from
 * `from` (UTC) on: a day early, so that none near the edge is lost to the
 * zone's offset. None for a rule with COUNT (it counts from DTSTART). 0
 * when there is such a place, in *w (wall time). */
static int near_window(const struct icalrecurrencetype *r, const char *zone,
                       const struct civil *dtstart, int64_t from, struct civil *w)
{
	return r->count == 0 && from != INT64_MIN && tz_from_utc(zone, from - 86400, w) == TZ_OK &&
	               civil_to_epoch(w) > civil_to_epoch(dtstart)
	           ? 0
	           : -1;
}

/* An HOURLY rule starts from a DTSTART moved forward by whole intervals
 * (wall time, as libical steps it): icalrecur_iterator_set_start loses
 * the phase of an HOURLY interval (INTERVAL=5 came out an hour off). */
static void hourly_near(const struct icalrecurrencetype *r, const char *zone, struct civil *dtstart,
                        int64_t from)
{
	struct civil w;
	if (r->freq != ICAL_HOURLY_RECURRENCE || near_window(r, zone, dtstart, from, &w))
		return;
	int64_t step = (int64_t)r->interval * 3600, t0 = civil_to_epoch(dtstart);
	civil_from_epoch(t0 + (civil_to_epoch(&w) - t0) / step * step, dtstart);
}

/* Other rules: the iterator is set to start there (the time of day of
 * the rule's instances still comes from DTSTART). */
static void start_near(icalrecur_iterator *it, const struct icalrecurrencetype *r, const char *zone,
                       const struct civil *dtstart, int all_day, int64_t from)
{
	struct civil w;
	if (r->freq == ICAL_HOURLY_RECURRENCE || near_window(r, zone, dtstart, from, &w))
		return;
	w.hour = w.minute = w.second = 0;
	(void)icalrecur_iterator_set_start(it, to_ical(&w, all_day));
}

/* libical looks for the next instance inside one call, through centuries
 * for a rule that matches rarely, and no budget between calls can stop
 * that: an UNTIL a day past the window's end (the earlier of it and the
 * rule's own; libical honours both it and COUNT) stops its search there. */
static void bound_until(struct icalrecurrencetype *r, const char *zone, int all_day,
                        int64_t until_utc)
{
	struct civil w;
	if (until_utc > INT64_MAX - 86400 || tz_from_utc(zone, until_utc + 86400, &w) != TZ_OK)
		return;
	struct icaltimetype u = to_ical(&w, all_day);
	if (icaltime_is_null_time(r->until) || icaltime_compare(u, r->until) < 0)
		r->until = u;
}

/* The iterator over rrule from dtstart in zone, set for occurrences from
 * about from_utc to until_utc (INT64_MIN, INT64_MAX: all of them); NULL
 * when libical cannot step the rule, or not in bounded time (*steps says
 * which). */
static icalrecur_iterator *iterator_for(const char *rrule, const char *zone,
                                        const struct civil *dtstart, int all_day, int64_t from_utc,
                                        int64_t until_utc, enum rule_steps *steps)
{
	icalerror_clear_errno();
	struct icalrecurrencetype r = icalrecurrencetype_from_string(rrule);
	*steps = RULE_STEPS;
	if (r.freq == ICAL_NO_RECURRENCE || (*steps = rule_steps(&r)) != RULE_STEPS)
		return NULL;
	localise_until(&r, zone);
	bound_until(&r, zone, all_day, until_utc);
	struct civil first = *dtstart;
	hourly_near(&r, zone, &first, from_utc);
	icalrecur_iterator *it = icalrecur_iterator_new(r, to_ical(&first, all_day));
	if (it)
		start_near(it, &r, zone, dtstart, all_day, from_utc);
	return it;
}

long recur_expand_window(const char *rrule, const char *zone, const struct civil *dtstart,
                         int all_day, int64_t from_utc, int64_t until_utc,
                         struct recur_budget *budget, recur_cb cb, void *arg)
{
	int64_t start_utc;
	if (!rrule || !*rrule) {
		struct civil c = *dtstart;
		enum tz_result tr = tz_to_utc(zone, dtstart, &start_utc);
		if (tr == TZ_GAP && !all_day && tz_from_utc(zone, start_utc, &c) != TZ_OK)
			tr = TZ_UNKNOWN;
		if (tr == TZ_UNKNOWN)
			return -1;
		if (start_utc < until_utc)
			cb(&c, start_utc, arg);
		return 1;
	}
	struct recur_budget own;
	if (!budget) {
		recur_budget_init(&own, RECUR_MAX_ITERATIONS, RECUR_BUDGET_MS);
		budget = &own;
	}
	enum rule_steps steps;
	icalrecur_iterator *it =
	    iterator_for(rrule, zone, dtstart, all_day, from_utc, until_utc, &steps);
	/* A rule the API refuses: one that matches no date has no instance;
	 * a SECONDLY or MINUTELY one, or one of more than 24 a day, is taken
	 * as one whose expansion ran out of budget (callers name it, and
	 * free/busy counts its time as unknown), which at its cost it would
	 * have. */
	if (steps == RULE_NEVER)
		return 0;
	if (steps == RULE_UNSUPPORTED || steps == RULE_SUBHOURLY)
		return RECUR_EXHAUSTED;
	if (!it)
		return -1;
	long n = 0;
	int64_t prev_utc = INT64_MIN;
	for (;;) {
		int spent;
		struct icaltimetype t = budget_step(it, budget, &spent);
		if (spent) {
			n = RECUR_EXHAUSTED;
			break;
		}
		if (icaltime_is_null_time(t))
			break;
		struct civil c = {t.year, t.month, t.day, t.hour, t.minute, t.second};
		enum tz_result tr = tz_to_utc(zone, &c, &start_utc);
		/* An occurrence in a DST gap moves forward by the gap's length
		 * (RFC 5545 3.3.10 reads it as 3.3.5 does an explicit time):
		 * every caller gets the wall time that instant really has. */
		if (tr == TZ_GAP && !all_day && tz_from_utc(zone, start_utc, &c) != TZ_OK)
			tr = TZ_UNKNOWN;
		if (tr == TZ_UNKNOWN) {
			n = -1;
			break;
		}
		if (start_utc >= until_utc)
			break;
		/* Moved onto the next occurrence (02:30 onto 03:30 of an hourly
		 * rule): one instance, as a recurrence set has no duplicates. */
		if (start_utc == prev_utc && !all_day)
			continue;
		prev_utc = start_utc;
		n++;
		if (cb(&c, start_utc, arg))
			break;
	}
	icalrecur_iterator_free(it);
	return n;
}

struct recur_walk {
	icalrecur_iterator *it;
};

struct recur_walk *recur_walk_new(const char *rrule, const char *zone, const struct civil *dtstart,
                                  int all_day)
{
	enum rule_steps steps;
	struct recur_walk *w = calloc(1, sizeof(*w));
	if (w &&
	    !(w->it = iterator_for(rrule, zone, dtstart, all_day, INT64_MIN, INT64_MAX, &steps))) {
		free(w);
		w = NULL;
	}
	return w;
}

int recur_walk_next(struct recur_walk *w, struct recur_budget *b, struct civil *out)
{
	int spent;
	struct icaltimetype t = budget_step(w->it, b, &spent);
	if (spent)
		return RECUR_EXHAUSTED;
	if (icaltime_is_null_time(t))
		return 0;
	*out = (struct civil){t.year, t.month, t.day, t.hour, t.minute, t.second};
	if (t.is_date)
		out->hour = out->minute = out->second = 0;
	return 1;
}

void recur_walk_free(struct recur_walk *w)
{
	if (!w)
		return;
	icalrecur_iterator_free(w->it);
	free(w);
}

long recur_expand(const char *rrule, const char *zone, const struct civil *dtstart, int all_day,
                  int64_t until_utc, recur_cb cb, void *arg)
{
	return recur_expand_window(rrule, zone, dtstart, all_day, INT64_MIN, until_utc, NULL, cb,
	                           arg);
}

struct last_seen {
	int64_t utc;
	struct civil wall;
};

static int remember_last(const struct civil *start, int64_t start_utc, void *arg)
{
	struct last_seen *l = arg;
	l->utc = start_utc;
	l->wall = *start;
	return 0;
}

int recur_counted(const char *rrule)
{
	return rrule && strstr(rrule, "COUNT=") != NULL;
}

int64_t recur_last_occurrence(const char *rrule, const char *zone, const struct civil *dtstart,
                              int all_day, struct civil *wall)
{
	struct last_seen last = {.utc = INT64_MIN};
	if (rrule && *rrule && !recur_counted(rrule) && !strstr(rrule, "UNTIL="))
		return INT64_MAX;
	/* A rule that cannot be walked to its end within the budget has no
	 * end we know: the series is then kept as if it ran on. */
	if (recur_expand(rrule, zone, dtstart, all_day, INT64_MAX, remember_last, &last) < 0)
		return INT64_MAX;
	if (wall)
		*wall = last.wall;
	return last.utc;
}

int64_t recur_last_start(const char *rrule, const char *zone, const struct civil *dtstart,
                         int all_day)
{
	return recur_last_occurrence(rrule, zone, dtstart, all_day, NULL);
}

struct window_probe {
	const char *zone;
	int all_day;
	int64_t dur, from, to;
	json_t *exdates;
	int found;
};

size_t recur_instant_index(const void *base, size_t n, size_t size, size_t off, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t at;
		memcpy(&at, (const char *)base + mid * size + off, sizeof(at));
		if (at < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int recur_excluded(json_t *exdates, const char *local)
{
	size_t i;
	json_t *v;
	json_array_foreach(exdates, i, v)
	{
		if (!strcmp(json_string_value(v), local))
			return 1;
	}
	return 0;
}

int64_t recur_duration(const char *zone, const struct civil *start, const struct civil *end,
                       int all_day)
{
	int64_t wall = civil_to_epoch(end) - civil_to_epoch(start), s, e;
	if (all_day || tz_to_utc(zone, start, &s) == TZ_UNKNOWN ||
	    tz_to_utc(zone, end, &e) == TZ_UNKNOWN || e < s)
		return wall;
	return e - s;
}

int64_t recur_end(const char *zone, int all_day, const struct civil *start, int64_t start_utc,
                  int64_t dur, struct civil *end)
{
	if (!all_day) {
		if (tz_from_utc(zone, start_utc + dur, end) != TZ_OK)
			civil_from_epoch(civil_to_epoch(start) + dur, end);
		return start_utc + dur;
	}
	int64_t end_utc;
	civil_from_epoch(civil_to_epoch(start) + dur, end);
	enum tz_result tr = tz_to_utc(zone, end, &end_utc);
	if (tr == TZ_UNKNOWN || end_utc < start_utc)
		return start_utc + dur;
	/* An end the clocks skip is read as RFC 5545 reads it (the offset
	 * before the gap): its wall time is that instant's. */
	if (tr == TZ_GAP && tz_from_utc(zone, end_utc, end) != TZ_OK)
		civil_from_epoch(civil_to_epoch(start) + dur, end);
	return end_utc;
}

int recur_end_text(const char *zone, int all_day, const char *mstart, const char *mend,
                   const char *start, char out[CIVIL_LEN])
{
	struct civil ms, me, s, e;
	int64_t s_utc;
	if (!zone || !mstart || !mend || !start || civil_parse(mstart, all_day, &ms) ||
	    civil_parse(mend, all_day, &me) || civil_parse(start, all_day, &s) ||
	    tz_to_utc(zone, &s, &s_utc) == TZ_UNKNOWN)
		return -1;
	recur_end(zone, all_day, &s, s_utc, recur_duration(zone, &ms, &me, all_day), &e);
	civil_format(&e, all_day, out);
	return 0;
}

static int probe(const struct civil *start, int64_t start_utc, void *arg)
{
	struct window_probe *w = arg;
	struct civil end;
	char local[CIVIL_LEN];
	int64_t end_utc = recur_end(w->zone, w->all_day, start, start_utc, w->dur, &end);
	civil_format(start, w->all_day, local);
	if (start_utc < w->to && (end_utc > w->from || start_utc >= w->from) &&
	    !recur_excluded(w->exdates, local))
		w->found = 1;
	return w->found;
}

int recur_occurs_in(const char *rrule, const char *zone, const struct civil *dtstart,
                    const struct civil *dtend, int all_day, json_t *exdates, json_t *rdates,
                    int64_t from, int64_t to)
{
	struct window_probe w = {
	    zone, all_day, recur_duration(zone, dtstart, dtend, all_day), from, to, exdates, 0};
	if (recur_expand_window(rrule, zone, dtstart, all_day,
	                        from == INT64_MIN ? from : from - w.dur, to, NULL, probe, &w) < 0)
		return 1; /* cannot tell: list it rather than hide it */
	size_t i;
	json_t *v;
	json_array_foreach(rdates, i, v)
	{
		struct civil c;
		int64_t u;
		if (!w.found && !civil_parse(json_string_value(v), all_day, &c) &&
		    tz_to_utc(zone, &c, &u) != TZ_UNKNOWN)
			probe(&c, u, &w);
	}
	return w.found;
}

struct first_probe {
	struct civil first;
	int found;
};

static int take_first(const struct civil *start, int64_t start_utc, void *arg)
{
	UNUSED(start_utc);
	struct first_probe *f = arg;
	f->first = *start;
	f->found = 1;
	return 1;
}

int recur_first(const char *rrule, const char *zone, const struct civil *dtstart, int all_day,
                struct civil *first)
{
	struct first_probe f = {.found = 0};
	int64_t start;
	/* Within 30 years (a date that matches once in 28, such as a Monday
	 * 29 February, is found), so the search for it is bounded too. */
	if (tz_to_utc(zone, dtstart, &start) == TZ_UNKNOWN ||
	    recur_expand(rrule, zone, dtstart, all_day, start + 30LL * 366 * 86400, take_first,
	                 &f) < 0 ||
	    !f.found)
		return -1;
	*first = f.first;
	return 0;
}

struct occurrence_probe {
	char want[CIVIL_LEN];
	int all_day;
	int found;
};

static int match_start(const struct civil *start, int64_t start_utc, void *arg)
{
	UNUSED(start_utc);
	struct occurrence_probe *p = arg;
	char local[CIVIL_LEN];
	civil_format(start, p->all_day, local);
	p->found = !strcmp(local, p->want);
	return p->found;
}

int recur_is_occurrence(const char *rrule, const char *zone, const struct civil *dtstart,
                        int all_day, json_t *exdates, json_t *rdates, const struct civil *rid)
{
	struct occurrence_probe p = {.all_day = all_day};
	civil_format(rid, all_day, p.want);
	if (recur_excluded(exdates, p.want))
		return 0;
	char start[CIVIL_LEN];
	civil_format(dtstart, all_day, start);
	/* RFC 5545 counts DTSTART as the first occurrence, whatever the rule. */
	if (!strcmp(start, p.want))
		return 1;
	size_t i;
	json_t *v;
	json_array_foreach(rdates, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), p.want))
			return 1;
	}
	if (!rrule || !*rrule)
		return 0;
	int64_t until;
	if (tz_to_utc(zone, rid, &until) == TZ_UNKNOWN)
		return 0;
	/* Starts after the rid's instant cannot be it: stop there (a day
	 * later, for a rid in a DST gap that the expansion moves forward). */
	if (recur_expand_window(rrule, zone, dtstart, all_day, until - 2 * 86400, until + 86400,
	                        NULL, match_start, &p) < 0)
		return 0;
	return p.found;
}
