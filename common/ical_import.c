/* ical_import.c - iCalendar files (Google, Outlook, Apple, Thunderbird,
 * Nextcloud exports, meetup sites, generated calendars) into the JSON
 * events the API accepts, so that imported and posted events go through
 * the same validation. Real exports are messy; this keeps what can be
 * kept and says what it dropped or derived (an item's "warnings"):
 *
 * - the text first: a UTF-8 byte-order mark is skipped, CRLF, LF and CR
 *   all end lines, folded lines are unfolded (also when a fold split a
 *   UTF-8 character), a line that is not UTF-8 is read as Windows-1252,
 *   a VALARM or VEVENT left open is dropped rather than failing the file;
 * - a VEVENT without UID gets one derived from its content (a SHA-256
 *   prefix @import.liaison), so importing the file again finds it;
 * - a UID (and RECURRENCE-ID) given twice is kept once: the highest
 *   SEQUENCE, the last of equals; an override whose RECURRENCE-ID cannot
 *   be read is refused, never taken for its series;
 * - TZIDs are resolved as IANA names, as prefixed IANA names, as Windows
 *   names (ICU's CLDR table), else through the file's own VTIMEZONE into
 *   the IANA zone whose offsets match it (the default zone first);
 * - a series whose DTSTART is not an instance of its rule (RFC 5545 counts
 *   DTSTART; libical skips it, other expanders add it to COUNT) starts at
 *   the rule's first instance, with DTSTART as an RDATE and COUNT one
 *   less, so that every client shows the same occurrences;
 * - a series whose DTSTART is in UTC recurs at that UTC time (RFC 5545
 *   3.3.10), in UTC unless the default zone's offset cannot change over
 *   it (ical_utc_series);
 * - an EXDATE, RDATE or RECURRENCE-ID of an all-day series written as a
 *   DATE-TIME (a zoned or UTC midnight) names the day it is written on;
 * - a time the clocks skip (DTSTART, EXDATE, RDATE or RECURRENCE-ID in a
 *   DST gap) is read at the instant RFC 5545 gives it, which is where the
 *   series' occurrence of that day moves, and named by its real wall time
 *   as the API names it (ical_real_wall); a series whose DTSTART is in a
 *   gap starts at its next instance with DTSTART as an RDATE, so that its
 *   later instances keep the wall time written;
 * - a DATE EXDATE of a timed series excludes the occurrences of that day;
 *   an override that makes a timed occurrence all-day (or the other way
 *   round) excludes that occurrence from its series, and is kept as an
 *   event of its own;
 *   RDATE periods count from their start (a different length is named);
 *   UNTIL is restated the way RFC 5545 wants it (UTC for zoned times);
 * - a malformed optional property (URL, CATEGORIES, VALARM, a VALUE type
 *   libical does not know) is dropped with a warning;
 * - CLASS:PRIVATE and CONFIDENTIAL (and unknown classes, as RFC 5545 says)
 *   make the event private; STATUS:CANCELLED, or a METHOD:CANCEL message,
 *   makes it cancelled.
 * Overrides are placed on their master by ical_import_place_rid once the
 * master is known (daemon/api/import.c looks it up). */
#include "ical_import.h"
#include "ical_int.h"

#include "event.h"
#include "validate.h"

#include <openssl/evp.h>
#include <string.h>

/* ---- UIDs ---------------------------------------------------------------------------- */

/* 32 hex digits of SHA-256(text) and DERIVED_SUFFIX. */
static int derive(const char *text, size_t len, char out[64])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
		return -1;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	snprintf(out + 32, 64 - 32, "%s", DERIVED_SUFFIX);
	return 0;
}

/* A UID from what identifies a VEVENT that has none: its times, rule,
 * title and place, as written (name, TZID and value of each, not
 * libical's whole serialisation, which an upgrade might change). */
