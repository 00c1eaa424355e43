/* ical_zones.c - the zones of an imported file (see ical_import.c): a
 * TZID as an IANA name, a prefixed one, a Windows name (ICU), or the IANA
 * zone whose offsets match the file's VTIMEZONE; and the VTIMEZONEs whose
 * observances would cost libical too much, refused before it expands them. */
#include "ical_int.h"

#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

/* ---- zones ----------------------------------------------------------------------- */

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
int ical_resolve_zone(const char *tzid, char *out, size_t len)
{
	if (tz_valid(tzid) && strlen(tzid) < len) {
		strcpy(out, tzid);
		return 0;
	}
	return tail_zone(tzid, out, len) == 0 ? 0 : windows_zone(tzid, out, len);
}

/* The offset from UTC of a file's VTIMEZONE at instant t. */
static int file_offset(icaltimezone *z, int64_t t)
{
	struct icaltimetype tt =
	    icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
	return icaltimezone_get_utc_offset_of_utc_time(z, &tt, NULL);
}

static int zone_offset(const char *zone, int64_t t, int *off)
{
	struct civil c;
	if (tz_from_utc(zone, t, &c) != TZ_OK)
		return -1;
	*off = (int)(civil_to_epoch(&c) - t);
	return 0;
}

/* Whether IANA zone agrees with the file's zone z over the three years
 * around instant at: every week, and every hour of a week in which either
 * changes its offset (so transitions must fall at the same hour). */
static int zone_agrees(icaltimezone *z, const char *zone, int64_t at)
{
	const int64_t week = 7 * 86400LL;
	int prev_mine = 0, prev_theirs = 0;
	for (int64_t t = at - 366 * 86400LL; t < at + 2 * 366 * 86400LL; t += week) {
		int mine = file_offset(z, t), theirs;
		if (zone_offset(zone, t, &theirs) || mine != theirs)
			return 0;
		if (t > at - 366 * 86400LL && (mine != prev_mine || theirs != prev_theirs))
			for (int64_t h = t - week + 3600; h < t; h += 3600)
				if (zone_offset(zone, h, &theirs) || file_offset(z, h) != theirs)
					return 0;
		prev_mine = mine;
		prev_theirs = theirs;
	}
	return 1;
}

/* The zone of the system's zone table (modern IANA names) that agrees
 * with the file's zone z around instant at. */
