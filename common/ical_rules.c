/* ical_rules.c - the times and recurrence of an imported VEVENT (see
 * ical_import.c): DTSTART and the like in their zones, RRULE (UNTIL
 * restated, a DTSTART off its rule moved onto it), RDATE and EXDATE. */
#include "ical_int.h"

#include "event.h"

#include <string.h>

/* ---- times ------------------------------------------------------------------------ */

void ical_add_error(json_t *errors, const char *field, const char *message)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
}

void ical_civil_of(struct icaltimetype t, struct civil *c)
{
	c->year = t.year;
	c->month = t.month;
	c->day = t.day;
	c->hour = t.is_date ? 0 : t.hour;
	c->minute = t.is_date ? 0 : t.minute;
	c->second = t.is_date ? 0 : t.second;
}

int ical_valid_civil(const struct civil *c)
{
	char s[CIVIL_LEN];
	struct civil back;
	if (c->year < 1 || c->year > 9999)
		return 0;
	civil_format(c, 0, s);
	return civil_parse(s, 0, &back) == 0;
}

const char *ical_tzid_of(icalproperty *p)
{
	icalparameter *tzp = p ? icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER) : NULL;
	const char *tzid = tzp ? icalparameter_get_tzid(tzp) : NULL;
	return tzid && *tzid ? tzid : NULL;
}

/* A wall time the clocks of zone skip (a DST gap) is the instant RFC 5545
 * (3.3.5) gives it, the offset before the gap applied, which is where
 * SPEC's gap rule moves a series' occurrence: 02:30 on a New York
 * spring-forward day becomes 03:30. c is moved there; 1 when it was in a
 * gap. The API names such an occurrence (its EXDATE, its override's
 * recurrence_id) by that real wall time, and refuses the skipped one. */
int ical_real_wall(const char *zone, struct civil *c)
{
	int64_t u;
	struct civil moved;
	if (tz_to_utc(zone, c, &u) != TZ_GAP || tz_from_utc(zone, u, &moved) != TZ_OK)
		return 0;
	*c = moved;
	return 1;
}

/* Reads a DTSTART-like property as local wall time in a zone we know; a
 * time in a DST gap at its real wall time (ical_real_wall). */
int ical_read_when(struct ctx *x, icalproperty *p, struct icaltimetype t, struct when *w,
                   const char *field, json_t *errors)
{
	struct civil c;
	char msg[200], shown[100];
	ical_civil_of(t, &c);
	memset(w, 0, sizeof(*w));
	w->all_day = t.is_date;
	if (!ical_valid_civil(&c)) {
		ical_add_error(errors, field, "not a valid date or time");
		return -1;
	}
	const char *tzid = ical_tzid_of(p);
	if (t.is_date || (!icaltime_is_utc(t) && !tzid)) {
		/* Dates and floating times are wall times of the default zone. */
		snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
		w->written = c;
		w->gap = !t.is_date && ical_real_wall(w->zone, &c);
	} else if (tzid && ical_resolve_zone(tzid, w->zone, sizeof(w->zone)) == 0) {
		/* a zone we know by name: keep the wall time as written */
		w->has_utc = tz_to_utc(w->zone, &c, &w->utc) != TZ_UNKNOWN;
		w->written = c;
		w->gap = w->has_utc && ical_real_wall(w->zone, &c);
	} else {
		/* UTC, or a zone only the file's VTIMEZONE describes: through UTC. */
		if (tzid) {
			icaltimezone *z = icalcomponent_get_timezone(x->cal, tzid);
			if (!z) {
				ical_clip(tzid, 80, shown, sizeof(shown));
				snprintf(msg, sizeof(msg), "unknown time zone \"%s\"", shown);
				ical_add_error(errors, field, msg);
				return -1;
			}
			t.zone = z;
			ical_civil_of(icaltime_convert_to_zone(t, icaltimezone_get_utc_timezone()),
			              &c);
			w->utc = civil_to_epoch(&c);
			if (ical_match_zone(x, tzid, z, w->utc, w->zone, sizeof(w->zone))) {
				snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
				w->unmatched = 1;
				w->through_utc = 1;
			}
		} else {
			w->utc = civil_to_epoch(&c);
			snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
			w->through_utc = 1;
		}
		w->has_utc = 1;
		if (tz_from_utc(w->zone, w->utc, &c) != TZ_OK) {
			ical_add_error(errors, field, "cannot place this time in the default zone");
			return -1;
		}
	}
	w->c = c;
	civil_format(&c, w->all_day, w->local);
	return 0;
}