static int derive_uid(icalcomponent *ve, char out[64])
{
	static const icalproperty_kind kinds[] = {
	    ICAL_DTSTART_PROPERTY, ICAL_DTEND_PROPERTY,    ICAL_DURATION_PROPERTY,
	    ICAL_SUMMARY_PROPERTY, ICAL_LOCATION_PROPERTY, ICAL_RRULE_PROPERTY,
	    ICAL_RDATE_PROPERTY,   ICAL_EXDATE_PROPERTY,   ICAL_RECURRENCEID_PROPERTY};
	struct sbuf b = {0};
	ical_sb_str(&b, "vevent\n");
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		for (icalproperty *p = icalcomponent_get_first_property(ve, kinds[i]); p;
		     p = icalcomponent_get_next_property(ve, kinds[i])) {
			const char *name = icalproperty_get_property_name(p);
			const char *tzid = ical_tzid_of(p);
			const char *value = icalproperty_get_value_as_string(p);
			ical_sb_str(&b, name ? name : "?");
			ical_sb_str(&b, ";");
			ical_sb_str(&b, tzid ? tzid : "");
			ical_sb_str(&b, ":");
			ical_sb_str(&b, value ? value : "");
			ical_sb_str(&b, "\n");
		}
	int rc = b.oom ? -1 : derive(ical_sb_text(&b), b.n, out);
	free(b.p);
	return rc;
}

static int uid_usable(const char *uid)
{
	if (!uid)
		return 0;
	for (const char *p = uid; *p; p++)
		if (*p != ' ' && *p != '\t')
			return valid_text(uid, 255, 0);
	return 0;
}

/* ---- one VEVENT ------------------------------------------------------------------------ */

/* The RECURRENCE-ID of an override, for ical_import_place_rid. */
static json_t *read_rid(struct ctx *x, icalproperty *rp, json_t *errors, char key[64])
{
	struct icaltimetype t = icalproperty_get_recurrenceid(rp);
	struct when w;
	if (icaltime_is_null_time(t)) {
		ical_add_error(errors, "recurrence_id", "RECURRENCE-ID could not be read");
		return NULL;
	}
	if (ical_read_when(x, rp, t, &w, "recurrence_id", errors))
		return NULL;
	struct civil c;
	char written[CIVIL_LEN];
	ical_civil_of(t, &c);
	civil_format(&c, t.is_date, written);
	json_t *rid = json_pack("{s:s, s:b}", "local", written, "date", t.is_date);
	if (rid && w.has_utc) {
		json_object_set_new(rid, "utc", json_integer(w.utc));
		snprintf(key, 64, "@%lld", (long long)w.utc);
	} else {
		snprintf(key, 64, "%s", written);
	}
	return rid;
}

static int64_t event_duration(json_t *ev, const struct when *w)
{
	const char *end = json_string_value(json_object_get(ev, "end"));
	if (!end)
		return w->all_day ? 86400 : 0;
	int64_t d = ical_wall(end, w->all_day) - ical_wall(w->local, w->all_day);
	return d < 0 ? 0 : d;
}

/* The wall end of a zoned or UTC start w lasting du, as RFC 5545 (3.3.6)
 * counts it: its days and weeks on the calendar of the zone it was written
 * in, its hours, minutes and seconds exactly (PT24H across a change of the
 * clocks is 24 hours, P1D the same time the next day; a UTC start's
 * calendar has no changes, so all of it is exact). wall, the plain sum,
 * when the zone cannot say. */
static int64_t zoned_end(const struct when *w, struct icaldurationtype du, int64_t wall)
{
	struct civil c = w->c, end;
	int64_t u, days = (int64_t)du.weeks * 7 + du.days;
	int64_t exact = (int64_t)du.hours * 3600 + du.minutes * 60 + du.seconds;
	if (days > 36600)
		return wall; /* past any calendar's use; checked as it was */
	if (w->through_utc) {
		exact += days * 86400;
		days = 0;
	}
	civil_add_days(&c, (int)days);
	if (tz_to_utc(w->zone, &c, &u) == TZ_UNKNOWN ||
	    tz_from_utc(w->zone, u + exact, &end) != TZ_OK)
		return wall;
	return civil_to_epoch(&end);
}

static void read_end(struct ctx *x, icalcomponent *ve, const struct when *w, json_t *ev,
                     json_t *warnings)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_DTEND_PROPERTY);
	icalproperty *d = icalcomponent_get_first_property(ve, ICAL_DURATION_PROPERTY);
	char out[CIVIL_LEN];
	int64_t s = ical_wall(w->local, w->all_day), e;
	if (p) {
		if (ical_restate(x, p, icalproperty_get_dtend(p), w, out) ||
		    (e = ical_wall(out, w->all_day)) == INT64_MIN) {
			ical_note(warnings, "end", "DTEND could not be read: dropped");
			return;
		}
	} else if (d) {
		struct icaldurationtype du = icalproperty_get_duration(d);
		e = s + icaldurationtype_as_int(du);
		if (w->all_day && e > 0)
			e -= e % 86400; /* whole days */
		else if (w->has_utc && !du.is_neg)
			e = zoned_end(w, du, e);
	} else {
		return;
	}
	/* An all-day end on the start day (DTEND = DTSTART) means the one day. */
	if (w->all_day && e == s)
		return;
	if (e < s) {
		ical_note(warnings, "end", "the end is before the start: dropped");
		return;
	}
	ical_format_wall(e, w->all_day, out);
	json_object_set_new(ev, "end", json_string(out));
}

