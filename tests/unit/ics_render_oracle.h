/* ics_render_oracle.h - the VEVENT renderer as it was through libical
 * (icalcomponent_as_ical_string_r), kept as the reference that
 * test_ics_render_same.c holds common/ics_render.c's own writer to: the
 * bytes of a feed must not change. Included by that test only. */
#include "tz.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(ev, key));
	return s && *s ? s : NULL;
}

/* A local wall time (or date) of the event as a libical time. */
static int local_time(const char *text, int all_day, struct icaltimetype *out)
{
	struct civil c;
	if (!text || civil_parse(text, all_day, &c))
		return -1;
	*out = icaltime_null_time();
	out->year = c.year;
	out->month = c.month;
	out->day = c.day;
	out->is_date = all_day;
	if (!all_day) {
		out->hour = c.hour;
		out->minute = c.minute;
		out->second = c.second;
	}
	return 0;
}

/* "2024-08-20T07:00:00Z" as a UTC libical time. */
static struct icaltimetype utc_time(const char *rfc3339)
{
	struct icaltimetype t = icaltime_null_time();
	struct civil c;
	char head[20];
	if (rfc3339 && strlen(rfc3339) >= 19) {
		memcpy(head, rfc3339, 19);
		head[19] = '\0';
		if (!civil_parse(head, 0, &c)) {
			t.year = c.year;
			t.month = c.month;
			t.day = c.day;
			t.hour = c.hour;
			t.minute = c.minute;
			t.second = c.second;
			t.zone = icaltimezone_get_utc_timezone();
		}
	}
	return t;
}

static icalproperty *new_rdate(struct icaltimetype t)
{
	struct icaldatetimeperiodtype d = {t, icalperiodtype_null_period()};
	return icalproperty_new_rdate(d);
}

/* A local time (or date) t of the event as a property made by make, in the
 * event's zone: with TZID=<IANA name>; for UTC the value itself carries
 * the zone and is written with Z (set before make copies it); dates get
 * VALUE=DATE. */
static void add_time(icalcomponent *ve, icalproperty *(*make)(struct icaltimetype),
                     struct icaltimetype t, const char *zone)
{
	int utc = !t.is_date && tz_is_utc(zone);
	if (utc)
		t.zone = icaltimezone_get_utc_timezone();
	icalproperty *p = make(t);
	if (!t.is_date && !utc)
		icalproperty_add_parameter(p, icalparameter_new_tzid(zone));
	if (t.is_date)
		icalproperty_add_parameter(p, icalparameter_new_value(ICAL_VALUE_DATE));
	icalcomponent_add_property(ve, p);
}

/* RECURRENCE-ID is the DTSTART of the instance replaced: a wall time in
 * the series' zone. An override in a zone of its own names it as that
 * instant in UTC (clients match the two by instant), so that no VTIMEZONE
 * beyond the override's own is needed. */
static void add_recurrence_id(icalcomponent *ve, struct icaltimetype rid, const char *zone,
                              const char *series_zone)
{
	struct civil c = {rid.year, rid.month, rid.day, rid.hour, rid.minute, rid.second};
	int64_t utc;
	if (rid.is_date || !series_zone || !strcmp(series_zone, zone) ||
	    tz_to_utc(series_zone, &c, &utc) == TZ_UNKNOWN) {
		add_time(ve, icalproperty_new_recurrenceid, rid, zone);
		return;
	}
	civil_from_epoch(utc, &c);
	struct icaltimetype u = icaltime_null_time();
	u.year = c.year;
	u.month = c.month;
	u.day = c.day;
	u.hour = c.hour;
	u.minute = c.minute;
	u.second = c.second;
	add_time(ve, icalproperty_new_recurrenceid, u, "UTC");
}

static void add_dates(icalcomponent *ve, json_t *ev, const char *key, int all_day, const char *zone)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(ev, key), i, v)
	{
		struct icaltimetype t;
		if (local_time(json_string_value(v), all_day, &t))
			continue;
		add_time(ve, !strcmp(key, "exdates") ? icalproperty_new_exdate : new_rdate, t,
		         zone);
	}
}

/* Orgs as people know them: by their names (one for each slug, in the
 * order people look them up: VEVENT_ORG_NAMES), else by their slugs. */
static void add_orgs(struct evbuffer *b, json_t *slugs, json_t *names)
{
	json_t *list = json_array_size(names) == json_array_size(slugs) ? names : slugs;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		evbuffer_add_printf(b, "%s%s", i ? ", " : "", json_string_value(v));
	}
}

/* "2027-10-14" as "14 Oct 2027": no reader takes it for 10 February. */
static void add_day(struct evbuffer *b, const char *before, const char *date)
{
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct civil c;
	if (!date || civil_parse(date, 1, &c) || c.month < 1 || c.month > 12)
		return;
	evbuffer_add_printf(b, "%s%d %s %d", before, c.day, months[c.month - 1], c.year);
}