/* The series ends before the years events may have end (civil_parse
 * reads 1900 to 2200): an unbounded one is checked to there. */
static int64_t series_horizon(void)
{
	struct civil c = {2201, 1, 2, 0, 0, 0};
	return civil_to_epoch(&c);
}

static int on_last(const struct civil *start, int64_t start_utc, void *arg)
{
	(void)start;
	int64_t *last = arg;
	if (start_utc > *last)
		*last = start_utc;
	return 0;
}

/* The latest instant a series written from UTC instant start reaches: its
 * rule's last instance (walked in UTC within the file's budget when it
 * has COUNT), its UNTIL, its latest RDATE; the horizon when it has no end
 * or the budget ran out. A time not in UTC is taken a day late, more than
 * any zone's offset, so that the span is never too short. */
static int64_t utc_series_end(struct ctx *x, icalcomponent *ve, int64_t start)
{
	int64_t last = start, horizon = series_horizon();
	icalproperty *rp = icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY);
	struct civil c;
	if (rp) {
		struct icalrecurrencetype r = icalproperty_get_rrule(rp);
		if (r.count > 0) {
			char *s = icalrecurrencetype_as_string_r(&r);
			civil_from_epoch(start, &c);
			if (!s || recur_expand_window(s, "UTC", &c, 0, INT64_MIN, INT64_MAX,
			                              x->budget, on_last, &last) < 0)
				last = horizon;
			free(s);
		} else if (!icaltime_is_null_time(r.until)) {
			ical_civil_of(r.until, &c);
			int64_t u = civil_to_epoch(&c) + (icaltime_is_utc(r.until) ? 0 : 2 * 86400);
			last = u > last ? u : last;
		} else {
			return horizon;
		}
	}
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype d = icalproperty_get_rdate(p);
		struct icaltimetype t = icaltime_is_null_time(d.time) ? d.period.start : d.time;
		if (icaltime_is_null_time(t))
			continue;
		ical_civil_of(t, &c);
		int64_t u = civil_to_epoch(&c) + (icaltime_is_utc(t) ? 0 : 86400);
		last = u > last ? u : last;
	}
	return last < horizon ? last : horizon;
}

/* RFC 5545 (3.3.5, 3.3.10) gives every instance of a series whose DTSTART
 * is in UTC the same UTC time; liaison repeats a series' wall time in its
 * zone, so such a series placed in the default zone (as ical_read_when
 * places a UTC time) would follow that zone's clock changes and be an
 * hour off after each. It recurs in UTC, unless the default zone's offset
 * cannot change over the whole series: then every instance has the same
 * local time there too, and the zone is kept, as the product's main users
 * (Asia/Seoul, Asia/Ho_Chi_Minh, which have kept one offset for decades)
 * would rather see their own times than UTC. The check is exact (the zone's
 * changes over the series' span, tz_offset_constant) and bounded (the rule
 * walked within the file's budget, the span cut at the last year events
 * may have). A single UTC time is one instant in any zone, and an
 * override follows its master: both keep the default zone. */