struct item_meta {
	size_t order;
	int sequence;
	int synthetic; /* an override made of an RDATE period */
	char key[400]; /* UID and RECURRENCE-ID, for duplicates */
};

/* An occurrence given as an RDATE period whose length is not the event's:
 * an override of that occurrence, with the period's end. */
static json_t *period_override(const char *uid, json_t *ev, json_t *period, int sequence)
{
	const char *start = json_string_value(json_object_get(period, "start"));
	json_int_t utc = json_integer_value(json_object_get(period, "utc"));
	char text[400], single[64];
	snprintf(text, sizeof(text), "override\n%s\n@%lld", uid, (long long)utc);
	json_t *e = json_deep_copy(ev);
	if (!e || derive(text, strlen(text), single) != 0) {
		json_decref(e);
		return NULL;
	}
	json_object_del(e, "rrule");
	json_object_del(e, "rdates");
	json_object_del(e, "exdates");
	json_object_set(e, "start", json_object_get(period, "start"));
	json_object_set(e, "end", json_object_get(period, "end"));
	return json_pack("{s:s, s:o, s:[], s:[], s:i, s:{s:s, s:b, s:I}, s:s, s:b}", "uid", uid,
	                 "event", e, "errors", "warnings", "sequence", sequence, "rid", "local",
	                 start, "date", 0, "utc", utc, "single_uid", single, "synthetic", 1);
}

/* One VEVENT as an item (see ical_import.h); extra gets the overrides made
 * of its RDATE periods. */