/* An agreement in one line: "Agreement: MOU on startup exchange (signed
 * 2 Jan 2025, expires 2 Jan 2030) with Busan Metropolitan City". */
static void add_agreement(struct evbuffer *b, json_t *ag)
{
	static const char *const words[][2] = {
	    {"intent", "letter of intent"}, {"drafting", "being drafted"},
	    {"signed", "signed"},           {"renewal", "up for renewal"},
	    {"expired", "expired"},         {"terminated", "terminated"}};
	const char *stage = str(ag, "stage") ? str(ag, "stage") : "";
	const char *said = stage, *signed_on = str(ag, "signed_on"),
	           *expires_on = str(ag, "expires_on");
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (!strcmp(stage, words[i][0]))
			said = words[i][1];
	evbuffer_add_printf(b, "Agreement: %s (%s", str(ag, "title") ? str(ag, "title") : "", said);
	/* "signed 2 Jan 2025", "expired 2 Jan 2030": the date of the stage
	 * joins its word. */
	if (!strcmp(stage, "signed")) {
		add_day(b, " ", signed_on);
		signed_on = NULL;
	} else if (!strcmp(stage, "expired")) {
		add_day(b, " ", expires_on);
		expires_on = NULL;
	}
	add_day(b, ", signed ", signed_on);
	add_day(b, ", expires ", expires_on);
	evbuffer_add(b, ")", 1);
	if (json_array_size(json_object_get(ag, "parties"))) {
		evbuffer_add_printf(b, " with ");
		add_orgs(b, json_object_get(ag, "parties"), json_object_get(ag, "party_names"));
	}
	evbuffer_add(b, "\n", 1);
}

/* The description, with what a calendar has no property for, in words a
 * person reads at a glance: which org holds the item, its partners, and
 * for an agreement's dates the agreement itself (whose parties are the
 * item's partners: said once). Orgs by their names, never their slugs. */
static char *description(json_t *ev)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return NULL;
	const char *d = str(ev, "description");
	if (d)
		evbuffer_add_printf(b, "%s\n\n", d);
	const char *holder = str(ev, "org_name") ? str(ev, "org_name") : str(ev, "org");
	if (holder)
		evbuffer_add_printf(b, "Held by: %s\n", holder);
	json_t *ag = json_object_get(ev, "agreement");
	json_t *partners = json_object_get(ev, "partners");
	if (json_array_size(partners) &&
	    !(json_is_object(ag) && json_equal(partners, json_object_get(ag, "parties")))) {
		evbuffer_add_printf(b, "Partners: ");
		add_orgs(b, partners, json_object_get(ev, "partner_names"));
		evbuffer_add(b, "\n", 1);
	}
	if (json_is_object(ag))
		add_agreement(b, ag);
	/* No trailing blank lines. */
	size_t n = evbuffer_get_length(b);
	char *out = n ? malloc(n + 1) : NULL;
	if (out) {
		evbuffer_remove(b, out, n);
		while (n > 0 && out[n - 1] == '\n')
			n--;
		out[n] = '\0';
	}
	evbuffer_free(b);
	return out;
}

static void add_text(icalcomponent *ve, icalproperty *(*make)(const char *), const char *v)
{
	if (v)
		icalcomponent_add_property(ve, make(v));
}

/* ORGANIZER: the org that holds the item, by name (CN), so that clients
 * show who it is from. Its value must be a cal-address, and clients take
 * it as an e-mail address (Outlook resolves it as one; Apple Calendar and
 * Outlook treat an item whose organiser is one of the user's own
 * addresses as the user's own meeting). Orgs have no address here, so it
 * is <slug>@liaison.invalid: a well-formed mailto that matches no user and
 * that no mail can ever reach (RFC 6761: .invalid never resolves), in the
 * spirit of the "invalid:nomail" Outlook itself writes for an organiser
 * without one. Quotes and control characters in the name are plainly
 * replaced, not caret-encoded (RFC 6868): not every reader decodes that. */
static void oracle_add_organizer(icalcomponent *c, const char *slug, const char *name)
{
	if (!slug)
		return;
	char addr[128], cn[256];
	snprintf(addr, sizeof(addr), "mailto:%s@liaison.invalid", slug);
	icalproperty *p = icalproperty_new_organizer(addr);
	if (name) {
		snprintf(cn, sizeof(cn), "%s", name);
		for (char *x = cn; *x; x++)
			if (*x == '"')
				*x = '\'';
			else if ((unsigned char)*x < 0x20 || *x == 0x7f)
				*x = ' ';
		icalproperty_add_parameter(p, icalparameter_new_cn(cn));
	}
	icalcomponent_add_property(c, p);
}

