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
 *   SEQUENCE, the last of equals;
 * - TZIDs are resolved as IANA names, as prefixed IANA names, as Windows
 *   names (ICU's CLDR table), else through the file's own VTIMEZONE into
 *   the IANA zone whose offsets match it (the default zone first);
 * - a series whose DTSTART is not an instance of its rule (RFC 5545 counts
 *   DTSTART; libical skips it, other expanders add it to COUNT) starts at
 *   the rule's first instance, with DTSTART as an RDATE and COUNT one
 *   less, so that every client shows the same occurrences;
 * - a DATE EXDATE of a timed series excludes the occurrences of that day;
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

#include "event.h"
#include "recur.h"
#include "tz.h"
#include "macros.h"
#include "validate.h"

#include <ctype.h>
#include <libical/ical.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define MAX_TITLE       500
#define MAX_LOCATION    500
#define MAX_DESCRIPTION 20000
#define MAX_URL         2048
#define MAX_TAG         64
#define MAX_DEPTH       32
#define MAX_ZONES       16
/* Zones matched to a VTIMEZONE per file, whatever its number of calendars
 * (walking rules has its budget too: struct recur_budget). */
#define MAX_MATCHES    16
#define DERIVED_SUFFIX "@import.liaison"

/* ---- growing strings ------------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const void *s, size_t len)
{
	if (b->oom)
		return;
	if (len > SIZE_MAX / 4 - b->n) {
		b->oom = 1;
		return;
	}
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + len + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_cut(struct sbuf *b, size_t n)
{
	if (n < b->n) {
		b->n = n;
		b->p[n] = '\0';
	}
}

static const char *sb_text(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

/* ---- warnings and errors ------------------------------------------------------------ */

/* s cut to at most max bytes at a character boundary (s is UTF-8). */
static void clip(const char *s, size_t max, char *out, size_t outlen)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (n < max && n + 4 < outlen && p[n]) {
		size_t k = utf8_seq(p + n);
		if (!k || n + k > max)
			break;
		n += k;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

static void note(json_t *list, const char *field, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void note(json_t *list, const char *field, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

static void file_note(json_t *list, const char *field, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void file_note(json_t *list, const char *field, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	if (!list)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(
	    list, json_pack("{s:s, s:s, s:s}", "uid", "", "field", field, "message", msg));
}

/* ---- the text: encoding, line ends, folding, structure -------------------------------- */

/* Windows-1252 0x80-0x9F; the five bytes it leaves undefined become U+FFFD. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

static void add_cp1252(struct sbuf *b, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned u = s[i] < 0x80 ? s[i] : s[i] >= 0xA0 ? s[i] : cp1252_high[s[i] - 0x80];
		unsigned char e[3];
		size_t k = 1;
		if (u < 0x80) {
			e[0] = (unsigned char)u;
		} else if (u < 0x800) {
			e[0] = (unsigned char)(0xC0 | (u >> 6));
			e[1] = (unsigned char)(0x80 | (u & 0x3F));
			k = 2;
		} else {
			e[0] = (unsigned char)(0xE0 | (u >> 12));
			e[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
			e[2] = (unsigned char)(0x80 | (u & 0x3F));
			k = 3;
		}
		sb_add(b, e, k);
	}
}

/* s[0..n) is valid UTF-8 (s is NUL-terminated at n and has no NUL). */
static int utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(s + i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

struct shaper {
	struct sbuf out;
	json_t *warnings; /* the file's */
	int cp1252;       /* the whole text is Windows-1252 */
	size_t converted; /* lines read as Windows-1252 */
	char stack[MAX_DEPTH][32];
	int depth, too_deep;
	size_t event_at, alarm_at; /* where the open VEVENT, VALARM began in out */
	size_t open_events;        /* VEVENTs dropped for want of END:VEVENT */
	int calendars, ended;      /* VCALENDARs begun, and ended by END:VCALENDAR */
	size_t events;             /* VEVENTs ended by END:VEVENT */
};

/* "BEGIN:NAME" / "END:NAME": the name, upper-cased, in name. */
static int comp_line(const char *line, size_t n, const char *verb, char name[32])
{
	size_t vl = strlen(verb);
	if (n <= vl || strncasecmp(line, verb, vl) != 0)
		return 0;
	size_t k = n - vl;
	while (k && (line[vl + k - 1] == ' ' || line[vl + k - 1] == '\t'))
		k--;
	if (!k)
		return 0;
	if (k > 31)
		k = 31;
	for (size_t i = 0; i < k; i++)
		name[i] = (char)toupper((unsigned char)line[vl + i]);
	name[k] = '\0';
	return 1;
}

static const char *top(const struct shaper *s, int below)
{
	return s->depth > below ? s->stack[s->depth - 1 - below] : "";
}

static void emit(struct shaper *s, const char *line, size_t n)
{
	sb_add(&s->out, line, n);
	sb_add(&s->out, "\n", 1);
}

/* Closes the innermost component, which was left open. */
static void close_open(struct shaper *s)
{
	const char *name = top(s, 0);
	if (!strcmp(name, "VALARM") && !strcmp(top(s, 1), "VEVENT")) {
		sb_cut(&s->out, s->alarm_at);
		sb_str(&s->out,
		       "X-LIAISON-NOTE:reminders|a VALARM without END:VALARM was dropped\n");
	} else if (!strcmp(name, "VEVENT")) {
		sb_cut(&s->out, s->event_at);
		s->open_events++;
	} else {
		sb_str(&s->out, "END:");
		sb_str(&s->out, name);
		sb_str(&s->out, "\n");
	}
	s->depth--;
}

static void shape_line(struct shaper *s, const char *line, size_t n)
{
	char name[32];
	if (n == 0 || (n > 10 && !strncasecmp(line, "X-LIAISON-", 10)))
		return;
	if (comp_line(line, n, "BEGIN:", name)) {
		if (s->depth == 0 && strcmp(name, "VCALENDAR") != 0)
			return; /* outside any calendar */
		if (s->too_deep || s->depth == MAX_DEPTH) {
			s->too_deep++;
			return;
		}
		if (!strcmp(name, "VEVENT"))
			for (int i = 0; i < s->depth; i++)
				if (!strcmp(s->stack[i], "VEVENT")) {
					while (s->depth > i)
						close_open(s);
					break;
				}
		if (!strcmp(name, "VEVENT"))
			s->event_at = s->out.n;
		if (!strcmp(name, "VALARM") && !strcmp(top(s, 0), "VEVENT"))
			s->alarm_at = s->out.n;
		if (!strcmp(name, "VCALENDAR") && s->depth == 0)
			s->calendars++;
		memcpy(s->stack[s->depth++], name, sizeof(name));
		emit(s, line, n);
		return;
	}
	if (comp_line(line, n, "END:", name)) {
		if (s->too_deep) {
			s->too_deep--;
			return;
		}
		int at = s->depth - 1;
		while (at >= 0 && strcmp(s->stack[at], name) != 0)
			at--;
		if (at < 0)
			return; /* an END without its BEGIN */
		while (s->depth - 1 > at)
			close_open(s);
		s->depth--;
		s->ended += !strcmp(name, "VCALENDAR") && s->depth == 0;
		s->events += !strcmp(name, "VEVENT");
		emit(s, line, n);
		return;
	}
	if (s->depth > 0)
		emit(s, line, n);
}

/* One logical line (unfolded), in whatever encoding the file has. */
static void flush_line(struct shaper *s, struct sbuf *line)
{
	if (line->oom) {
		s->out.oom = 1;
		return;
	}
	const unsigned char *p = (const unsigned char *)sb_text(line);
	if (!s->cp1252 && utf8_valid(p, line->n)) {
		shape_line(s, (const char *)p, line->n);
		return;
	}
	struct sbuf conv = {0};
	add_cp1252(&conv, p, line->n);
	if (conv.oom)
		s->out.oom = 1;
	else
		shape_line(s, sb_text(&conv), conv.n);
	s->converted++;
	free(conv.p);
}

static int is_comp_line(const unsigned char *t, size_t n)
{
	return (n >= 6 && !strncasecmp((const char *)t, "BEGIN:", 6)) ||
	       (n >= 4 && !strncasecmp((const char *)t, "END:", 4));
}

/* Splits text into logical lines: CRLF, LF or CR end a line; a line that
 * starts with a space or tab continues the one before (RFC 5545 folding);
 * a line with no ':' at all inside a component is taken for a line of
 * text whose generator forgot to fold it, and continues the one before
 * after an escaped newline. */
static void shape_text(struct shaper *s, const unsigned char *t, size_t len)
{
	struct sbuf line = {0};
	int have = 0;
	for (size_t i = 0; i < len && !s->out.oom;) {
		size_t j = i;
		while (j < len && t[j] != '\r' && t[j] != '\n')
			j++;
		if (have && j > i && (t[i] == ' ' || t[i] == '\t')) {
			sb_add(&line, t + i + 1, j - i - 1);
		} else if (have && line.n && s->depth > 0 && j > i && !memchr(t + i, ':', j - i) &&
		           !is_comp_line(t + i, j - i) &&
		           !is_comp_line((const unsigned char *)line.p, line.n)) {
			sb_add(&line, "\\n", 2);
			sb_add(&line, t + i, j - i);
		} else if (j > i) {
			if (have)
				flush_line(s, &line);
			line.n = 0;
			sb_add(&line, t + i, j - i);
			have = 1;
		}
		if (j < len && t[j] == '\r')
			j++;
		if (j < len && t[j] == '\n')
			j++;
		i = j;
	}
	if (have)
		flush_line(s, &line);
	if (line.oom)
		s->out.oom = 1;
	free(line.p);
	while (s->depth > 0)
		close_open(s);
}

/* ---- zones ----------------------------------------------------------------------- */

struct zone_map {
	char tzid[128];
	char iana[65];
};

struct ctx {
	icalcomponent *cal;
	const char *default_tz;
	int cancel;                  /* METHOD:CANCEL: every VEVENT is cancelled (RFC 5546) */
	struct recur_budget *budget; /* the file's */
	int *matches;                /* VTIMEZONEs matched so far (MAX_MATCHES) */
	char default_buf[65];
	struct zone_map zones[MAX_ZONES]; /* VTIMEZONE-only TZIDs matched to IANA zones */
	int nzones;
};

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
static int match_zone(struct ctx *x, const char *tzid, icaltimezone *z, int64_t at, char *out,
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
	if (loc && !resolve_zone(loc, found, sizeof(found)) && zone_agrees(z, found, at)) {
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

/* ---- times ------------------------------------------------------------------------ */

struct when {
	char zone[65];
	int all_day;
	char local[CIVIL_LEN]; /* wall time in zone */
	struct civil c;
	int has_utc; /* zoned or UTC, not floating or a date */
	int64_t utc;
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

static int valid_civil(const struct civil *c)
{
	char s[CIVIL_LEN];
	struct civil back;
	if (c->year < 1 || c->year > 9999)
		return 0;
	civil_format(c, 0, s);
	return civil_parse(s, 0, &back) == 0;
}

static const char *tzid_of(icalproperty *p)
{
	icalparameter *tzp = p ? icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER) : NULL;
	const char *tzid = tzp ? icalparameter_get_tzid(tzp) : NULL;
	return tzid && *tzid ? tzid : NULL;
}

/* Reads a DTSTART-like property as local wall time in a zone we know. */
static int read_when(struct ctx *x, icalproperty *p, struct icaltimetype t, struct when *w,
                     const char *field, json_t *errors)
{
	struct civil c;
	char msg[200], shown[100];
	civil_of(t, &c);
	memset(w, 0, sizeof(*w));
	w->all_day = t.is_date;
	if (!valid_civil(&c)) {
		add_error(errors, field, "not a valid date or time");
		return -1;
	}
	const char *tzid = tzid_of(p);
	if (t.is_date || (!icaltime_is_utc(t) && !tzid)) {
		/* Dates and floating times are wall times of the default zone. */
		snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
	} else if (tzid && resolve_zone(tzid, w->zone, sizeof(w->zone)) == 0) {
		/* a zone we know by name: keep the wall time as written */
		w->has_utc = tz_to_utc(w->zone, &c, &w->utc) != TZ_UNKNOWN;
	} else {
		/* UTC, or a zone only the file's VTIMEZONE describes: through UTC. */
		if (tzid) {
			icaltimezone *z = icalcomponent_get_timezone(x->cal, tzid);
			if (!z) {
				clip(tzid, 80, shown, sizeof(shown));
				snprintf(msg, sizeof(msg), "unknown time zone \"%s\"", shown);
				add_error(errors, field, msg);
				return -1;
			}
			t.zone = z;
			civil_of(icaltime_convert_to_zone(t, icaltimezone_get_utc_timezone()), &c);
			w->utc = civil_to_epoch(&c);
			if (match_zone(x, tzid, z, w->utc, w->zone, sizeof(w->zone)))
				snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
		} else {
			w->utc = civil_to_epoch(&c);
			snprintf(w->zone, sizeof(w->zone), "%s", x->default_tz);
		}
		w->has_utc = 1;
		if (tz_from_utc(w->zone, w->utc, &c) != TZ_OK) {
			add_error(errors, field, "cannot place this time in the default zone");
			return -1;
		}
	}
	w->c = c;
	civil_format(&c, w->all_day, w->local);
	return 0;
}

/* Another time of the same event (EXDATE, RDATE, DTEND), restated in the
 * event's zone; a floating one is a wall time of the event's zone. */
static int restate(struct ctx *x, icalproperty *p, struct icaltimetype t, const struct when *ev,
                   char out[CIVIL_LEN])
{
	struct when w;
	json_t *ignored = json_array();
	int rc = ignored ? read_when(x, p, t, &w, "", ignored) : -1;
	json_decref(ignored);
	if (rc)
		return -1;
	struct civil c = w.c;
	int floating = !t.is_date && !icaltime_is_utc(t) && !tzid_of(p);
	if (strcmp(w.zone, ev->zone) != 0 && !w.all_day && !floating) {
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

static int64_t wall(const char *local, int all_day)
{
	struct civil c;
	return civil_parse(local, all_day, &c) ? INT64_MIN : civil_to_epoch(&c);
}

static void format_wall(int64_t t, int all_day, char out[CIVIL_LEN])
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

static char *read_rrule(icalcomponent *ve, const struct when *w, json_t *errors, json_t *warnings)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY);
	if (!p)
		return NULL;
	struct icalrecurrencetype r = icalproperty_get_rrule(p);
	normalise_until(&r, w);
	char *s = icalrecurrencetype_as_string_r(&r);
	char why[160];
	if (!s || recur_validate(s, w->all_day, why, sizeof(why))) {
		add_error(errors, "rrule", s ? why : "unreadable RRULE");
		free(s);
		return NULL;
	}
	for (icalproperty *q = icalcomponent_get_next_property(ve, ICAL_RRULE_PROPERTY); q;
	     q = icalcomponent_get_next_property(ve, ICAL_RRULE_PROPERTY)) {
		struct icalrecurrencetype r2 = icalproperty_get_rrule(q);
		normalise_until(&r2, w);
		char *s2 = icalrecurrencetype_as_string_r(&r2);
		if (!s2 || strcmp(s, s2) != 0)
			note(warnings, "rrule",
			     "a second, different RRULE was dropped (one rule per event)");
		free(s2);
	}
	if (icalcomponent_get_first_property(ve, ICAL_EXRULE_PROPERTY))
		note(warnings, "rrule", "EXRULE (deprecated by RFC 5545) was dropped");
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

/* A series whose DTSTART is not an instance of its rule: RFC 5545 counts
 * DTSTART as the first occurrence, libical skips it, other expanders count
 * it beside COUNT. Restated so that all agree with the RFC: the series
 * starts at the rule's first instance, DTSTART becomes an RDATE, COUNT
 * is one less (COUNT=1: DTSTART alone, no rule). */
static void fix_off_rule(char **rrule, struct when *w, json_t *ev, json_t *extra_rdates,
                         json_t *warnings, struct recur_budget *b)
{
	struct civil first = {0};
	int rc = rule_first(*rrule, w, &first, b);
	if (rc == 1)
		return;
	if (rc == -2) {
		note(warnings, "rrule",
		     "the file's rules took too long to check that DTSTART is an instance of "
		     "this one: kept as written");
		return;
	}
	struct icalrecurrencetype r = icalrecurrencetype_from_string(*rrule);
	if (rc < 0 || r.count == 1) {
		note(
		    warnings, "rrule",
		    "DTSTART %s is not an instance of the rule %s, which gives no other occurrence "
		    "(RFC 5545 counts DTSTART as the first): kept as a single event at DTSTART",
		    w->local, *rrule);
		free(*rrule);
		*rrule = NULL;
		return;
	}
	char was[CIVIL_LEN], now[CIVIL_LEN];
	memcpy(was, w->local, sizeof(was));
	civil_format(&first, w->all_day, now);
	const char *end = json_string_value(json_object_get(ev, "end"));
	if (end) {
		int64_t dur = wall(end, w->all_day) - wall(was, w->all_day);
		char e[CIVIL_LEN];
		format_wall(civil_to_epoch(&first) + dur, w->all_day, e);
		json_object_set_new(ev, "end", json_string(e));
	}
	w->c = first;
	memcpy(w->local, now, sizeof(w->local));
	json_object_set_new(ev, "start", json_string(now));
	json_array_append_new(extra_rdates, json_string(was));
	if (r.count > 1) {
		r.count--;
		char *s = icalrecurrencetype_as_string_r(&r);
		if (s) {
			free(*rrule);
			*rrule = s;
		}
	}
	note(warnings, "rrule",
	     "DTSTART %s is not an instance of its rule: the series starts at the rule's first "
	     "instance, %s, with DTSTART as an RDATE%s, so that every calendar shows the "
	     "occurrences RFC 5545 defines",
	     was, now, r.count > 0 ? " and COUNT one less" : "");
}

struct day_probe {
	const char **days; /* sorted "YYYY-MM-DD" */
	size_t n;
	json_t *hits;
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
		civil_format(start, 0, s);
		json_array_append_new(d->hits, json_string(s));
	}
	return 0;
}

/* The occurrences (rule and DTSTART) of a timed series on the days given
 * (sorted dates); -1 when the budget ran out before the last day. */
static int occurrences_on(const char *rrule, const char *zone, const struct civil *start,
                          const char **days, size_t n, json_t *hits, struct recur_budget *b)
{
	struct day_probe d = {days, n, hits};
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
static json_t *drop_rule_rdates(const char *rrule, const struct when *w, json_t *rdates,
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
	(void)walk_rule(rrule, w->zone, &w->c, w->all_day, wall(sorted[n - 1], w->all_day),
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

static int listed(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (!strcmp(json_string_value(v), s)) return 1;
	return 0;
}

/* RDATEs, restated in the event's zone. A PERIOD whose length is not the
 * event's goes to periods too ({"start", "end", "utc"}), to become an
 * override of that occurrence with its own end. */
static void read_rdates(struct ctx *x, icalcomponent *ve, const struct when *w, int64_t dur,
                        json_t *rd, json_t *periods)
{
	char out[CIVIL_LEN];
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY);
	     p && json_array_size(rd) <= EVENT_MAX_DATES;
	     p = icalcomponent_get_next_property(ve, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype d = icalproperty_get_rdate(p);
		int period = icaltime_is_null_time(d.time);
		struct icaltimetype t = period ? d.period.start : d.time;
		if (icaltime_is_null_time(t) || restate(x, p, t, w, out))
			continue; /* libical named it (X-LIC-ERROR) */
		if (!listed(rd, out))
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

static void read_exdates(struct ctx *x, icalcomponent *ve, const char *rrule, const struct when *w,
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
			civil_of(t, &day);
			civil_format(&day, 1, out);
			if (json_array_size(days) <= EVENT_MAX_DATES)
				json_array_append_new(days, json_string(out));
		} else if (restate(x, p, t, w, out)) {
			note(warnings, "exdates", "an EXDATE that could not be read was dropped");
		} else if (!listed(ex, out)) {
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
			note(warnings, "exdates",
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
		json_array_foreach(hits, i, v) if (!listed(ex, json_string_value(v)))
		    json_array_append(ex, v);
	}
	free(sorted);
	json_decref(hits);
	json_decref(days);
}

static void set_dates(json_t *ev, const char *key, json_t *a, json_t *warnings)
{
	if (json_array_size(a) > EVENT_MAX_DATES) {
		note(warnings, key, "%zu dates given; the first %d were kept", json_array_size(a),
		     EVENT_MAX_DATES);
		while (json_array_size(a) > EVENT_MAX_DATES)
			json_array_remove(a, json_array_size(a) - 1);
	}
	if (json_array_size(a))
		json_object_set(ev, key, a);
}

/* ---- text properties --------------------------------------------------------------- */

/* s without control characters (newlines become nl, or are kept when nl is
 * NULL; the others become spaces), trimmed, at most max bytes (cut at a
 * character boundary). Returns 1 when it had to cut. */
static int clean_text(const char *s, const char *nl, size_t max, int trim, struct sbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	if (trim)
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
	int cut = 0;
	while (*p) {
		size_t k = utf8_seq(p);
		const char *add = (const char *)p;
		size_t addlen = k;
		if (!k) {
			add = "\xEF\xBF\xBD";
			addlen = 3;
			k = 1;
		} else if (*p == '\r' && p[1] == '\n') {
			add = "";
			addlen = 0;
		} else if (*p == '\n' || *p == '\r') {
			add = nl ? nl : "\n";
			addlen = strlen(add);
		} else if (*p < 0x20 || *p == 0x7F) {
			add = " ";
			addlen = 1;
		}
		if (out->n + addlen > max) {
			cut = 1;
			break;
		}
		sb_add(out, add, addlen);
		p += k;
	}
	if (trim)
		while (out->n && strchr(" \t\n,", out->p[out->n - 1]))
			sb_cut(out, out->n - 1);
	return cut;
}

static void set_text(json_t *ev, const char *key, const char *v, const char *nl, size_t max,
                     json_t *warnings)
{
	if (!v || !*v)
		return;
	struct sbuf b = {0};
	if (clean_text(v, nl, max, nl != NULL, &b))
		note(warnings, key, "longer than %zu bytes: cut there", max);
	if (b.n && !b.oom)
		json_object_set_new(ev, key, json_string(b.p));
	free(b.p);
}

static void read_url(icalcomponent *ve, json_t *ev, json_t *warnings)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_URL_PROPERTY);
	const char *v = p ? icalproperty_get_url(p) : NULL;
	if (!v)
		return;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!*v)
		return;
	char shown[100];
	clip(v, 80, shown, sizeof(shown));
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	int scheme = !strncasecmp(v, "https://", 8) ? 8 : !strncasecmp(v, "http://", 7) ? 7 : 0;
	int bad = !scheme || n > MAX_URL || n == (size_t)scheme;
	for (size_t i = 0; i < n && !bad; i++)
		if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7F || strchr("<>\"\\", v[i]))
			bad = 1;
	if (bad) {
		note(warnings, "url", "\"%s\" is not an absolute http or https URL: dropped",
		     shown);
		return;
	}
	char *url = strndup(v, n);
	if (!url)
		return;
	for (int i = 0; i < scheme; i++)
		url[i] = (char)tolower((unsigned char)url[i]);
	json_object_set_new(ev, "url", json_string(url));
	free(url);
}

/* CATEGORIES give tags, and the kind when one names a kind. */
static void read_categories(icalcomponent *ve, json_t *ev, json_t *warnings)
{
	static const char *const kinds[] = {"visit", "festival", "deadline", "meeting"};
	json_t *tags = json_array();
	const char *kind = "meeting";
	int dropped = 0, too_many = 0;
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_CATEGORIES_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_CATEGORIES_PROPERTY)) {
		const char *all = icalproperty_get_categories(p);
		char *copy = all ? strdup(all) : NULL;
		char *save = NULL;
		for (char *c = copy ? strtok_r(copy, ",", &save) : NULL; c;
		     c = strtok_r(NULL, ",", &save)) {
			struct sbuf b = {0};
			(void)clean_text(c, " ", 4 * MAX_TAG, 1, &b);
			const char *tag = sb_text(&b);
			int is_kind = 0;
			for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
				if (!strcasecmp(tag, kinds[i])) {
					kind = kinds[i];
					is_kind = 1;
				}
			if (is_kind || !*tag) {
				/* a kind, or an empty category */
			} else if (b.oom || !valid_text(tag, MAX_TAG, 0)) {
				dropped++;
			} else if (json_array_size(tags) >= EVENT_MAX_LIST) {
				too_many++;
			} else if (!listed(tags, tag)) {
				json_array_append_new(tags, json_string(tag));
			}
			free(b.p);
		}
		free(copy);
	}
	if (dropped)
		note(warnings, "tags", "dropped %d categories longer than %d bytes", dropped,
		     MAX_TAG);
	if (too_many)
		note(warnings, "tags", "dropped %d categories past the first %d", too_many,
		     EVENT_MAX_LIST);
	json_object_set_new(ev, "kind", json_string(kind));
	if (json_array_size(tags))
		json_object_set(ev, "tags", tags);
	json_decref(tags);
}

static int has_lic_error(icalcomponent *c)
{
	return icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY) != NULL;
}

static void read_alarms(icalcomponent *ve, int64_t dur, json_t *ev, json_t *warnings)
{
	json_t *rem = json_array();
	int after = 0, fixed = 0, far = 0, many = 0, broken = 0;
	for (icalcomponent *a = icalcomponent_get_first_component(ve, ICAL_VALARM_COMPONENT); a;
	     a = icalcomponent_get_next_component(ve, ICAL_VALARM_COMPONENT)) {
		icalproperty *act = icalcomponent_get_first_property(a, ICAL_ACTION_PROPERTY);
		const char *action = act ? icalproperty_get_value_as_string(act) : NULL;
		if (action && !strcasecmp(action, "NONE"))
			continue; /* Apple's way of saying "no alarm" */
		icalproperty *p = icalcomponent_get_first_property(a, ICAL_TRIGGER_PROPERTY);
		if (!p) {
			broken += !has_lic_error(a); /* else its X-LIC-ERROR is named */
			continue;
		}
		struct icaltriggertype tr = icalproperty_get_trigger(p);
		if (!icaltime_is_null_time(tr.time)) {
			fixed++;
			continue;
		}
		int64_t secs = icaldurationtype_as_int(tr.duration);
		icalparameter *rel = icalproperty_get_first_parameter(p, ICAL_RELATED_PARAMETER);
		if (rel && icalparameter_get_related(rel) == ICAL_RELATED_END)
			secs += dur; /* our reminders count from the start */
		if (secs > 0) {
			after++;
			continue;
		}
		if (secs < -400LL * 86400) {
			far++;
			continue;
		}
		char *s = icaldurationtype_as_ical_string_r(icaldurationtype_from_int((int)secs));
		int64_t check;
		if (!s || ical_duration_parse(s, &check)) {
			broken++;
		} else if (!listed(rem, s)) {
			if (json_array_size(rem) >= EVENT_MAX_REMINDERS)
				many++;
			else
				json_array_append_new(rem, json_string(s));
		}
		free(s);
	}
	if (broken)
		note(warnings, "reminders", "dropped %d VALARM(s) without a readable TRIGGER",
		     broken);
	if (fixed)
		note(warnings, "reminders",
		     "dropped %d VALARM(s) at a fixed time: reminders count from the start", fixed);
	if (after)
		note(warnings, "reminders", "dropped %d VALARM(s) that ring after the start",
		     after);
	if (far)
		note(warnings, "reminders", "dropped %d VALARM(s) more than 400 days before", far);
	if (many)
		note(warnings, "reminders", "dropped %d VALARM(s) past the first %d", many,
		     EVENT_MAX_REMINDERS);
	if (json_array_size(rem))
		json_object_set(ev, "reminders", rem);
	json_decref(rem);
}

/* libical replaces what it cannot parse by X-LIC-ERROR properties; those
 * about properties we read become warnings (an empty property is the
 * same as none and is not named). */
static void lic_errors(icalcomponent *c, json_t *warnings)
{
	static const char *const props[][2] = {
	    {"SUMMARY", "title"},     {"DESCRIPTION", "description"},
	    {"LOCATION", "location"}, {"URL", "url"},
	    {"CATEGORIES", "tags"},   {"DTSTART", "start"},
	    {"DTEND", "end"},         {"DURATION", "end"},
	    {"RRULE", "rrule"},       {"EXDATE", "exdates"},
	    {"RDATE", "rdates"},      {"RECURRENCE-ID", "recurrence_id"},
	    {"STATUS", "status"},     {"CLASS", "visibility"},
	    {"UID", "uid"},           {"TRIGGER", "reminders"},
	    {"ACTION", "reminders"}};
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
		const char *msg = icalproperty_get_xlicerror(p);
		if (!msg || !strncmp(msg, "No value for", 12))
			continue;
		for (size_t i = 0; i < ARRAY_LEN(props); i++) {
			char a[40], b[40];
			snprintf(a, sizeof(a), "%s property", props[i][0]);
			snprintf(b, sizeof(b), "property %s", props[i][0]);
			if (strstr(msg, a) || strstr(msg, b)) {
				char shown[200];
				clip(msg, 160, shown, sizeof(shown));
				icalparameter *t = icalproperty_get_first_parameter(
				    p, ICAL_XLICERRORTYPE_PARAMETER);
				int kept = t && icalparameter_get_xlicerrortype(t) ==
				                    ICAL_XLICERRORTYPE_PARAMETERVALUEPARSEERROR;
				note(warnings, props[i][1], "%s: %s",
				     kept ? "read with its default value type" : "dropped", shown);
				break;
			}
		}
	}
	for (icalcomponent *a = icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT); a;
	     a = icalcomponent_get_next_component(c, ICAL_VALARM_COMPONENT))
		lic_errors(a, warnings);
}

/* What the text's repairs noted inside this VEVENT. */
static void repair_notes(icalcomponent *ve, json_t *warnings)
{
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_X_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_X_PROPERTY)) {
		const char *name = icalproperty_get_x_name(p);
		const char *v = icalproperty_get_x(p);
		const char *bar = v ? strchr(v, '|') : NULL;
		if (name && bar && !strcasecmp(name, "X-LIAISON-NOTE")) {
			char field[32];
			snprintf(field, sizeof(field), "%.*s", (int)(bar - v < 31 ? bar - v : 31),
			         v);
			note(warnings, field, "%s", bar + 1);
		}
	}
}

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
	sb_str(&b, "vevent\n");
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		for (icalproperty *p = icalcomponent_get_first_property(ve, kinds[i]); p;
		     p = icalcomponent_get_next_property(ve, kinds[i])) {
			const char *name = icalproperty_get_property_name(p);
			const char *tzid = tzid_of(p);
			const char *value = icalproperty_get_value_as_string(p);
			sb_str(&b, name ? name : "?");
			sb_str(&b, ";");
			sb_str(&b, tzid ? tzid : "");
			sb_str(&b, ":");
			sb_str(&b, value ? value : "");
			sb_str(&b, "\n");
		}
	int rc = b.oom ? -1 : derive(sb_text(&b), b.n, out);
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
		add_error(errors, "recurrence_id", "RECURRENCE-ID could not be read");
		return NULL;
	}
	if (read_when(x, rp, t, &w, "recurrence_id", errors))
		return NULL;
	struct civil c;
	char written[CIVIL_LEN];
	civil_of(t, &c);
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
	int64_t d = wall(end, w->all_day) - wall(w->local, w->all_day);
	return d < 0 ? 0 : d;
}

