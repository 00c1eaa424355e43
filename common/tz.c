/* tz.c - zone name validation. libical and the C library both open zone
 * names as file paths, so a name must be proved harmless before either
 * sees it. */
#include "tz.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo/"

static int name_safe(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '/' || name[0] == '.' || name[n - 1] == '/')
		return 0;
	if (strstr(name, "..") || strstr(name, "//"))
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") ==
	       n;
}

int tz_valid(const char *name)
{
	if (!name || !name_safe(name))
		return 0;
	if (strcmp(name, "UTC") == 0)
		return 1;
	char path[sizeof(ZONEINFO) + 64];
	memcpy(path, ZONEINFO, sizeof(ZONEINFO) - 1);
	strcpy(path + sizeof(ZONEINFO) - 1, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* Debian links many zones (e.g. "UTC", "Etc/...") as symlinks. */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
	}
	char magic[4];
	ssize_t r = read(fd, magic, sizeof(magic));
	close(fd);
	return r == 4 && memcmp(magic, "TZif", 4) == 0;
}

/* ---- civil time ---------------------------------------------------------- */

#include <libical/ical.h>
#include <pthread.h>
#include <stdio.h>

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 ? 28 + leap : d[m - 1];
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int civil_parse(const char *s, int date_only, struct civil *c)
{
	size_t want = date_only ? 10 : 19;
	memset(c, 0, sizeof(*c));
	if (strlen(s) != want || s[4] != '-' || s[7] != '-' || digits(s, 4, &c->year) ||
	    digits(s + 5, 2, &c->month) || digits(s + 8, 2, &c->day))
		return -1;
	if (!date_only &&
	    (s[10] != 'T' || s[13] != ':' || s[16] != ':' || digits(s + 11, 2, &c->hour) ||
	     digits(s + 14, 2, &c->minute) || digits(s + 17, 2, &c->second)))
		return -1;
	/* Years before 1900 or after 2200 are typos, not delegation visits. */
	if (c->year < 1900 || c->year > 2200 || c->month < 1 || c->month > 12 || c->day < 1 ||
	    c->day > days_in_month(c->year, c->month) || c->hour > 23 || c->minute > 59 ||
	    c->second > 59)
		return -1;
	return 0;
}