static json_t *convert(struct ctx *x, icalcomponent *ve, struct item_meta *m, json_t *extra)
{
	json_t *ev = json_object(), *errors = json_array(), *warnings = json_array();
	json_t *rd = json_array(), *ex = json_array(), *periods = json_array();
	json_t *rid = NULL;
	char derived[64], single[64] = "", ridkey[64] = "";
	char *rrule = NULL;
	if (!ev || !errors || !warnings || !rd || !ex || !periods)
		goto fail;
	const char *uid = icalcomponent_get_uid(ve);
	if (!uid_usable(uid)) {
		int had = uid && *uid;
		if ((had ? derive(uid, strlen(uid), derived) : derive_uid(ve, derived)) != 0)
			goto fail;
		ical_note(warnings, "uid",
		          had ? "the UID is not 1-255 bytes of text: one was derived from it"
		              : "the VEVENT has no UID: one was derived from its content (DTSTART, "
		                "SUMMARY, RRULE, ...), so importing the same file again finds it");
		uid = derived;
	}
	icalproperty *ds = icalcomponent_get_first_property(ve, ICAL_DTSTART_PROPERTY);
	icalproperty *rp = icalcomponent_get_first_property(ve, ICAL_RECURRENCEID_PROPERTY);
	struct when w;
	memset(&w, 0, sizeof(w));
	char why[200];
	int rid_dropped = !rp && ical_lic_dropped(ve, "RECURRENCE-ID", why, sizeof(why));
	if (rid_dropped) {
		/* An override whose occurrence is unknown: taken for a VEVENT of
		 * its own, it was a second master of the UID and, of a higher
		 * SEQUENCE, replaced the whole series by itself. */
		char msg[300];
		snprintf(msg, sizeof(msg),
		         "RECURRENCE-ID could not be read (%s): which occurrence this VEVENT "
		         "changes is unknown",
		         why);
		ical_add_error(errors, "recurrence_id", msg);
	}
	if (!ds) {
		ical_add_error(errors, "start",
		               "the VEVENT has no DTSTART (or one that could not be read)");
	} else if (!ical_read_when(x, ds, icalproperty_get_dtstart(ds), &w, "start", errors)) {
		if (!rp && !rid_dropped)
			ical_utc_series(x, ve, ds, &w);
		if (w.gap) {
			/* SPEC: refuse a VEVENT only when it cannot be represented;
			 * this one can, at the instant RFC 5545 (3.3.5) gives it. */
			char written[CIVIL_LEN];
			civil_format(&w.written, 0, written);
			ical_note(warnings, "start",
			          "DTSTART %s does not exist in %s (the clocks skip it): read as "
			          "RFC 5545 reads it, at %s",
			          written, w.zone, w.local);
		}
		json_object_set_new(ev, "timezone", json_string(w.zone));
		if (w.unmatched) {
			char shown[84];
			ical_clip(ical_tzid_of(ds), 80, shown, sizeof(shown));
			ical_note(warnings, "timezone",
			          "the file's time zone \"%s\" was not matched to an IANA zone: "
			          "the times are placed in %s, whose clock changes a series "
			          "follows, not the file's",
			          shown, w.zone);
		}
		json_object_set_new(ev, "start", json_string(w.local));
		json_object_set_new(ev, "all_day", json_boolean(w.all_day));
		read_end(x, ve, &w, ev, warnings);
		rrule = ical_read_rrule(ve, &w, errors, warnings);
		if (rp) {
			rid = read_rid(x, rp, errors, ridkey);
			char text[400];
			snprintf(text, sizeof(text), "override\n%s\n%s", uid, ridkey);
			if (derive(text, strlen(text), single) != 0)
				goto fail;
			icalparameter *range =
			    icalproperty_get_first_parameter(rp, ICAL_RANGE_PARAMETER);
			if (range)
				ical_note(
				    warnings, "recurrence_id",
				    "RANGE=THISANDFUTURE is not supported: this VEVENT changes "
				    "its one "
				    "occurrence");
			if (rrule || icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY) ||
			    icalcomponent_get_first_property(ve, ICAL_EXDATE_PROPERTY))
				ical_note(
				    warnings, "rrule",
				    "an override of one occurrence has no recurrence of its own: "
				    "its "
				    "RRULE, RDATE and EXDATE were dropped");
			free(rrule);
			rrule = NULL;
		} else {
			if (rrule)
				ical_fix_gap_start(&rrule, &w, ev, rd, warnings, x->budget);
			if (rrule)
				ical_fix_off_rule(&rrule, &w, ev, rd, warnings, x->budget);
			ical_read_rdates(x, ve, &w, event_duration(ev, &w), rd, periods);
			json_t *kept = ical_drop_rule_rdates(rrule, &w, rd, x->budget);
			if (kept) {
				json_decref(rd);
				rd = kept;
			}
			ical_read_exdates(x, ve, rrule, &w, rd, ex, warnings);
			ical_set_dates(ev, "rdates", rd, warnings);
			ical_set_dates(ev, "exdates", ex, warnings);
		}
		if (rrule)
			json_object_set_new(ev, "rrule", json_string(rrule));
	}
	const char *summary = icalcomponent_get_summary(ve);
	ical_set_text(ev, "title", summary, " ", MAX_TITLE, warnings);
	if (!json_object_get(ev, "title"))
		json_object_set_new(ev, "title", json_string("(no title)"));
	ical_set_text(ev, "description", icalcomponent_get_description(ve), NULL, MAX_DESCRIPTION,
	              warnings);
	ical_set_text(ev, "location", icalcomponent_get_location(ve), ", ", MAX_LOCATION, warnings);
	ical_read_url(ve, ev, warnings);
	enum icalproperty_status st =
	    x->cancel ? ICAL_STATUS_CANCELLED : icalcomponent_get_status(ve);
	json_object_set_new(ev, "status",
	                    json_string(st == ICAL_STATUS_CANCELLED   ? "cancelled"
	                                : st == ICAL_STATUS_TENTATIVE ? "tentative"
	                                                              : "confirmed"));
	/* RFC 5545: a class one does not know is treated as PRIVATE; of two
	 * CLASS properties, the more private wins. */
	for (icalproperty *cls = icalcomponent_get_first_property(ve, ICAL_CLASS_PROPERTY); cls;
	     cls = icalcomponent_get_next_property(ve, ICAL_CLASS_PROPERTY)) {
		enum icalproperty_class c = icalproperty_get_class(cls);
		if (c != ICAL_CLASS_PUBLIC && c != ICAL_CLASS_NONE)
			json_object_set_new(ev, "visibility", json_string("private"));
	}
	ical_read_categories(ve, ev, warnings);
	if (ds)
		ical_read_alarms(ve, event_duration(ev, &w), ev, warnings);
	ical_lic_errors(ve, warnings);
	ical_repair_notes(ve, warnings);
	m->sequence = icalcomponent_get_sequence(ve);
	/* One whose RECURRENCE-ID is unknown is nobody's duplicate: refused
	 * as itself, never dropped for (or in place of) its master. */
	if (!rid && (rp || rid_dropped))
		snprintf(ridkey, sizeof(ridkey), "?%zu", m->order);
	snprintf(m->key, sizeof(m->key), "%s\n%s", uid, ridkey);
	size_t i;
	json_t *p;
	json_array_foreach(periods, i, p)
	{
		const char *start = json_string_value(json_object_get(p, "start"));
		if (json_array_size(errors) || !ical_listed(rd, start) || ical_listed(ex, start))
			continue;
		ical_note(
		    warnings, "rdates",
		    "the RDATE period at %s ends at %s, not after the event's own length: that "
		    "occurrence is kept as an override with the period's end",
		    start, json_string_value(json_object_get(p, "end")));
		json_array_append_new(extra, period_override(uid, ev, p, m->sequence));
	}
	json_t *item = json_pack("{s:s, s:o, s:o, s:o, s:i}", "uid", uid, "event", ev, "errors",
	                         errors, "warnings", warnings, "sequence", m->sequence);
	if (item && rid) {
		json_object_set_new(item, "rid", rid);
		json_object_set_new(item, "single_uid", json_string(single));
		if (w.has_utc && !ical_tzid_of(ds))
			json_object_set_new(item, "utc_times", json_true());
	} else {
		json_decref(rid);
	}
	free(rrule);
	json_decref(rd);
	json_decref(ex);
	json_decref(periods);
	return item;
