/* ical_import.c - iCalendar files (Google, Outlook, Apple exports) into
 * the JSON events the API accepts, so that imported and posted events go
 * through the same validation. Real exports are messy; this keeps what can
 * be kept: empty properties are skipped, DTEND equal to DTSTART is a point
 * in time, RDATE periods count from their start, TZIDs are resolved as
 * IANA names, as prefixed IANA names, as Windows names (ICU's CLDR table),
 * and else through the file's own VTIMEZONE into the default zone. */
#include "ical_import.h"

#include "recur.h"
#include "tz.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define MAX_VEVENTS 10000

struct ctx {
	icalcomponent *cal;
	const char *default_tz;
};

/* ---- zones ------------------------------------------------------------------- */

/* "/freeassociation.sourceforge.net/Asia/Seoul" and the like: the longest
 * tail of the path that is an IANA name. */
static int tail_zone(const char *tzid, char *out, size_t len)
{
	for (const char *p = tzid; p && *p; p = strchr(p + 1, '/')) {
		const char *cand = *p == '/' ? p + 1 : p;
		if (tz_valid(cand) && strlen(cand) < len) {
			strcpy(out, cand);
			return 0;
		}
	}
	return -1;
}

static int windows_zone(const char *tzid, char *out, size_t len)
{
	UChar win[128], id[128];
	size_t n = strlen(tzid);
	if (n == 0 || n >= 128)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tzid[i] > 0x7e)
			return -1;
	u_charsToUChars(tzid, win, (int32_t)n);
	UErrorCode st = U_ZERO_ERROR;
	int32_t got = ucal_getTimeZoneIDForWindowsID(win, (int32_t)n, "001", id, 128, &st);
	if (U_FAILURE(st) || got <= 0 || got >= 128 || (size_t)got >= len)
		return -1;
	u_UCharsToChars(id, out, got);
	out[got] = '\0';
	return tz_valid(out) ? 0 : -1;
}

/* The IANA zone for a TZID, or -1. */
static int resolve_zone(const char *tzid, char *out, size_t len)
{
	if (tz_valid(tzid) && strlen(tzid) < len) {
		strcpy(out, tzid);
		return 0;
	}
	return tail_zone(tzid, out, len) == 0 ? 0 : windows_zone(tzid, out, len);
}

/* ---- times --------------------------------------------------------------------- */

struct when {
	char zone[65];
	int all_day;
	char local[CIVIL_LEN];
};

static void add_error(json_t *errors, const char *field, const char *message)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
}

static void civil_of(struct icaltimetype t, struct civil *c)
{
	c->year = t.year;
	c->month = t.month;
	c->day = t.day;
	c->hour = t.is_date ? 0 : t.hour;
	c->minute = t.is_date ? 0 : t.minute;
	c->second = t.is_date ? 0 : t.second;
}

/* Reads a DTSTART-like property as local wall time in a zone we know. */
static int read_when(struct ctx *x, icalproperty *p, struct icaltimetype t, struct when *w,
                     const char *field, json_t *errors)
{
	struct civil c;
	civil_of(t, &c);
	w->all_day = t.is_date;
	icalparameter *tzp = p ? icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER) : NULL;
	const char *tzid = tzp ? icalparameter_get_tzid(tzp) : NULL;
	if (t.is_date || (!icaltime_is_utc(t) && !tzid)) {
		/* Dates and floating times are wall times of the default zone. */
		snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
	} else if (tzid && resolve_zone(tzid, w->zone, sizeof(w->zone)) == 0) {
		/* a zone we know by name: keep the wall time as written */
	} else {
		/* UTC, or a zone only the file's VTIMEZONE describes: through UTC. */
		int64_t utc;
		if (tzid) {
			icaltimezone *z = icalcomponent_get_timezone(x->cal, tzid);
			if (!z) {
				char msg[200];
				snprintf(msg, sizeof(msg), "unknown time zone \"%.100s\"", tzid);
				add_error(errors, field, msg);
				return -1;
			}
			t.zone = z;
			struct icaltimetype u =
			    icaltime_convert_to_zone(t, icaltimezone_get_utc_timezone());
			civil_of(u, &c);
		}
		utc = civil_to_epoch(&c);
		snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
		if (tz_from_utc(w->zone, utc, &c) != TZ_OK) {
			add_error(errors, field, "cannot place this time in the default zone");
			return -1;
		}
	}
	civil_format(&c, w->all_day, w->local);
	return 0;
}

/* Another time of the same event (EXDATE, RDATE, RECURRENCE-ID, DTEND),
 * restated in the event's zone. */
