/* tz.c - zone names and conversions. Which names are zones is the tz
 * database's own list (tzdata.zi: its Zone and Link lines), read once;
 * without it, the TZif files of the zoneinfo directory, symbolic links
 * taken as links. Other files there are not zones and are refused:
 * "localtime" (the machine's setting), "posixrules", "Factory", the
 * posix/ and right/ copies. libical and the C library both open zone
 * names as file paths, so a name must also be proved harmless before
 * either sees it. */
#include "tz.h"

#include "tz_offsets.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo/"
/* tzdata 2025b has 598 names; the bound only stops a runaway file. */
#define TZ_MAX_NAMES 4000
#define TZ_MAX_DEPTH 3 /* America/Argentina/Buenos_Aires */
#define TZ_MAX_LINKS 8 /* a chain of links */

static int name_safe(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[0] == '.' || name[n - 1] == '/')
		return 0;
	if (strstr(name, "..") || strstr(name, "//"))
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") ==
	       n;
}

/* Files of the zoneinfo directory that are not zones of the tz database. */
static int not_a_zone(const char *name)
{
	return !strcmp(name, "localtime") || !strcmp(name, "posixrules") ||
	       !strcmp(name, "Factory") || !strncmp(name, "posix/", 6) ||
	       !strncmp(name, "right/", 6) || !strcmp(name, "posix") || !strcmp(name, "right");
}

/* UTC under its other names (Etc/UTC, Zulu, Etc/GMT, Greenwich...): one
 * name, the one the API has always used, since all are written with Z. */
static int utc_zone(const char *zone)
{
	return !strcmp(zone, "Etc/UTC") || !strcmp(zone, "Etc/GMT");
}

struct tzent {
	const char *name;
	const char *target;    /* while loading: a link's target; NULL for a zone */
	const char *canonical; /* the zone's name in the table, or "UTC" */
};

struct tztable {
	struct tzent *v;
	size_t n, cap;
};

static void table_free(struct tztable *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free((char *)t->v[i].name);
		free((char *)t->v[i].target);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Adds a zone (target NULL) or a link; names that are not safe or not
 * zones are skipped. -1 when out of memory. */
static int table_add(struct tztable *t, const char *name, const char *target)
{
	if (!name_safe(name) || not_a_zone(name) ||
	    (target && (!name_safe(target) || not_a_zone(target))) || t->n == TZ_MAX_NAMES)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 512;
		struct tzent *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	struct tzent *e = &t->v[t->n];
	e->name = strdup(name);
	e->target = target ? strdup(target) : NULL;
	e->canonical = NULL;
	if (!e->name || (target && !e->target)) {
		free((char *)e->name);
		free((char *)e->target);
		return -1;
	}
	t->n++;
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct tzent *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	/* A name listed twice: the zone before the link. */
	return c ? c : (x->target != NULL) - (y->target != NULL);
}

static int name_cmp(const void *key, const void *ent)
{
	return strcmp(key, ((const struct tzent *)ent)->name);
}

/* The first entry called name. */
static const struct tzent *table_find(const struct tztable *t, const char *name)
{
	const struct tzent *e = t->n ? bsearch(name, t->v, t->n, sizeof(*t->v), name_cmp) : NULL;
	while (e && e > t->v && !strcmp((e - 1)->name, name))
		e--;
	return e;
}

/* Sorts the table, follows links to their zone, and drops what names no
 * zone (a link to a missing name, a loop, a name listed twice). */
static void table_finish(struct tztable *t)
{
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), ent_cmp);
	for (size_t i = 0; i < t->n; i++) {
		struct tzent *e = &t->v[i];
		if (i > 0 && !strcmp(e->name, t->v[i - 1].name))
			continue;
		const struct tzent *z = e;
		/* The first of a name listed twice is its zone, if either is. */
		for (int hops = 0; z && z->target && hops < TZ_MAX_LINKS; hops++)
			z = table_find(t, z->target);
		if (z && !z->target)
			e->canonical = utc_zone(z->name) ? "UTC" : z->name;
	}
	size_t kept = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].canonical) {
			t->v[kept++] = t->v[i];
		} else {
			free((char *)t->v[i].name);
			free((char *)t->v[i].target);
		}
	}
	t->n = kept; /* canonical names point at strings that did not move */
}

/* tzdata.zi: "Z NAME ..." (or "Zone") and "L TARGET NAME" (or "Link");
 * rule lines and a zone's continuation lines are skipped. */
static int load_zi(struct tztable *t, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char line[256];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n') {
			int ch; /* a long line: its head is enough */
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
		}
		char *save = NULL, *kw = strtok_r(line, " \t\r\n", &save);
		if (!kw)
			continue;
		int zone = !strcmp(kw, "Z") || !strcmp(kw, "Zone");
		int link = !strcmp(kw, "L") || !strcmp(kw, "Link");
		char *a = zone || link ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		char *b = link && a ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		if (zone && a)
			rc = table_add(t, a, NULL);
		else if (link && b)
			rc = table_add(t, b, a);
	}
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