void ical_utc_series(struct ctx *x, icalcomponent *ve, icalproperty *ds, struct when *w)
{
	struct icaltimetype t = icalproperty_get_dtstart(ds);
	if (t.is_date || !icaltime_is_utc(t) || ical_tzid_of(ds) || !w->has_utc ||
	    tz_is_utc(w->zone) ||
	    (!icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY) &&
	     !icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY)))
		return;
	if (tz_offset_constant(w->zone, w->utc, utc_series_end(x, ve, w->utc)))
		return;
	snprintf(w->zone, sizeof(w->zone), "UTC");
	civil_from_epoch(w->utc, &w->c);
	civil_format(&w->c, 0, w->local);
}

/* Another time of the same event (EXDATE, RDATE, DTEND), restated in the
 * event's zone; a floating one is a wall time of the event's zone. Of an
 * all-day event, a DATE-TIME (Outlook writes EXDATE;TZID=Tokyo Standard
 * Time:20260309T000000, others 20260309T000000Z) names the calendar day
 * it is written on, in its own zone (the UTC date of a Z value): moved
 * into the event's zone first, Tokyo's midnight is the day before in Ho
 * Chi Minh City, and the wrong day was excluded or added. */
int ical_restate(struct ctx *x, icalproperty *p, struct icaltimetype t, const struct when *ev,
                 char out[CIVIL_LEN])
{
	if (ev->all_day) {
		struct civil day;
		ical_civil_of(t, &day);
		day.hour = day.minute = day.second = 0;
		if (!ical_valid_civil(&day))
			return -1;
		civil_format(&day, 1, out);
		return 0;
	}
	struct when w;
	json_t *ignored = json_array();
	int rc = ignored ? ical_read_when(x, p, t, &w, "", ignored) : -1;
	json_decref(ignored);
	if (rc)
		return -1;
	struct civil c = w.c;
	int floating = !t.is_date && !icaltime_is_utc(t) && !ical_tzid_of(p);
	if (strcmp(w.zone, ev->zone) != 0 && !w.all_day && !floating) {
		int64_t u;
		if (tz_to_utc(w.zone, &c, &u) == TZ_UNKNOWN ||
		    tz_from_utc(ev->zone, u, &c) != TZ_OK)
			return -1;
	}
	civil_format(&c, 0, out);
	return 0;
}

int64_t ical_wall(const char *local, int all_day)
{
	struct civil c;
	return civil_parse(local, all_day, &c) ? INT64_MIN : civil_to_epoch(&c);
}

void ical_format_wall(int64_t t, int all_day, char out[CIVIL_LEN])
{
	struct civil c;
	civil_from_epoch(t, &c);
	civil_format(&c, all_day, out);
}

/* ---- recurrence ------------------------------------------------------------------------ */

/* An UNTIL that does not match DTSTART's form (local instead of UTC, a
 * time on an all-day rule) is restated the way RFC 5545 wants it. */
static void normalise_until(struct icalrecurrencetype *r, const struct when *w)
{
	if (icaltime_is_null_time(r->until))
		return;
	if (w->all_day) {
		r->until.is_date = 1;
		r->until.zone = NULL;
		return;
	}
	if (icaltime_is_utc(r->until))
		return;
	struct civil c;
	ical_civil_of(r->until, &c);
	if (r->until.is_date) {
		c.hour = 23;
		c.minute = 59;
		c.second = 59;
	}
	int64_t u;
	if (tz_to_utc(w->zone, &c, &u) == TZ_UNKNOWN)
		return;
	civil_from_epoch(u, &c);
	r->until = icaltime_null_time();
	r->until.year = c.year;
	r->until.month = c.month;
	r->until.day = c.day;
	r->until.hour = c.hour;
	r->until.minute = c.minute;
	r->until.second = c.second;
	r->until.zone = icaltimezone_get_utc_timezone();
}