static int restate(struct ctx *x, icalproperty *p, struct icaltimetype t, const struct when *ev,
                   char out[CIVIL_LEN])
{
	struct when w;
	json_t *ignored = json_array();
	int rc = read_when(x, p, t, &w, "", ignored);
	json_decref(ignored);
	if (rc)
		return -1;
	struct civil c;
	if (civil_parse(w.local, w.all_day, &c))
		return -1;
	if (strcmp(w.zone, ev->zone) != 0 && !w.all_day) {
		int64_t u;
		if (tz_to_utc(w.zone, &c, &u) == TZ_UNKNOWN ||
		    tz_from_utc(ev->zone, u, &c) != TZ_OK)
			return -1;
	}
	if (ev->all_day)
		c.hour = c.minute = c.second = 0;
	civil_format(&c, ev->all_day, out);
	return 0;
}

/* ---- properties ---------------------------------------------------------------- */

static void set_text(json_t *ev, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(ev, key, json_string(v));
}

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
	civil_of(r->until, &c);
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

static void read_rrule(icalcomponent *ve, const struct when *w, json_t *ev, json_t *errors)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY);
	if (!p)
		return;
	struct icalrecurrencetype r = icalproperty_get_rrule(p);
	normalise_until(&r, w);
	char *s = icalrecurrencetype_as_string_r(&r);
	char why[160];
	if (!s || recur_validate(s, w->all_day, why, sizeof(why)))
		add_error(errors, "rrule", s ? why : "unreadable RRULE");
	else
		json_object_set_new(ev, "rrule", json_string(s));
	free(s);
}

static void read_dates(struct ctx *x, icalcomponent *ve, const struct when *w, json_t *ev)
{
	json_t *ex = json_array(), *rd = json_array();
	char out[CIVIL_LEN];
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_EXDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_EXDATE_PROPERTY))
		if (json_array_size(ex) < 1000 &&
		    !restate(x, p, icalproperty_get_exdate(p), w, out))
			json_array_append_new(ex, json_string(out));
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype d = icalproperty_get_rdate(p);
		struct icaltimetype t = icaltime_is_null_time(d.time) ? d.period.start : d.time;
		if (json_array_size(rd) < 1000 && !icaltime_is_null_time(t) &&
		    !restate(x, p, t, w, out))
			json_array_append_new(rd, json_string(out));
	}
	if (json_array_size(ex))
		json_object_set(ev, "exdates", ex);
	if (json_array_size(rd))
		json_object_set(ev, "rdates", rd);
	json_decref(ex);
	json_decref(rd);
}

static void read_alarms(icalcomponent *ve, json_t *ev)
{
	json_t *rem = json_array();
	for (icalcomponent *a = icalcomponent_get_first_component(ve, ICAL_VALARM_COMPONENT); a;
	     a = icalcomponent_get_next_component(ve, ICAL_VALARM_COMPONENT)) {
		icalproperty *p = icalcomponent_get_first_property(a, ICAL_TRIGGER_PROPERTY);
		if (!p || json_array_size(rem) >= 10)
			continue;
		icalparameter *rel = icalproperty_get_first_parameter(p, ICAL_RELATED_PARAMETER);
		if (rel && icalparameter_get_related(rel) == ICAL_RELATED_END)
			continue; /* our reminders count from the start */
		struct icaltriggertype tr = icalproperty_get_trigger(p);
		if (!icaltime_is_null_time(tr.time) || icaldurationtype_as_int(tr.duration) > 0 ||
		    icaldurationtype_as_int(tr.duration) < -400 * 86400)
			continue;
		char *s = icaldurationtype_as_ical_string_r(tr.duration);
		int64_t secs;
		if (s && !ical_duration_parse(s, &secs))
			json_array_append_new(rem, json_string(s));
		free(s);
	}
	if (json_array_size(rem))
		json_object_set(ev, "reminders", rem);
	json_decref(rem);
}

/* CATEGORIES give tags, and the kind when one names a kind. */
static void read_categories(icalcomponent *ve, json_t *ev)
{
	static const char *const kinds[] = {"visit", "festival", "deadline", "meeting"};
	json_t *tags = json_array();
	const char *kind = "meeting";
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_CATEGORIES_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_CATEGORIES_PROPERTY)) {
		const char *c = icalproperty_get_categories(p);
		if (!c || !*c || strlen(c) > 64)
			continue;
		int is_kind = 0;
		for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
			if (!strcasecmp(c, kinds[i])) {
				kind = kinds[i];
				is_kind = 1;
			}
		if (!is_kind && json_array_size(tags) < 50)
			json_array_append_new(tags, json_string(c));
	}
	json_object_set_new(ev, "kind", json_string(kind));
	if (json_array_size(tags))
		json_object_set(ev, "tags", tags);
	json_decref(tags);
}