/* The name a symbolic link at dir/rel (rel ends with '/' or is "") points
 * to, relative to the zoneinfo directory root; -1 if it leaves it. */
static int link_name(const char *root, const char *rel, const char *path, char *out, size_t len)
{
	char to[PATH_MAX], joined[PATH_MAX];
	ssize_t n = readlink(path, to, sizeof(to) - 1);
	if (n <= 0)
		return -1;
	to[n] = '\0';
	size_t rootlen = strlen(root);
	if (to[0] == '/') {
		if (strncmp(to, root, rootlen))
			return -1;
		snprintf(joined, sizeof(joined), "%s", to + rootlen);
	} else if ((size_t)snprintf(joined, sizeof(joined), "%s%s", rel, to) >= sizeof(joined)) {
		return -1;
	}
	/* Resolves "." and ".." components. */
	size_t o = 0;
	char *save = NULL;
	for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (o == 0)
				return -1;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		size_t cl = strlen(c);
		if (o + (o > 0) + cl + 1 > len)
			return -1;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, c, cl);
		o += cl;
	}
	out[o] = '\0';
	return o ? 0 : -1;
}

static int is_tzif(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	char magic[4];
	ssize_t r = read(fd, magic, sizeof(magic));
	close(fd);
	return r == 4 && memcmp(magic, "TZif", 4) == 0;
}

/* Without tzdata.zi: the TZif files under root, links as links. */
static int load_dir(struct tztable *t, const char *root, const char *rel, int depth)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s%s", root, rel);
	DIR *d = opendir(dir);
	if (!d)
		return depth ? 0 : -1;
	int rc = 0;
	for (struct dirent *de = readdir(d); de && rc == 0; de = readdir(d)) {
		char name[TZ_NAME_MAX + 2], path[PATH_MAX], target[TZ_NAME_MAX + 1];
		struct stat st;
		if (de->d_name[0] == '.' ||
		    (size_t)snprintf(name, sizeof(name), "%s%s", rel, de->d_name) > TZ_NAME_MAX ||
		    !name_safe(name) || not_a_zone(name) ||
		    (size_t)snprintf(path, sizeof(path), "%s%s", root, name) >= sizeof(path) ||
		    lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode) && depth + 1 < TZ_MAX_DEPTH) {
			strcat(name, "/");
			rc = load_dir(t, root, name, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			if (!link_name(root, rel, path, target, sizeof(target)))
				rc = table_add(t, name, target);
		} else if (S_ISREG(st.st_mode) && is_tzif(path)) {
			rc = table_add(t, name, NULL);
		}
	}
	closedir(d);
	return rc;
}

static int table_load(struct tztable *t, const char *root, int from_zi)
{
	char zi[PATH_MAX];
	snprintf(zi, sizeof(zi), "%stzdata.zi", root);
	int rc = from_zi ? load_zi(t, zi) : load_dir(t, root, "", 0);
	if (rc == 0)
		table_finish(t);
	if (rc || t->n == 0) {
		table_free(t);
		return -1;
	}
	return 0;
}

static struct tztable zones;
static pthread_once_t zones_once = PTHREAD_ONCE_INIT;

static void zones_load(void)
{
	/* Without either, the table is empty: "UTC" alone is a zone. */
	if (table_load(&zones, ZONEINFO, 1))
		(void)table_load(&zones, ZONEINFO, 0);
}

const char *tz_canonical(const char *name)
{
	if (!name || !name_safe(name))
		return NULL;
	if (!strcmp(name, "UTC"))
		return "UTC";
	pthread_once(&zones_once, zones_load);
	const struct tzent *e = table_find(&zones, name);
	return e ? e->canonical : NULL;
}

int tz_valid(const char *name)
{
	return tz_canonical(name) != NULL;
}

long tz_table_each(const char *root, int from_zi,
                   void (*cb)(const char *name, const char *canonical, void *arg), void *arg)
{
	struct tztable t = {0};
	if (table_load(&t, root, from_zi))
		return -1;
	for (size_t i = 0; i < t.n; i++)
		cb(t.v[i].name, t.v[i].canonical, arg);
	long n = (long)t.n;
	table_free(&t);
	return n;
}

/* Names kept in rows written before zones were checked against the tz
 * database ("posix/Asia/Seoul"): still read, never accepted anew. */
static int legacy_zone(const char *name)
{
	char path[sizeof(ZONEINFO) + TZ_NAME_MAX];
	if (!name || !name_safe(name))
		return 0;
	snprintf(path, sizeof(path), "%s%s", ZONEINFO, name);
	char real[PATH_MAX];
	return realpath(path, real) && is_tzif(real);
}

/* ---- civil time ---------------------------------------------------------- */

#include <libical/ical.h>

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

/* The n last decimal digits of v at p. */
static void put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10u);
		v /= 10u;
	}
}

/* By hand, not with snprintf: a feed or a list formats two or more
 * times for every item it shows. */
