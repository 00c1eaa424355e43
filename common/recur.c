/* recur.c - recurrence rules. libical parses leniently (unknown parts are
 * skipped), so a rule is first checked part by part against RFC 5545's
 * grammar, then handed to libical, then iterated with hard bounds: no
 * SECONDLY or MINUTELY rules, COUNT at most RECUR_MAX_COUNT, and never
 * more than RECUR_MAX_ITERATIONS steps for one expansion. */
#include "recur.h"

#include <libical/ical.h>
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
	if (r.freq == ICAL_SECONDLY_RECURRENCE || r.freq == ICAL_MINUTELY_RECURRENCE)
		return fail(err, errlen, "SECONDLY and MINUTELY rules are not supported");
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
	return 0;
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

long recur_expand(const char *rrule, const char *zone, const struct civil *dtstart, int all_day,
                  int64_t until_utc, recur_cb cb, void *arg)
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
	icalerror_clear_errno();
	struct icalrecurrencetype r = icalrecurrencetype_from_string(rrule);
	if (r.freq == ICAL_NO_RECURRENCE)
		return -1;
	localise_until(&r, zone);
	icalrecur_iterator *it = icalrecur_iterator_new(r, to_ical(dtstart, all_day));
	if (!it)
		return -1;
	long n = 0, steps = 0;
	int64_t prev_utc = INT64_MIN;
	for (struct icaltimetype t = icalrecur_iterator_next(it);
	     !icaltime_is_null_time(t) && steps < RECUR_MAX_ITERATIONS;
	     t = icalrecur_iterator_next(it), steps++) {
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

static int remember_last(const struct civil *start, int64_t start_utc, void *arg)
{
	(void)start;
	*(int64_t *)arg = start_utc;
	return 0;
}

int64_t recur_last_start(const char *rrule, const char *zone, const struct civil *dtstart,
                         int all_day)
{
	int64_t last = INT64_MIN;
	if (rrule && *rrule && !strstr(rrule, "COUNT=") && !strstr(rrule, "UNTIL="))
		return INT64_MAX;
	if (recur_expand(rrule, zone, dtstart, all_day, INT64_MAX, remember_last, &last) < 0)
		return INT64_MAX;
	return last;
}

struct window_probe {
	const char *zone;
	int all_day;
	int64_t dur, from, to;
	json_t *exdates;
	int found;
};

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

int64_t recur_end(const char *zone, const struct civil *start, int64_t start_utc, int64_t dur,
                  struct civil *end)
{
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

static int probe(const struct civil *start, int64_t start_utc, void *arg)
{
	struct window_probe *w = arg;
	struct civil end;
	char local[CIVIL_LEN];
	int64_t end_utc = recur_end(w->zone, start, start_utc, w->dur, &end);
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
	    zone, all_day, civil_to_epoch(dtend) - civil_to_epoch(dtstart), from, to, exdates, 0};
	if (recur_expand(rrule, zone, dtstart, all_day, to, probe, &w) < 0)
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
	if (recur_expand(rrule, zone, dtstart, all_day, INT64_MAX, take_first, &f) < 0 || !f.found)
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
	if (recur_expand(rrule, zone, dtstart, all_day, until + 86400, match_start, &p) < 0)
		return 0;
	return p.found;
}