static void read_end(struct ctx *x, icalcomponent *ve, const struct when *w, json_t *ev)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_DTEND_PROPERTY);
	icalproperty *d = icalcomponent_get_first_property(ve, ICAL_DURATION_PROPERTY);
	struct civil s, e;
	char out[CIVIL_LEN];
	if (civil_parse(w->local, w->all_day, &s))
		return;
	if (p) {
		if (restate(x, p, icalproperty_get_dtend(p), w, out) ||
		    civil_parse(out, w->all_day, &e))
			return;
	} else if (d) {
		int secs = icaldurationtype_as_int(icalproperty_get_duration(d));
		civil_from_epoch(civil_to_epoch(&s) + secs, &e);
	} else {
		return;
	}
	/* An end before the start is dropped; an all-day end on the start day
	 * (DTEND = DTSTART) means the one day. */
	int64_t ds = civil_to_epoch(&s), de = civil_to_epoch(&e);
	if (de < ds || (w->all_day && de == ds))
		return;
	civil_format(&e, w->all_day, out);
	json_object_set_new(ev, "end", json_string(out));
}

/* One VEVENT as {"uid", "event": {...}, "errors": [...]}. */
static json_t *convert(struct ctx *x, icalcomponent *ve)
{
	json_t *ev = json_object(), *errors = json_array();
	const char *uid = icalcomponent_get_uid(ve);
	icalproperty *ds = icalcomponent_get_first_property(ve, ICAL_DTSTART_PROPERTY);
	struct when w;
	if (!uid || !*uid)
		add_error(errors, "uid", "the VEVENT has no UID");
	if (!ds) {
		add_error(errors, "start", "the VEVENT has no DTSTART");
	} else if (!read_when(x, ds, icalproperty_get_dtstart(ds), &w, "start", errors)) {
		json_object_set_new(ev, "timezone", json_string(w.zone));
		json_object_set_new(ev, "start", json_string(w.local));
		json_object_set_new(ev, "all_day", json_boolean(w.all_day));
		read_end(x, ve, &w, ev);
		read_rrule(ve, &w, ev, errors);
		read_dates(x, ve, &w, ev);
		struct icaltimetype rid = icalcomponent_get_recurrenceid(ve);
		char out[CIVIL_LEN];
		icalproperty *rp = icalcomponent_get_first_property(ve, ICAL_RECURRENCEID_PROPERTY);
		if (rp && !icaltime_is_null_time(rid) && !restate(x, rp, rid, &w, out))
			json_object_set_new(ev, "recurrence_id", json_string(out));
	}
	const char *summary = icalcomponent_get_summary(ve);
	json_object_set_new(ev, "title", json_string(summary && *summary ? summary : "(no title)"));
	set_text(ev, "description", icalcomponent_get_description(ve));
	set_text(ev, "location", icalcomponent_get_location(ve));
	icalproperty *url = icalcomponent_get_first_property(ve, ICAL_URL_PROPERTY);
	set_text(ev, "url", url ? icalproperty_get_url(url) : NULL);
	enum icalproperty_status st = icalcomponent_get_status(ve);
	json_object_set_new(ev, "status",
	                    json_string(st == ICAL_STATUS_CANCELLED   ? "cancelled"
	                                : st == ICAL_STATUS_TENTATIVE ? "tentative"
	                                                              : "confirmed"));
	read_categories(ve, ev);
	read_alarms(ve, ev);
	return json_pack("{s:s, s:o, s:o}", "uid", uid ? uid : "", "event", ev, "errors", errors);
}

static const char *calendar_zone(icalcomponent *cal, const char *org_tz, char *buf, size_t len)
{
	for (icalproperty *p = icalcomponent_get_first_property(cal, ICAL_X_PROPERTY); p;
	     p = icalcomponent_get_next_property(cal, ICAL_X_PROPERTY)) {
		const char *name = icalproperty_get_x_name(p);
		const char *v = icalproperty_get_x(p);
		if (name && v && !strcasecmp(name, "X-WR-TIMEZONE") && !resolve_zone(v, buf, len))
			return buf;
	}
	return org_tz;
}

json_t *ical_import_parse(const char *text, size_t len, const char *org_tz, char *err,
                          size_t errlen)
{
	if (memchr(text, '\0', len) || len < 15 || strncasecmp(text, "BEGIN:VCALENDAR", 15) != 0) {
		snprintf(err, errlen, "not an iCalendar file (it must begin with BEGIN:VCALENDAR)");
		return NULL;
	}
	char *copy = strndup(text, len);
	icalerror_clear_errno();
	icalcomponent *root = copy ? icalparser_parse_string(copy) : NULL;
	free(copy);
	icalcomponent *cal = root;
	if (root && icalcomponent_isa(root) == ICAL_XROOT_COMPONENT)
		cal = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
	if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
		snprintf(err, errlen, "not an iCalendar file: no VCALENDAR could be read");
		if (root)
			icalcomponent_free(root);
		return NULL;
	}
	char zbuf[65];
	struct ctx x = {cal, calendar_zone(cal, org_tz, zbuf, sizeof(zbuf))};
	json_t *items = json_array();
	size_t n = 0;
	for (icalcomponent *ve = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	     ve && n < MAX_VEVENTS;
	     ve = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT), n++)
		json_array_append_new(items, convert(&x, ve));
	icalcomponent_free(root);
	return items;
}