void civil_format(const struct civil *c, int date_only, char out[CIVIL_LEN])
{
	if (date_only)
		snprintf(out, CIVIL_LEN, "%04u-%02u-%02u", (unsigned)c->year % 10000u,
		         (unsigned)c->month % 100u, (unsigned)c->day % 100u);
	else
		snprintf(out, CIVIL_LEN, "%04u-%02u-%02uT%02u:%02u:%02u",
		         (unsigned)c->year % 10000u, (unsigned)c->month % 100u,
		         (unsigned)c->day % 100u, (unsigned)c->hour % 100u,
		         (unsigned)c->minute % 100u, (unsigned)c->second % 100u);
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t civil_to_epoch(const struct civil *c)
{
	return days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
	       c->minute * 60 + c->second;
}

void civil_from_epoch(int64_t t, struct civil *c)
{
	int64_t z = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - z * 86400;
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = (int)(yoe + era * 400 + (c->month <= 2));
	c->hour = (int)(secs / 3600);
	c->minute = (int)(secs / 60 % 60);
	c->second = (int)(secs % 60);
}

void civil_add_days(struct civil *c, int days)
{
	struct civil t = *c;
	civil_from_epoch(civil_to_epoch(&t) + (int64_t)days * 86400, c);
}

/* ---- zones --------------------------------------------------------------- */

/* libical's builtin zone table and each zone's lazily expanded list of
 * transitions are shared and unlocked: every call into them is made under
 * this mutex. The calls are short (a binary search once expanded). */
static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

int tz_is_utc(const char *zone)
{
	return !strcmp(zone, "UTC") || !strcmp(zone, "Etc/UTC") || !strcmp(zone, "GMT") ||
	       !strcmp(zone, "Etc/GMT");
}

/* UTC offset in seconds at instant t. */
static int offset_at(icaltimezone *z, int64_t t)
{
	struct icaltimetype tt =
	    icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
	return icaltimezone_get_utc_offset_of_utc_time(z, &tt, NULL);
}

static icaltimezone *zone_get(const char *zone)
{
	if (!tz_valid(zone))
		return NULL;
	return icaltimezone_get_builtin_timezone(zone);
}

enum tz_result tz_to_utc(const char *zone, const struct civil *w, int64_t *utc)
{
	int64_t local = civil_to_epoch(w);
	if (tz_is_utc(zone)) {
		*utc = local;
		return TZ_OK;
	}
	pthread_mutex_lock(&zone_lock);
	icaltimezone *z = zone_get(zone);
	if (!z) {
		pthread_mutex_unlock(&zone_lock);
		return TZ_UNKNOWN;
	}
	/* The offsets in force a day either side bracket every real transition;
	 * an instant u is valid for this wall time when u + offset(u) == local. */
	int before = offset_at(z, local - 86400);
	int after = offset_at(z, local + 86400);
	int64_t best = INT64_MAX;
	const int cand[2] = {before, after};
	for (int i = 0; i < 2; i++) {
		int64_t u = local - cand[i];
		if (offset_at(z, u) == cand[i] && u < best)
			best = u;
	}
	pthread_mutex_unlock(&zone_lock);
	if (best == INT64_MAX) {
		*utc = local - before;
		return TZ_GAP;
	}
	*utc = best;
	return TZ_OK;
}

enum tz_result tz_from_utc(const char *zone, int64_t utc, struct civil *w)
{
	if (tz_is_utc(zone)) {
		civil_from_epoch(utc, w);
		return TZ_OK;
	}
	pthread_mutex_lock(&zone_lock);
	icaltimezone *z = zone_get(zone);
	int off = z ? offset_at(z, utc) : 0;
	pthread_mutex_unlock(&zone_lock);
	if (!z)
		return TZ_UNKNOWN;
	civil_from_epoch(utc + off, w);
	return TZ_OK;
}

/* libical's data for zones without DST ends in an observance at the 2^31
 * second (2038-01-19T03:14:07Z) that changes nothing (e.g. Asia/Ho_Chi_Minh
 * +0700 to +0700): a one-off observance, other than the first, whose
 * offsets are equal says nothing and is dropped. */
static void drop_no_op_observances(icalcomponent *vtz)
{
	icalcomponent *first = NULL;
	for (icalcomponent *c = icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT); c;
	     c = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT))
		if (!first || icaltime_compare(icalcomponent_get_dtstart(c),
		                               icalcomponent_get_dtstart(first)) < 0)
			first = c;
	icalcomponent *c = icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT);
	while (c) {
		icalcomponent *next = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT);
		icalproperty *from =
		    icalcomponent_get_first_property(c, ICAL_TZOFFSETFROM_PROPERTY);
		icalproperty *to = icalcomponent_get_first_property(c, ICAL_TZOFFSETTO_PROPERTY);
		if (c != first && from && to &&
		    !icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY) &&
		    !icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY) &&
		    icalproperty_get_tzoffsetfrom(from) == icalproperty_get_tzoffsetto(to)) {
			icalcomponent_remove_component(vtz, c);
			icalcomponent_free(c);
		}
		c = next;
	}
}

icalcomponent *tz_vtimezone(const char *zone)
{
	if (tz_is_utc(zone))
		return NULL;
	pthread_mutex_lock(&zone_lock);
	icaltimezone *z = zone_get(zone);
	icalcomponent *src = z ? icaltimezone_get_component(z) : NULL;
	icalcomponent *vtz = src ? icalcomponent_new_clone(src) : NULL;
	pthread_mutex_unlock(&zone_lock);
	if (!vtz)
		return NULL;
	/* The plain IANA name (libical's builtin zones carry a path prefix),
	 * and the rules from 1970 on in RRULE form, as Outlook expects. */
	icalproperty *p = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	if (p)
		icalproperty_set_tzid(p, zone);
	struct icaltimetype start = icaltime_null_time();
	start.year = 1970;
	start.month = 1;
	start.day = 1;
	icaltimezone_truncate_vtimezone(vtz, start, icaltime_null_time(), 1);
	drop_no_op_observances(vtz);
	return vtz;
}