char *ical_read_rrule(icalcomponent *ve, const struct when *w, json_t *errors, json_t *warnings)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY);
	if (!p)
		return NULL;
	struct icalrecurrencetype r = icalproperty_get_rrule(p);
	normalise_until(&r, w);
	char *s = icalrecurrencetype_as_string_r(&r);
	char why[160];
	if (!s || recur_validate(s, w->all_day, why, sizeof(why))) {
		ical_add_error(errors, "rrule", s ? why : "unreadable RRULE");
		free(s);
		return NULL;
	}
	for (icalproperty *q = icalcomponent_get_next_property(ve, ICAL_RRULE_PROPERTY); q;
	     q = icalcomponent_get_next_property(ve, ICAL_RRULE_PROPERTY)) {
		struct icalrecurrencetype r2 = icalproperty_get_rrule(q);
		normalise_until(&r2, w);
		char *s2 = icalrecurrencetype_as_string_r(&r2);
		if (!s2 || strcmp(s, s2) != 0)
			ical_note(warnings, "rrule",
			          "a second, different RRULE was dropped (one rule per event)");
		free(s2);
	}
	if (icalcomponent_get_first_property(ve, ICAL_EXRULE_PROPERTY))
		ical_note(warnings, "rrule", "EXRULE (deprecated by RFC 5545) was dropped");
	return s;
}

typedef int (*wall_cb)(const struct civil *c, void *arg);

/* Calls cb with the wall times libical's iteration of rrule from start
 * gives (without a rule, start alone), up to wall time last, until cb
 * returns non-zero. -1 when the budget ran out. Wall times are what
 * overrides, EXDATEs and RDATEs are compared by, so no instant is
 * computed (which would cost four times as much). */
static int walk_rule(const char *rrule, const char *zone, const struct civil *start, int all_day,
                     int64_t last, wall_cb cb, void *arg, struct recur_budget *b)
{
	if (!rrule) {
		if (civil_to_epoch(start) <= last)
			(void)cb(start, arg);
		return 0;
	}
	struct recur_walk *w = recur_walk_new(rrule, zone, start, all_day);
	struct civil c;
	int rc = 0;
	while (w && (rc = recur_walk_next(w, b, &c)) == 1 && civil_to_epoch(&c) <= last &&
	       !cb(&c, arg))
		;
	recur_walk_free(w);
	return rc == RECUR_EXHAUSTED ? -1 : 0;
}

struct first_probe {
	int64_t from;
	struct civil *first;
	int found;
};

static int on_first(const struct civil *c, void *arg)
{
	struct first_probe *f = arg;
	if (civil_to_epoch(c) < f->from)
		return 0;
	*f->first = *c;
	f->found = 1;
	return 1;
}

/* libical's first instance of rule from start: 1 when that is start
 * itself, 0 when it is later (first set), -1 when the rule yields nothing,
 * -2 when the budget ran out first. */
static int rule_first(const char *rrule, const struct when *w, struct civil *first,
                      struct recur_budget *b)
{
	struct first_probe f = {civil_to_epoch(&w->c), first, 0};
	if (walk_rule(rrule, w->zone, &w->c, w->all_day, INT64_MAX, on_first, &f, b))
		return -2;
	if (!f.found)
		return -1;
	return civil_to_epoch(first) == f.from ? 1 : 0;
}

/* Restarts series w (rule *rrule, read into r) at its instance at: the
 * start and end of ev move there (the end keeps its distance), DTSTART
 * (was) becomes an RDATE in extra_rdates, and COUNT is one less. was and
 * now get the old and the new start, as written. */
static void restart_at(char **rrule, struct icalrecurrencetype *r, struct when *w,
                       const struct civil *at, json_t *ev, json_t *extra_rdates,
                       char was[CIVIL_LEN], char now[CIVIL_LEN])
{
	memcpy(was, w->local, CIVIL_LEN);
	civil_format(at, w->all_day, now);
	const char *end = json_string_value(json_object_get(ev, "end"));
	if (end) {
		int64_t dur = ical_wall(end, w->all_day) - ical_wall(was, w->all_day);
		char e[CIVIL_LEN];
		ical_format_wall(civil_to_epoch(at) + dur, w->all_day, e);
		json_object_set_new(ev, "end", json_string(e));
	}
	w->c = *at;
	w->gap = 0;
	memcpy(w->local, now, CIVIL_LEN);
	json_object_set_new(ev, "start", json_string(now));
	json_array_append_new(extra_rdates, json_string(was));
	if (r->count > 1) {
		r->count--;
		char *s = icalrecurrencetype_as_string_r(r);
		if (s) {
			free(*rrule);
			*rrule = s;
		}
	}
}