static void read_end(struct ctx *x, icalcomponent *ve, const struct when *w, json_t *ev,
                     json_t *warnings)
{
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_DTEND_PROPERTY);
	icalproperty *d = icalcomponent_get_first_property(ve, ICAL_DURATION_PROPERTY);
	char out[CIVIL_LEN];
	int64_t s = wall(w->local, w->all_day), e;
	if (p) {
		if (restate(x, p, icalproperty_get_dtend(p), w, out) ||
		    (e = wall(out, w->all_day)) == INT64_MIN) {
			note(warnings, "end", "DTEND could not be read: dropped");
			return;
		}
	} else if (d) {
		e = s + icaldurationtype_as_int(icalproperty_get_duration(d));
		if (w->all_day && e > 0)
			e -= e % 86400; /* whole days */
	} else {
		return;
	}
	/* An all-day end on the start day (DTEND = DTSTART) means the one day. */
	if (w->all_day && e == s)
		return;
	if (e < s) {
		note(warnings, "end", "the end is before the start: dropped");
		return;
	}
	format_wall(e, w->all_day, out);
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
		note(warnings, "uid",
		     had ? "the UID is not 1-255 bytes of text: one was derived from it"
		         : "the VEVENT has no UID: one was derived from its content (DTSTART, "
		           "SUMMARY, RRULE, ...), so importing the same file again finds it");
		uid = derived;
	}
	icalproperty *ds = icalcomponent_get_first_property(ve, ICAL_DTSTART_PROPERTY);
	icalproperty *rp = icalcomponent_get_first_property(ve, ICAL_RECURRENCEID_PROPERTY);
	struct when w;
	memset(&w, 0, sizeof(w));
	if (!ds) {
		add_error(errors, "start",
		          "the VEVENT has no DTSTART (or one that could not be read)");
	} else if (!read_when(x, ds, icalproperty_get_dtstart(ds), &w, "start", errors)) {
		json_object_set_new(ev, "timezone", json_string(w.zone));
		json_object_set_new(ev, "start", json_string(w.local));
		json_object_set_new(ev, "all_day", json_boolean(w.all_day));
		read_end(x, ve, &w, ev, warnings);
		rrule = read_rrule(ve, &w, errors, warnings);
		if (rp) {
			rid = read_rid(x, rp, errors, ridkey);
			char text[400];
			snprintf(text, sizeof(text), "override\n%s\n%s", uid, ridkey);
			if (derive(text, strlen(text), single) != 0)
				goto fail;
			icalparameter *range =
			    icalproperty_get_first_parameter(rp, ICAL_RANGE_PARAMETER);
			if (range)
				note(warnings, "recurrence_id",
				     "RANGE=THISANDFUTURE is not supported: this VEVENT changes "
				     "its one "
				     "occurrence");
			if (rrule || icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY) ||
			    icalcomponent_get_first_property(ve, ICAL_EXDATE_PROPERTY))
				note(warnings, "rrule",
				     "an override of one occurrence has no recurrence of its own: "
				     "its "
				     "RRULE, RDATE and EXDATE were dropped");
			free(rrule);
			rrule = NULL;
		} else {
			if (rrule)
				fix_off_rule(&rrule, &w, ev, rd, warnings, x->budget);
			read_rdates(x, ve, &w, event_duration(ev, &w), rd, periods);
			json_t *kept = drop_rule_rdates(rrule, &w, rd, x->budget);
			if (kept) {
				json_decref(rd);
				rd = kept;
			}
			read_exdates(x, ve, rrule, &w, rd, ex, warnings);
			set_dates(ev, "rdates", rd, warnings);
			set_dates(ev, "exdates", ex, warnings);
		}
		if (rrule)
			json_object_set_new(ev, "rrule", json_string(rrule));
	}
	const char *summary = icalcomponent_get_summary(ve);
	set_text(ev, "title", summary, " ", MAX_TITLE, warnings);
	if (!json_object_get(ev, "title"))
		json_object_set_new(ev, "title", json_string("(no title)"));
	set_text(ev, "description", icalcomponent_get_description(ve), NULL, MAX_DESCRIPTION,
	         warnings);
	set_text(ev, "location", icalcomponent_get_location(ve), ", ", MAX_LOCATION, warnings);
	read_url(ve, ev, warnings);
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
	read_categories(ve, ev, warnings);
	if (ds)
		read_alarms(ve, event_duration(ev, &w), ev, warnings);
	lic_errors(ve, warnings);
	repair_notes(ve, warnings);
	m->sequence = icalcomponent_get_sequence(ve);
	snprintf(m->key, sizeof(m->key), "%s\n%s", uid, ridkey);
	size_t i;
	json_t *p;
	json_array_foreach(periods, i, p)
	{
		const char *start = json_string_value(json_object_get(p, "start"));
		if (json_array_size(errors) || !listed(rd, start) || listed(ex, start))
			continue;
		note(warnings, "rdates",
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
		if (w.has_utc && !tzid_of(ds))
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
		if (name && v && !strcasecmp(name, "X-WR-TIMEZONE") && !resolve_zone(v, buf, len))
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
			note(json_object_get(it, "warnings"), "uid",
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
	civil_of(t, &start);
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
	    rule && valid_civil(&start)
	        ? recur_expand_window(rule, "UTC", &start, 0, INT64_MIN,
	                              civil_to_epoch(&start) + 366LL * 86400, &b, count_one, &n)
	        : -1;
	free(rule);
	return got < 0 || n > 4 ? "changes its offset more than a few times a year" : NULL;
}

/* Drops the VTIMEZONEs of cal that are not real zones, before anything
 * asks libical for their offsets; events that use them are then refused
 * for an unknown zone, by name. */
static void drop_bad_vtimezones(icalcomponent *cal, json_t *file_warnings)
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
			clip(id ? icalproperty_get_tzid(id) : "", 64, name, sizeof(name));
			file_note(file_warnings, "VTIMEZONE",
			          "the VTIMEZONE \"%s\" %s, as no real zone does: it was ignored",
			          name, why);
			icalcomponent_remove_component(cal, vtz);
			icalcomponent_free(vtz);
		}
		vtz = next;
	}
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
	shape_text(s, t, len);
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
		file_note(file_warnings, "charset",
		          "%zu lines were not UTF-8 and were read as Windows-1252", s->converted);
	if (s->open_events)
		file_note(file_warnings, "VEVENT",
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
		drop_bad_vtimezones(cal, file_warnings);
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
		file_note(
		    file_warnings, "VEVENT",
		    "the file has %zu VEVENTs; only the first %d were read and %zu were skipped",
		    vevents + skipped, ICAL_IMPORT_MAX_VEVENTS, skipped);
	json_t *kept = drop_duplicates(items, meta);
	free(meta);
	json_decref(items);
	if (!kept)
		snprintf(err, errlen, "out of memory");
	return kept;
}