static void add_alarms(icalcomponent *ve, json_t *ev, const char *title)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(ev, "reminders"), i, v)
	{
		struct icaldurationtype d = icaldurationtype_from_string(json_string_value(v));
		if (icaldurationtype_is_bad_duration(d))
			continue;
		icalcomponent *a = icalcomponent_new(ICAL_VALARM_COMPONENT);
		icalcomponent_add_property(a, icalproperty_new_action(ICAL_ACTION_DISPLAY));
		struct icaltriggertype tr = {icaltime_null_time(), d};
		icalcomponent_add_property(a, icalproperty_new_trigger(tr));
		icalcomponent_add_property(a, icalproperty_new_description(title));
		icalcomponent_add_component(ve, a);
	}
}

/* libical writes a CATEGORIES value's ';' and ',' bare, which splits one
 * tag into several for every reader (RFC 5545 3.3.11); the renderer
 * escapes them as in any TEXT. Here each value goes in as a RELATED-TO
 * (a TEXT escaped fully, whose name is as long, so it folds alike), renamed
 * once written (oracle_render_vevent). */
static void add_categories(icalcomponent *ve, json_t *ev)
{
	const char *kind = str(ev, "kind");
	if (kind)
		icalcomponent_add_property(ve, icalproperty_new_relatedto(kind));
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(ev, "tags"), i, v)
	{
		icalcomponent_add_property(ve, icalproperty_new_relatedto(json_string_value(v)));
	}
}

static icalcomponent *vevent(json_t *ev, int alarms, const char **zone_out)
{
	const char *zone = str(ev, "timezone");
	int all_day = json_is_true(json_object_get(ev, "all_day"));
	struct icaltimetype start, end;
	if (!zone || !str(ev, "uid") || local_time(str(ev, "start"), all_day, &start))
		return NULL;
	icalcomponent *ve = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	icalcomponent_add_property(ve, icalproperty_new_uid(str(ev, "uid")));
	struct icaltimetype changed = utc_time(str(ev, "updated_at"));
	icalcomponent_add_property(ve, icalproperty_new_dtstamp(changed));
	icalcomponent_add_property(ve, icalproperty_new_lastmodified(changed));
	icalcomponent_add_property(ve, icalproperty_new_created(utc_time(str(ev, "created_at"))));
	icalcomponent_add_property(ve, icalproperty_new_sequence((int)json_integer_value(
	                                   json_object_get(ev, "sequence"))));
	add_time(ve, icalproperty_new_dtstart, start, zone);
	if (!local_time(str(ev, "end"), all_day, &end) && icaltime_compare(end, start) > 0)
		add_time(ve, icalproperty_new_dtend, end, zone);
	if (str(ev, "rrule"))
		icalcomponent_add_property(
		    ve, icalproperty_new_rrule(icalrecurrencetype_from_string(str(ev, "rrule"))));
	add_dates(ve, ev, "exdates", all_day, zone);
	add_dates(ve, ev, "rdates", all_day, zone);
	struct icaltimetype rid;
	if (str(ev, "series_id") && !local_time(str(ev, "recurrence_id"), all_day, &rid))
		add_recurrence_id(ve, rid, zone, str(ev, "series_timezone"));
	const char *title = str(ev, "title") ? str(ev, "title") : "(no title)";
	icalcomponent_add_property(ve, icalproperty_new_summary(title));
	char *desc = description(ev);
	add_text(ve, icalproperty_new_description, desc);
	free(desc);
	add_text(ve, icalproperty_new_location, str(ev, "location"));
	add_text(ve, icalproperty_new_url, str(ev, "url"));
	add_text(ve, icalproperty_new_relatedto, str(ev, "parent_uid"));
	oracle_add_organizer(ve, str(ev, "org"), str(ev, "org_name"));
	const char *status = str(ev, "status");
	icalcomponent_add_property(
	    ve, icalproperty_new_status(
	            status && !strcmp(status, "cancelled")   ? ICAL_STATUS_CANCELLED
	            : status && !strcmp(status, "tentative") ? ICAL_STATUS_TENTATIVE
	                                                     : ICAL_STATUS_CONFIRMED));
	add_categories(ve, ev);
	if (alarms)
		add_alarms(ve, ev, title);
	*zone_out = all_day ? NULL : zone;
	return ve;
}

static char *oracle_render_vevent(json_t *ev, int alarms, const char **zone_out)
{
	icalcomponent *ve = vevent(ev, alarms, zone_out);
	if (!ve)
		return NULL;
	char *text = icalcomponent_as_ical_string_r(ve);
	icalcomponent_free(ve);
	/* The RELATED-TO lines after STATUS are the categories (a line may
	 * end in "\r\r\n \n" where libical folds before its end). */
	char *at = text ? strstr(text, "\nSTATUS:") : NULL;
	while (at && (at = strstr(at, "\nRELATED-TO:")))
		memcpy(at + 1, "CATEGORIES", 10);
	return text;
}