/* A series whose DTSTART the clocks skip: RFC 5545 gives DTSTART the
 * instant of the offset before the gap (ical_read_when has moved w there,
 * 03:30 for 02:30 on New York's spring-forward day) and its later
 * instances the wall time written (02:30 EDT). A start in a gap cannot be
 * stored (the API refuses it), and a series started at the moved time
 * would repeat 03:30. So, as for a DTSTART off its rule, the series starts
 * at the rule's next instance, with DTSTART's instant as an RDATE and
 * COUNT one less (COUNT=1, or no other instance: DTSTART alone). */
void ical_fix_gap_start(char **rrule, struct when *w, json_t *ev, json_t *extra_rdates,
                        json_t *warnings, struct recur_budget *b)
{
	if (!w->gap || !*rrule)
		return;
	struct civil next = {0};
	struct first_probe f = {civil_to_epoch(&w->written) + 1, &next, 0};
	if (walk_rule(*rrule, w->zone, &w->written, 0, INT64_MAX, on_first, &f, b)) {
		ical_note(warnings, "rrule",
		          "the file's rules took too long to find this series' instance after its "
		          "DTSTART, which the clocks skip: the series repeats %s",
		          w->local);
		return;
	}
	struct icalrecurrencetype r = icalrecurrencetype_from_string(*rrule);
	if (!f.found || r.count == 1) {
		ical_note(warnings, "rrule",
		          "the rule %s gives no instance after DTSTART: kept as a single event",
		          *rrule);
		free(*rrule);
		*rrule = NULL;
		return;
	}
	char was[CIVIL_LEN], now[CIVIL_LEN];
	restart_at(rrule, &r, w, &next, ev, extra_rdates, was, now);
	ical_note(warnings, "rrule",
	          "the series starts at its next instance, %s, with DTSTART's instant (%s) as an "
	          "RDATE%s, so that its later occurrences keep the wall time written",
	          now, was, r.count > 0 ? " and COUNT one less" : "");
}

/* A series whose DTSTART is not an instance of its rule: RFC 5545 counts
 * DTSTART as the first occurrence, libical skips it, other expanders count
 * it beside COUNT. Restated so that all agree with the RFC: the series
 * starts at the rule's first instance, DTSTART becomes an RDATE, COUNT
 * is one less (COUNT=1: DTSTART alone, no rule). */
void ical_fix_off_rule(char **rrule, struct when *w, json_t *ev, json_t *extra_rdates,
                       json_t *warnings, struct recur_budget *b)
{
	struct civil first = {0};
	int rc = rule_first(*rrule, w, &first, b);
	if (rc == 1)
		return;
	if (rc == -2) {
		ical_note(warnings, "rrule",
		          "the file's rules took too long to check that DTSTART is an instance of "
		          "this one: kept as written");
		return;
	}
	struct icalrecurrencetype r = icalrecurrencetype_from_string(*rrule);
	if (rc < 0 || r.count == 1) {
		ical_note(
		    warnings, "rrule",
		    "DTSTART %s is not an instance of the rule %s, which gives no other occurrence "
		    "(RFC 5545 counts DTSTART as the first): kept as a single event at DTSTART",
		    w->local, *rrule);
		free(*rrule);
		*rrule = NULL;
		return;
	}
	char was[CIVIL_LEN], now[CIVIL_LEN];
	restart_at(rrule, &r, w, &first, ev, extra_rdates, was, now);
	ical_note(
	    warnings, "rrule",
	    "DTSTART %s is not an instance of its rule: the series starts at the rule's first "
	    "instance, %s, with DTSTART as an RDATE%s, so that every calendar shows the "
	    "occurrences RFC 5545 defines",
	    was, now, r.count > 0 ? " and COUNT one less" : "");
}