json_t *ical_import_parse(const char *text, size_t len, const char *org_tz, char *err,
                          size_t errlen)
{
	return ical_import_parse_ex(text, len, org_tz, 0, NULL, err, errlen);
}

/* ---- overrides ------------------------------------------------------------------------ */

struct ical_walk {
	char id[64];
	struct recur_walk *it;
	int64_t *walls; /* wall times (as seconds) walked so far, ascending */
	size_t n, cap;
	int done;
};

struct ical_walk *ical_walk_new(void)
{
	return calloc(1, sizeof(struct ical_walk));
}

static void walk_reset(struct ical_walk *w)
{
	recur_walk_free(w->it);
	w->it = NULL;
	w->n = 0;
	w->done = 0;
	w->id[0] = '\0';
}

void ical_walk_free(struct ical_walk *w)
{
	if (!w)
		return;
	walk_reset(w);
	free(w->walls);
	free(w);
}

static int walk_push(struct ical_walk *w, int64_t t)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		int64_t *bigger = realloc(w->walls, cap * sizeof(*bigger));
		if (!bigger)
			return -1;
		w->walls = bigger;
		w->cap = cap;
	}
	w->walls[w->n++] = t;
	return 0;
}

/* Starts walking m (unless w walks it already). */
static int walk_start(struct ical_walk *w, const struct ical_master *m, const struct civil *start)
{
	if (w->id[0] && m->id && !strcmp(w->id, m->id))
		return 0;
	walk_reset(w);
	snprintf(w->id, sizeof(w->id), "%s", m->id ? m->id : "");
	if (!m->rrule) {
		w->done = 1;
		return walk_push(w, civil_to_epoch(start));
	}
	w->it = recur_walk_new(m->rrule, m->timezone, start, m->all_day);
	w->done = !w->it;
	return 0;
}