fail:
	free(rrule);
	json_decref(ev);
	json_decref(errors);
	json_decref(warnings);
	json_decref(rd);
	json_decref(ex);
	json_decref(periods);
	json_decref(rid);
	return NULL;
}

/* ---- the file ------------------------------------------------------------------------ */

static const char *calendar_zone(icalcomponent *cal, const char *org_tz, char *buf, size_t len)
{
	for (icalproperty *p = icalcomponent_get_first_property(cal, ICAL_X_PROPERTY); p;
	     p = icalcomponent_get_next_property(cal, ICAL_X_PROPERTY)) {
		const char *name = icalproperty_get_x_name(p);
		const char *v = icalproperty_get_x(p);
		if (name && v && !strcasecmp(name, "X-WR-TIMEZONE") &&
		    !ical_resolve_zone(v, buf, len))
			return buf;
	}
	return org_tz;
}

struct ranked {
	const char *key;
	size_t at;
};

struct rank_ctx {
	struct item_meta *meta;
	json_t *items;
};

static int by_key(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->at < y->at ? -1 : x->at > y->at;
}

/* Whether item i should be kept rather than item j of the same UID and
 * RECURRENCE-ID: one of the file's (not made of an RDATE period), then a
 * readable one, then the higher SEQUENCE, then the later. */
static int better(json_t *items, const struct item_meta *meta, size_t i, size_t j)
{
	if (meta[i].synthetic != meta[j].synthetic)
		return meta[i].synthetic < meta[j].synthetic; /* the file's own override */
	int ei = json_array_size(json_object_get(json_array_get(items, i), "errors")) == 0;
	int ej = json_array_size(json_object_get(json_array_get(items, j), "errors")) == 0;
	if (ei != ej)
		return ei > ej;
	if (meta[i].sequence != meta[j].sequence)
		return meta[i].sequence > meta[j].sequence;
	return meta[i].order > meta[j].order;
}

/* Keeps one VEVENT per UID and RECURRENCE-ID. */
static json_t *drop_duplicates(json_t *items, struct item_meta *meta)
{
	size_t n = json_array_size(items);
	struct ranked *r = calloc(n ? n : 1, sizeof(*r));
	char *drop = calloc(n ? n : 1, 1);
	json_t *out = json_array();
	if (!r || !drop || !out) {
		free(r);
		free(drop);
		json_decref(out);
		return json_incref(items);
	}
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){meta[i].key, i};
	qsort(r, n, sizeof(*r), by_key);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, best = r[i].at;
		while (j < n && !strcmp(r[j].key, r[i].key)) {
			if (better(items, meta, r[j].at, best))
				best = r[j].at;
			j++;
		}
		if (j - i > 1) {
			for (size_t k = i; k < j; k++)
				drop[r[k].at] = r[k].at != best;
			json_t *it = json_array_get(items, best);
			ical_note(
			    json_object_get(it, "warnings"), "uid",
			    "%zu VEVENTs of the file have this UID%s: the one with the highest "
			    "SEQUENCE "
			    "(the last of equals) was kept",
			    j - i, json_object_get(it, "rid") ? " and RECURRENCE-ID" : "");
		}
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			json_array_append(out, json_array_get(items, i));
	free(r);
	free(drop);
	return out;
}