struct day_probe {
	const char **days; /* sorted "YYYY-MM-DD" */
	size_t n;
	json_t *hits;
	const char *zone;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int on_day(const struct civil *start, void *arg)
{
	struct day_probe *d = arg;
	char day[CIVIL_LEN], s[CIVIL_LEN];
	const char *key = day;
	civil_format(start, 1, day);
	if (bsearch(&key, d->days, d->n, sizeof(*d->days), cmp_str)) {
		struct civil real = *start;
		(void)ical_real_wall(d->zone, &real); /* named as the API names it */
		civil_format(&real, 0, s);
		json_array_append_new(d->hits, json_string(s));
	}
	return 0;
}

/* The occurrences (rule and DTSTART) of a timed series on the days given
 * (sorted dates); -1 when the budget ran out before the last day. */
static int occurrences_on(const char *rrule, const char *zone, const struct civil *start,
                          const char **days, size_t n, json_t *hits, struct recur_budget *b)
{
	struct day_probe d = {days, n, hits, zone};
	struct civil next;
	if (!n || civil_parse(days[n - 1], 1, &next))
		return 0;
	civil_add_days(&next, 1);
	return walk_rule(rrule, zone, start, 0, civil_to_epoch(&next) - 1, on_day, &d, b);
}

struct dup_probe {
	const char **sorted;
	size_t n;
	char *hit; /* per sorted entry */
	int all_day;
};

static int on_rule_instance(const struct civil *start, void *arg)
{
	struct dup_probe *d = arg;
	char s[CIVIL_LEN];
	const char *key = s;
	civil_format(start, d->all_day, s);
	const char **at = bsearch(&key, d->sorted, d->n, sizeof(*d->sorted), cmp_str);
	if (at)
		d->hit[at - d->sorted] = 1;
	return 0;
}

/* RDATEs that the rule (or DTSTART) gives already are one occurrence, as
 * RFC 5545 says: they are dropped, so that no occurrence shows twice
 * (as far as the budget lets the rule be walked). */
json_t *ical_drop_rule_rdates(const char *rrule, const struct when *w, json_t *rdates,
                              struct recur_budget *b)
{
	size_t n = json_array_size(rdates);
	json_t *out = json_array();
	if (!n || !out)
		return out;
	const char **sorted = calloc(n, sizeof(*sorted));
	char *hit = calloc(n, 1);
	if (!sorted || !hit) {
		free(sorted);
		free(hit);
		json_decref(out);
		return json_incref(rdates);
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_string_value(json_array_get(rdates, i));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	struct dup_probe d = {sorted, n, hit, w->all_day};
	(void)walk_rule(rrule, w->zone, &w->c, w->all_day, ical_wall(sorted[n - 1], w->all_day),
	                on_rule_instance, &d, b);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(rdates, i));
		const char *key = s;
		const char **at = bsearch(&key, sorted, n, sizeof(*sorted), cmp_str);
		/* Rule instances and repeated RDATEs are kept once. */
		if (at && !hit[at - sorted] && strcmp(s, w->local) != 0) {
			json_array_append_new(out, json_string(s));
			hit[at - sorted] = 1;
		}
	}
	free(sorted);
	free(hit);
	return out;
}

int ical_listed(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (!strcmp(json_string_value(v), s)) return 1;
	return 0;
}

/* RDATEs, restated in the event's zone. A PERIOD whose length is not the
 * event's goes to periods too ({"start", "end", "utc"}), to become an
 * override of that occurrence with its own end. */