/* Walks on until wall time target (or the rule's end); -1 when the budget
 * ran out. */
static int walk_to(struct ical_walk *w, int64_t target, struct recur_budget *b)
{
	while (!w->done && (w->n == 0 || w->walls[w->n - 1] < target)) {
		struct civil c;
		int got = recur_walk_next(w->it, b, &c);
		if (got == RECUR_EXHAUSTED)
			return -1;
		if (got == 0) {
			w->done = 1;
			break;
		}
		if (walk_push(w, civil_to_epoch(&c)))
			return -1;
	}
	return 0;
}

/* The first wall time walked at or after t. */
static size_t walk_lower(const struct ical_walk *w, int64_t t)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->walls[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int ical_import_place_rid(const struct ical_master *m, json_t *rid, int override_all_day,
                          char out[CIVIL_LEN], struct ical_walk *walk, struct recur_budget *budget)
{
	const char *local = json_string_value(json_object_get(rid, "local"));
	int date = json_is_true(json_object_get(rid, "date"));
	json_t *utc = json_object_get(rid, "utc");
	struct civil start, c;
	if (!local || !m->timezone || !m->start || civil_parse(m->start, m->all_day, &start) ||
	    civil_parse(local, date, &c) || override_all_day != m->all_day ||
	    (!m->rrule && !json_array_size(m->rdates)))
		return -1;
	if (utc && json_is_integer(utc) &&
	    tz_from_utc(m->timezone, json_integer_value(utc), &c) != TZ_OK)
		return -1;
	if (m->all_day)
		c.hour = c.minute = c.second = 0;
	/* A date names the series' occurrence on that day (of a timed series). */
	int day = date && !m->all_day;
	struct civil next = c;
	next.hour = next.minute = next.second = 0;
	civil_add_days(&next, 1);
	int64_t from = civil_to_epoch(&c), to = day ? civil_to_epoch(&next) - 1 : from;
	if (walk_start(walk, m, &start))
		return -2;
	if (walk_to(walk, to, budget))
		return -2;
	/* Candidates: the walked rule instances in [from, to], and the RDATEs. */
	int found = 0;
	int64_t best = 0;
	for (size_t i = walk_lower(walk, from); i < walk->n && walk->walls[i] <= to; i++) {
		char s[CIVIL_LEN];
		format_wall(walk->walls[i], m->all_day, s);
		if (!recur_excluded(m->exdates, s) && (!found || walk->walls[i] < best)) {
			best = walk->walls[i];
			found = 1;
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach(m->rdates, i, v)
	{
		int64_t t = wall(json_string_value(v), m->all_day);
		if (t >= from && t <= to && !recur_excluded(m->exdates, json_string_value(v)) &&
		    (!found || t < best)) {
			best = t;
			found = 1;
		}
	}
	if (!found)
		return -1;
	format_wall(best, m->all_day, out);
	return 0;
}