/* An override that makes a timed occurrence all-day (Google does), or the
 * other way round, cannot be one in liaison: it is kept as an event of its
 * own (daemon/api/import.c). The occurrence it replaces is excluded from
 * its series here, where the file gives both, so that the day does not
 * show twice and importing the same file again finds nothing changed. */
static void exclude_retyped(json_t *items, struct recur_budget *b)
{
	json_t *masters = json_object();
	struct ical_walk *walk = ical_walk_new();
	size_t i;
	json_t *it;
	if (!masters || !walk) {
		json_decref(masters);
		ical_walk_free(walk);
		return;
	}
	json_array_foreach(items, i, it)
	{
		const char *uid = json_string_value(json_object_get(it, "uid"));
		if (uid && !json_object_get(it, "rid") &&
		    !json_array_size(json_object_get(it, "errors")))
			json_object_set(masters, uid, it);
	}
	json_array_foreach(items, i, it)
	{
		json_t *rid = json_object_get(it, "rid"), *ev = json_object_get(it, "event");
		json_t *master =
		    json_object_get(masters, json_string_value(json_object_get(it, "uid")));
		json_t *mev = json_object_get(master, "event");
		int all_day = json_is_true(json_object_get(mev, "all_day"));
		/* The occurrence, as the import will place the override. */
		struct ical_master m = {json_string_value(json_object_get(master, "uid")),
		                        json_string_value(json_object_get(mev, "timezone")),
		                        all_day,
		                        json_string_value(json_object_get(mev, "start")),
		                        json_string_value(json_object_get(mev, "rrule")),
		                        json_object_get(mev, "exdates"),
		                        json_object_get(mev, "rdates")};
		char occ[CIVIL_LEN];
		if (!rid || !master || json_is_true(json_object_get(it, "synthetic")) ||
		    json_array_size(json_object_get(it, "errors")) ||
		    json_is_true(json_object_get(ev, "all_day")) == all_day ||
		    ical_import_place_rid(&m, rid, all_day, occ, walk, b) != 0)
			continue;
		json_t *ex = json_object_get(mev, "exdates");
		if (!ex) {
			ex = json_array();
			if (!ex || json_object_set_new(mev, "exdates", ex))
				continue;
		}
		if (ical_listed(ex, occ))
			continue;
		if (json_array_size(ex) >= EVENT_MAX_DATES) {
			ical_note(
			    json_object_get(master, "warnings"), "exdates",
			    "the occurrence at %s is made %s by an override, and the series "
			    "has %d excluded dates already: it was not excluded",
			    occ, json_is_true(json_object_get(ev, "all_day")) ? "all-day" : "timed",
			    EVENT_MAX_DATES);
			continue;
		}
		if (json_array_append_new(ex, json_string(occ)))
			continue; /* out of memory: not excluded, and not said to be */
		ical_note(json_object_get(master, "warnings"), "exdates",
		          "the occurrence at %s is made %s by an override: it is excluded from the "
		          "series and the override kept as an event of its own",
		          occ, json_is_true(json_object_get(ev, "all_day")) ? "all-day" : "timed");
	}
	json_decref(masters);
	ical_walk_free(walk);
}