size_t civil_write(const struct civil *c, int date_only, char *out)
{
	put_digits(out, (unsigned)c->year, 4);
	out[4] = '-';
	put_digits(out + 5, (unsigned)c->month, 2);
	out[7] = '-';
	put_digits(out + 8, (unsigned)c->day, 2);
	if (date_only)
		return 10;
	out[10] = 'T';
	put_digits(out + 11, (unsigned)c->hour, 2);
	out[13] = ':';
	put_digits(out + 14, (unsigned)c->minute, 2);
	out[16] = ':';
	put_digits(out + 17, (unsigned)c->second, 2);
	return 19;
}

void civil_format(const struct civil *c, int date_only, char out[CIVIL_LEN])
{
	out[civil_write(c, date_only, out)] = '\0';
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

/* What zone names: UTC (1), or a zone's offsets in *z (0; NULL when it
 * names none). The last names a thread resolved are remembered: callers
 * convert many times in a few zones (a feed's events alternate between
 * them), and finding a name costs more than converting with it. */
#define ZONES_KEPT 8
static int zone_resolve(const char *zone, struct tz_offsets **z)
{
	static _Thread_local struct {
		char name[TZ_NAME_MAX + 1];
		int utc;
		struct tz_offsets *z;
	} kept[ZONES_KEPT];
	static _Thread_local unsigned next;
	if (!zone) {
		*z = NULL;
		return 0;
	}
	for (int i = 0; i < ZONES_KEPT && kept[i].name[0]; i++)
		if (!strcmp(zone, kept[i].name)) {
			*z = kept[i].z;
			return kept[i].utc;
		}
	const char *c = tz_canonical(zone);
	if (!c && legacy_zone(zone))
		c = zone;
	int utc = c && !strcmp(c, "UTC");
	*z = c && !utc ? tz_offsets_of(c) : NULL;
	/* A name that is no zone is remembered too (tz_is_utc asks for any
	 * stored name, and legacy_zone looks at the disk); one whose offsets
	 * could not be made now is not. */
	if ((utc || *z || !c) && strlen(zone) <= TZ_NAME_MAX) {
		unsigned at = next++ % ZONES_KEPT;
		strcpy(kept[at].name, zone);
		kept[at].utc = utc;
		kept[at].z = *z;
	}
	return utc;
}

int tz_is_utc(const char *zone)
{
	struct tz_offsets *z;
	return zone_resolve(zone, &z);
}

static int offset_at(struct tz_offsets *z, int64_t t, int cached)
{
	return cached ? tz_offsets_at(z, t) : tz_offsets_at_uncached(z, t);
}

static enum tz_result to_utc(const char *zone, const struct civil *w, int64_t *utc, int cached)
{
	int64_t local = civil_to_epoch(w);
	struct tz_offsets *z;
	if (zone_resolve(zone, &z)) {
		*utc = local;
		return TZ_OK;
	}
	if (!z)
		return TZ_UNKNOWN;
	/* The offsets in force a day either side bracket every real transition;
	 * an instant u is valid for this wall time when u + offset(u) == local. */
	int before = offset_at(z, local - 86400, cached);
	int after = offset_at(z, local + 86400, cached);
	int64_t best = INT64_MAX;
	const int cand[2] = {before, after};
	for (int i = 0; i < 2; i++) {
		int64_t u = local - cand[i];
		if (offset_at(z, u, cached) == cand[i] && u < best)
			best = u;
	}
	if (best == INT64_MAX) {
		*utc = local - before;
		return TZ_GAP;
	}
	*utc = best;
	return TZ_OK;
}

static enum tz_result from_utc(const char *zone, int64_t utc, struct civil *w, int cached)
{
	struct tz_offsets *z;
	if (zone_resolve(zone, &z)) {
		civil_from_epoch(utc, w);
		return TZ_OK;
	}
	if (!z)
		return TZ_UNKNOWN;
	civil_from_epoch(utc + offset_at(z, utc, cached), w);
	return TZ_OK;
}

int tz_offset_constant(const char *zone, int64_t from, int64_t to)
{
	struct tz_offsets *z;
	if (zone_resolve(zone, &z))
		return 1;
	return z && tz_offsets_constant(z, from, to);
}

enum tz_result tz_to_utc(const char *zone, const struct civil *w, int64_t *utc)
{
	return to_utc(zone, w, utc, 1);
}

enum tz_result tz_from_utc(const char *zone, int64_t utc, struct civil *w)
{
	return from_utc(zone, utc, w, 1);
}

enum tz_result tz_to_utc_uncached(const char *zone, const struct civil *w, int64_t *utc)
{
	return to_utc(zone, w, utc, 0);
}

enum tz_result tz_from_utc_uncached(const char *zone, int64_t utc, struct civil *w)
{
	return from_utc(zone, utc, w, 0);
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
	struct tz_offsets *z;
	if (zone_resolve(zone, &z))
		return NULL;
	icalcomponent *vtz = z ? tz_offsets_vtimezone(z) : NULL;
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