static int zone_from_table(icaltimezone *z, int64_t at, char *out, size_t len)
{
	FILE *f = fopen("/usr/share/zoneinfo/zone1970.tab", "r");
	if (!f)
		f = fopen("/usr/share/zoneinfo/zone.tab", "r");
	if (!f)
		return -1;
	char line[512];
	int want = file_offset(z, at), rc = -1;
	while (rc && fgets(line, sizeof(line), f)) {
		char *save = NULL, *name = NULL;
		int off;
		if (line[0] == '#' || !strtok_r(line, "\t\n", &save) ||
		    !strtok_r(NULL, "\t\n", &save) || !(name = strtok_r(NULL, "\t\n", &save)))
			continue;
		if (strlen(name) < len && tz_valid(name) && !zone_offset(name, at, &off) &&
		    off == want && zone_agrees(z, name, at)) {
			snprintf(out, len, "%s", name);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

/* A VTIMEZONE that names no zone we know (Outlook's "Customized Time
 * Zone", a made-up TZID): the IANA zone whose offsets agree with it around
 * the event: the one its X-LIC-LOCATION names, else the default zone,
 * else the first of the system's zone table; -1 when none does (the
 * time is then placed in the default zone through UTC). Remembered per
 * TZID. */
int ical_match_zone(struct ctx *x, const char *tzid, icaltimezone *z, int64_t at, char *out,
                    size_t len)
{
	for (int i = 0; i < x->nzones; i++)
		if (!strcmp(x->zones[i].tzid, tzid)) {
			snprintf(out, len, "%s", x->zones[i].iana);
			return out[0] ? 0 : -1;
		}
	char found[65] = "";
	if (*x->matches >= MAX_MATCHES)
		return -1;
	++*x->matches;
	const char *loc = icaltimezone_get_location(z);
	if (loc && !ical_resolve_zone(loc, found, sizeof(found)) && zone_agrees(z, found, at)) {
		/* found */
	} else if (zone_agrees(z, x->default_tz, at)) {
		snprintf(found, sizeof(found), "%s", x->default_tz);
	} else if (zone_from_table(z, at, found, sizeof(found))) {
		found[0] = '\0';
	}
	if (x->nzones < MAX_ZONES && strlen(tzid) < sizeof(x->zones[0].tzid)) {
		snprintf(x->zones[x->nzones].tzid, sizeof(x->zones[0].tzid), "%s", tzid);
		snprintf(x->zones[x->nzones].iana, sizeof(x->zones[0].iana), "%s", found);
		x->nzones++;
	}
	snprintf(out, len, "%s", found);
	return found[0] ? 0 : -1;
}

/* ---- VTIMEZONEs ----------------------------------------------------------------------- */

#define VTZ_MAX_RDATES 400

static int count_one(const struct civil *start, int64_t start_utc, void *arg)
{
	UNUSED(start);
	UNUSED(start_utc);
	return ++*(int *)arg > 4;
}

/* Why an observance of a VTIMEZONE cannot be used, or NULL. libical
 * expands every observance of a zone it is asked an offset of, from its
 * DTSTART to 2037 and beyond, and keeps every change in memory: an HOURLY
 * or MINUTELY rule from 1900 costs seconds and hundreds of MB. Real zones
 * change offset once or twice a year: an observance whose rule is not
 * yearly, gives more than a few changes in its first year, or lists too
 * many RDATEs, is not a real zone. */
static const char *observance_fault(icalcomponent *obs)
{
	int rdates = 0;
	for (icalproperty *p = icalcomponent_get_first_property(obs, ICAL_RDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(obs, ICAL_RDATE_PROPERTY))
		if (++rdates > VTZ_MAX_RDATES)
			return "lists more than 400 RDATEs";
	icalproperty *rp = icalcomponent_get_first_property(obs, ICAL_RRULE_PROPERTY);
	if (!rp)
		return NULL;
	if (icalcomponent_get_next_property(obs, ICAL_RRULE_PROPERTY))
		return "has more than one RRULE";
	struct icalrecurrencetype r = icalproperty_get_rrule(rp);
	if (r.freq != ICAL_YEARLY_RECURRENCE)
		return "repeats more often than yearly";
	icalproperty *dp = icalcomponent_get_first_property(obs, ICAL_DTSTART_PROPERTY);
	struct icaltimetype t = dp ? icalproperty_get_dtstart(dp) : icaltime_null_time();
	struct civil start;
	ical_civil_of(t, &start);
	/* How often a yearly rule changes the offset does not depend on the
	 * year: Outlook starts its observances in 1601. */
	start.year = 2000;
	if (start.month == 2 && start.day == 29)
		start.day = 28;
	char *rule = icalrecurrencetype_as_string_r(&r);
	struct recur_budget b;
	recur_budget_init(&b, 2000, 20);
	int n = 0;
	long got =
	    rule && ical_valid_civil(&start)
	        ? recur_expand_window(rule, "UTC", &start, 0, INT64_MIN,
	                              civil_to_epoch(&start) + 366LL * 86400, &b, count_one, &n)
	        : -1;
	free(rule);
	return got < 0 || n > 4 ? "changes its offset more than a few times a year" : NULL;
}

/* Drops the VTIMEZONEs of cal that are not real zones, before anything
 * asks libical for their offsets; events that use them are then refused
 * for an unknown zone, by name. */
void ical_drop_bad_vtimezones(icalcomponent *cal, json_t *file_warnings)
{
	icalcomponent *vtz = icalcomponent_get_first_component(cal, ICAL_VTIMEZONE_COMPONENT);
	while (vtz) {
		icalcomponent *next =
		    icalcomponent_get_next_component(cal, ICAL_VTIMEZONE_COMPONENT);
		const char *why = NULL;
		for (icalcomponent *obs =
		         icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT);
		     obs && !why; obs = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT))
			why = observance_fault(obs);
		if (why) {
			icalproperty *id =
			    icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
			char name[80];
			ical_clip(id ? icalproperty_get_tzid(id) : "", 64, name, sizeof(name));
			ical_file_note(
			    file_warnings, "VTIMEZONE",
			    "the VTIMEZONE \"%s\" %s, as no real zone does: it was ignored", name,
			    why);
			icalcomponent_remove_component(cal, vtz);
			icalcomponent_free(vtz);
		}
		vtz = next;
	}
}