json_t *ical_import_parse_ex(const char *text, size_t len, const char *org_tz, int cp1252,
                             json_t *file_warnings, char *err, size_t errlen)
{
	const unsigned char *t = (const unsigned char *)text;
	if (len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF) {
		t += 3;
		len -= 3;
	}
	while (len && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')) {
		t++;
		len--;
	}
	if (memchr(t, '\0', len) || len < 15 ||
	    strncasecmp((const char *)t, "BEGIN:VCALENDAR", 15)) {
		snprintf(err, errlen, "not an iCalendar file (it must begin with BEGIN:VCALENDAR)");
		return NULL;
	}
	struct shaper *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cp1252 = cp1252;
	ical_shape_text(s, t, len);
	/* A calendar cut short still gives the VEVENTs it holds whole; one
	 * that has none, and no end, is not taken for a calendar. */
	if (s->out.oom || !s->calendars || (!s->ended && !s->events)) {
		snprintf(err, errlen,
		         s->out.oom ? "out of memory"
		                    : "not an iCalendar file: no VCALENDAR could be read");
		free(s->out.p);
		free(s);
		return NULL;
	}
	if (s->converted)
		ical_file_note(file_warnings, "charset",
		               "%zu lines were not UTF-8 and were read as Windows-1252",
		               s->converted);
	if (s->open_events)
		ical_file_note(file_warnings, "VEVENT",
		               "%zu VEVENTs without END:VEVENT (a cut file?) were dropped",
		               s->open_events);
	icalerror_clear_errno();
	icalcomponent *root = icalparser_parse_string(s->out.p);
	free(s->out.p);
	free(s);
	int calendars = 0;
	if (root)
		calendars = icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT
		                ? 1
		                : icalcomponent_count_components(root, ICAL_VCALENDAR_COMPONENT);
	if (!calendars) {
		snprintf(err, errlen, "not an iCalendar file: no VCALENDAR could be read");
		if (root)
			icalcomponent_free(root);
		return NULL;
	}
	json_t *items = json_array(), *extra = json_array();
	struct item_meta *meta = NULL;
	size_t n = 0, vevents = 0, skipped = 0, cap = 0;
	int oom = !items || !extra;
	struct ctx *x = calloc(1, sizeof(*x));
	struct recur_budget budget;
	recur_budget_init(&budget, ICAL_BUDGET_STEPS, ICAL_BUDGET_MS);
	int matches = 0;
	oom |= !x;
	for (icalcomponent *cal =
	         icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT
	             ? root
	             : icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
	     cal && !oom;
	     cal = cal == root ? NULL
	                       : icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT)) {
		memset(x, 0, sizeof(*x));
		ical_drop_bad_vtimezones(cal, file_warnings);
		x->cal = cal;
		x->budget = &budget;
		x->matches = &matches;
		x->default_tz = calendar_zone(cal, org_tz, x->default_buf, sizeof(x->default_buf));
		x->cancel = icalcomponent_get_method(cal) == ICAL_METHOD_CANCEL;
		for (icalcomponent *ve =
		         icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
		     ve && !oom;
		     ve = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
			if (vevents == ICAL_IMPORT_MAX_VEVENTS) {
				skipped++;
				continue;
			}
			vevents++;
			json_array_clear(extra);
			struct item_meta m = {.order = n};
			json_t *item = convert(x, ve, &m, extra);
			for (size_t i = 0; item && i <= json_array_size(extra); i++) {
				json_t *it = i ? json_array_get(extra, i - 1) : item;
				if (n == cap) {
					struct item_meta *bigger =
					    realloc(meta, (cap ? 2 * cap : 64) * sizeof(*bigger));
					if (!bigger)
						break;
					meta = bigger;
					cap = cap ? 2 * cap : 64;
				}
				meta[n] = m;
				meta[n].order = n;
				if (i) {
					meta[n].synthetic = 1;
					snprintf(meta[n].key, sizeof(meta[n].key), "%s\n@%lld",
					         json_string_value(json_object_get(it, "uid")),
					         (long long)json_integer_value(json_object_get(
					             json_object_get(it, "rid"), "utc")));
				}
				if (json_array_append(items, it))
					break;
				n++;
			}
			oom = !item || json_array_size(items) != n;
			json_decref(item);
		}
	}
	json_decref(extra);
	free(x);
	icalcomponent_free(root);
	if (oom) {
		free(meta);
		json_decref(items);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (skipped)
		ical_file_note(
		    file_warnings, "VEVENT",
		    "the file has %zu VEVENTs; only the first %d were read and %zu were skipped",
		    vevents + skipped, ICAL_IMPORT_MAX_VEVENTS, skipped);
	json_t *kept = drop_duplicates(items, meta);
	free(meta);
	json_decref(items);
	if (!kept)
		snprintf(err, errlen, "out of memory");
	else
		exclude_retyped(kept, &budget);
	return kept;
}

json_t *ical_import_parse(const char *text, size_t len, const char *org_tz, char *err,
                          size_t errlen)
{
	return ical_import_parse_ex(text, len, org_tz, 0, NULL, err, errlen);
}