void ical_read_rdates(struct ctx *x, icalcomponent *ve, const struct when *w, int64_t dur,
                      json_t *rd, json_t *periods)
{
	char out[CIVIL_LEN];
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY);
	     p && json_array_size(rd) <= EVENT_MAX_DATES;
	     p = icalcomponent_get_next_property(ve, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype d = icalproperty_get_rdate(p);
		int period = icaltime_is_null_time(d.time);
		struct icaltimetype t = period ? d.period.start : d.time;
		if (icaltime_is_null_time(t) || ical_restate(x, p, t, w, out))
			continue; /* libical named it (X-LIC-ERROR) */
		if (!ical_listed(rd, out))
			json_array_append_new(rd, json_string(out));
		if (!period || w->all_day)
			continue;
		int64_t len = icaltime_is_null_time(d.period.end)
		                  ? icaldurationtype_as_int(d.period.duration)
		                  : (int64_t)(icaltime_as_timet(d.period.end) -
		                              icaltime_as_timet(d.period.start));
		struct civil s, e;
		int64_t u;
		char end[CIVIL_LEN];
		if (len == dur || len < 0 || civil_parse(out, 0, &s) ||
		    tz_to_utc(w->zone, &s, &u) == TZ_UNKNOWN || tz_from_utc(w->zone, u + len, &e))
			continue;
		civil_format(&e, 0, end);
		json_array_append_new(
		    periods, json_pack("{s:s, s:s, s:I}", "start", out, "end", end, "utc", u));
	}
}

void ical_read_exdates(struct ctx *x, icalcomponent *ve, const char *rrule, const struct when *w,
                       json_t *rd, json_t *ex, json_t *warnings)
{
	char out[CIVIL_LEN];
	json_t *days = json_array(); /* DATE EXDATEs of a timed series */
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_EXDATE_PROPERTY);
	     p && json_array_size(ex) <= EVENT_MAX_DATES;
	     p = icalcomponent_get_next_property(ve, ICAL_EXDATE_PROPERTY)) {
		struct icaltimetype t = icalproperty_get_exdate(p);
		if (t.is_date && !w->all_day) {
			struct civil day;
			ical_civil_of(t, &day);
			civil_format(&day, 1, out);
			if (json_array_size(days) <= EVENT_MAX_DATES)
				json_array_append_new(days, json_string(out));
		} else if (ical_restate(x, p, t, w, out)) {
			ical_note(warnings, "exdates",
			          "an EXDATE that could not be read was dropped");
		} else if (!ical_listed(ex, out)) {
			json_array_append_new(ex, json_string(out));
		}
	}
	/* A date excludes the occurrences of that day (rule, DTSTART, RDATEs). */
	size_t n = json_array_size(days);
	const char **sorted = n ? calloc(n, sizeof(*sorted)) : NULL;
	json_t *hits = json_array();
	if (sorted && hits) {
		for (size_t i = 0; i < n; i++)
			sorted[i] = json_string_value(json_array_get(days, i));
		qsort(sorted, n, sizeof(*sorted), cmp_str);
		if (occurrences_on(rrule, w->zone, &w->c, sorted, n, hits, x->budget))
			ical_note(
			    warnings, "exdates",
			    "the series is too long to find the occurrences of its DATE EXDATEs: "
			    "some may still show");
		size_t i;
		json_t *v;
		json_array_foreach(rd, i, v)
		{
			char day[CIVIL_LEN];
			const char *key = day;
			snprintf(day, sizeof(day), "%.10s", json_string_value(v));
			if (bsearch(&key, sorted, n, sizeof(*sorted), cmp_str))
				json_array_append(hits, v);
		}
		json_array_foreach(hits, i, v) if (!ical_listed(ex, json_string_value(v)))
		    json_array_append(ex, v);
	}
	free(sorted);
	json_decref(hits);
	json_decref(days);
}

void ical_set_dates(json_t *ev, const char *key, json_t *a, json_t *warnings)
{
	if (json_array_size(a) > EVENT_MAX_DATES) {
		ical_note(warnings, key, "%zu dates given; the first %d were kept",
		          json_array_size(a), EVENT_MAX_DATES);
		while (json_array_size(a) > EVENT_MAX_DATES)
			json_array_remove(a, json_array_size(a) - 1);
	}
	if (json_array_size(a))
		json_object_set(ev, key, a);
}
