/* ics_render.c - events (the API's JSON representation) as an RFC 5545
 * calendar: one VTIMEZONE per TZID used (plain IANA names, rules from
 * 1970), all-day items as VALUE=DATE, UTC items with Z, RRULE/EXDATE/RDATE,
 * overrides with RECURRENCE-ID, DTSTAMP equal to the item's last change so
 * an unchanged feed renders to the same bytes. The head is made through
 * libical; a VEVENT is written here, byte for byte as libical 3.0.16 wrote
 * the component the renderer used to build (its escaping and folding,
 * below), for building and printing that tree was most of a first
 * render's time. tests/unit/test_ics_render_same.c holds the two to the
 * same bytes. */
#include "ics_render.h"
#include "recur.h"

#include "token.h"
#include "tz.h"

#include <event2/buffer.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(ev, key));
	return s && *s ? s : NULL;
}

/* Text being written: in the caller's buffer until it outgrows it, then on
 * the heap; failed once memory ran out (everything after is dropped). */
struct out {
	char *p;
	size_t len, cap;
	int heap, failed;
};

static void out_init(struct out *o, char *buf, size_t cap)
{
	*o = (struct out){buf, 0, cap, 0, 0};
}

static void out_free(struct out *o)
{
	if (o->heap)
		free(o->p);
}

static int grow(struct out *o, size_t n)
{
	size_t cap = o->cap * 2;
	while (cap < o->len + n + 1)
		cap *= 2;
	char *p = o->heap ? realloc(o->p, cap) : malloc(cap);
	if (!p) {
		o->failed = 1;
		return -1;
	}
	if (!o->heap)
		memcpy(p, o->p, o->len);
	o->p = p;
	o->cap = cap;
	o->heap = 1;
	return 0;
}

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed || (o->len + n + 1 > o->cap && grow(o, n)))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_s(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_c(struct out *o, char c)
{
	put(o, &c, 1);
}

/* One content line (name, parameters, value, CRLF) into doc, folded as
 * libical 3.0.16 folds (icalproperty.c, fold_property_line), which the
 * stored texts and every feed served so far were made with: the line with
 * its CRLF is cut into pieces, each under 75 octets where at least 75
 * remain, just after the last ';', ':' or ' ' of its first 74 octets (not
 * the first), else before the last octet that starts a UTF-8 character
 * among its first 75, else after 74; pieces after the first start with
 * CRLF and a space. A line of 73 or 74 octets is folded too. */
static void put_folded(struct out *doc, const char *s, size_t left)
{
	for (int first = 1; left > 0; first = 0) {
		size_t next = left;
		if (left >= 75) {
			next = 0;
			for (size_t at = 73; at > 0 && !next; at--)
				if (s[at] == ';' || s[at] == ':' || s[at] == ' ')
					next = at + 1;
			for (size_t at = 74; at > 0 && !next; at--)
				if (!((unsigned char)s[at] & 0x80) ||
				    ((unsigned char)s[at] & 0xc0) == 0xc0)
					next = at;
			if (!next)
				next = 74;
		}
		if (!first)
			put(doc, "\r\n ", 3);
		put(doc, s, next);
		s += next;
		left -= next;
	}
}

/* Ends the line being written in line and puts it into doc. */
static void end_line(struct out *doc, struct out *line)
{
	put(line, "\r\n", 2);
	if (line->failed)
		doc->failed = 1;
	else
		put_folded(doc, line->p, line->len);
	line->len = 0;
}

/* A TEXT value escaped as libical escapes it: newlines as \n, ';', ','
 * and '\' with a backslash, CR, BS and FF dropped, everything else as it
 * is. libical leaves ';' and ',' bare in CATEGORIES, where they split one
 * tag into several for every reader (RFC 5545 3.3.11); they are escaped
 * there too. */
static void put_text(struct out *o, const char *v)
{
	const char *special = "\n\r\b\f;,\\";
	while (*v) {
		size_t n = strcspn(v, special);
		put(o, v, n);
		v += n;
		if (!*v)
			break;
		if (*v == '\n')
			put(o, "\\n", 2);
		else if (*v == ';' || *v == ',' || *v == '\\') {
			char esc[2] = {'\\', *v};
			put(o, esc, 2);
		}
		v++;
	}
}

/* Whether c goes into a parameter's value as it is (quoted or not). */
static int param_safe(unsigned char c, int q)
{
	return c == ' ' || c == '\t' || c == '!' || (c >= 0x80 && c <= 0xf8) ||
	       (q && c >= 0x23 && c <= 0x7e) ||
	       (!q &&
	        ((c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x39) || (c >= 0x3c && c <= 0x7e)));
}

/* ";name=value", quoted when it holds ';', ':' or ',' (or is empty), with
 * the octets a parameter may not hold written as libical writes them
 * (RFC 6868's ^n, ^' and ^^, else a space). */
static void put_param(struct out *o, const char *name, const char *value)
{
	int q = !*value || strpbrk(value, ";:,");
	put_c(o, ';');
	put_s(o, name);
	put(o, q ? "=\"" : "=", q ? 2 : 1);
	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		const unsigned char *run = c;
		while (*c && param_safe(*c, q))
			c++;
		put(o, (const char *)run, (size_t)(c - run));
		if (!*c)
			break;
		if (*c == '\n')
			put(o, "^n", 2);
		else if (*c == '"')
			put(o, "^'", 2);
		else
			put_c(o, ' ');
	}
	if (q)
		put_c(o, '"');
}

/* A property made through libical, for what is rare enough not to be
 * worth writing here (RRULE, RDATE, TRIGGER, an unreadable stamp). */
static void put_ical(struct out *doc, icalproperty *p)
{
	char *s = p ? icalproperty_as_ical_string_r(p) : NULL;
	if (s)
		put_s(doc, s);
	free(s);
	if (p)
		icalproperty_free(p);
}

static void digits(char *at, int v, int n)
{
	while (n-- > 0) {
		at[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* A date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, Z added in UTC); the
 * fields are those civil_parse accepts. */
static void put_time(struct out *o, const struct civil *c, int is_date, int utc)
{
	char b[16];
	digits(b, c->year, 4);
	digits(b + 4, c->month, 2);
	digits(b + 6, c->day, 2);
	if (is_date) {
		put(o, b, 8);
		return;
	}
	b[8] = 'T';
	digits(b + 9, c->hour, 2);
	digits(b + 11, c->minute, 2);
	digits(b + 13, c->second, 2);
	b[15] = 'Z';
	put(o, b, utc ? 16 : 15);
}

/* A local wall time (or date) of the event. */
static int local_time(const char *text, int all_day, struct civil *out)
{
	return !text || civil_parse(text, all_day, out) ? -1 : 0;
}

static struct icaltimetype ical_time(const struct civil *c, int is_date)
{
	struct icaltimetype t = icaltime_null_time();
	t.year = c->year;
	t.month = c->month;
	t.day = c->day;
	t.is_date = is_date;
	if (!is_date) {
		t.hour = c->hour;
		t.minute = c->minute;
		t.second = c->second;
	}
	return t;
}

/* A local time (or date) c of the event as property name in the event's
 * zone: with TZID=<IANA name>; in UTC with Z; dates with VALUE=DATE. */
static void put_time_prop(struct out *doc, struct out *line, const char *name,
                          const struct civil *c, int is_date, const char *zone)
{
	int utc = !is_date && tz_is_utc(zone);
	put_s(line, name);
	if (is_date)
		put_s(line, ";VALUE=DATE");
	else if (!utc)
		put_param(line, "TZID", zone);
	put_c(line, ':');
	put_time(line, c, is_date, utc);
	end_line(doc, line);
}

/* "2024-08-20T07:00:00Z" (what follows the seconds is not read) as a UTC
 * date-time property; one that cannot be read as libical writes a null
 * time. */
static void put_stamp(struct out *doc, struct out *line, const char *name,
                      icalproperty *(*make)(struct icaltimetype), const char *rfc3339)
{
	struct civil c;
	char head[20];
	if (rfc3339 && strlen(rfc3339) >= 19) {
		memcpy(head, rfc3339, 19);
		head[19] = '\0';
		if (!civil_parse(head, 0, &c)) {
			put_s(line, name);
			put_c(line, ':');
			put_time(line, &c, 0, 1);
			end_line(doc, line);
			return;
		}
	}
	put_ical(doc, make(icaltime_null_time()));
}

/* RECURRENCE-ID is the DTSTART of the instance replaced: a wall time in
 * the series' zone. An override in a zone of its own names it as that
 * instant in UTC (clients match the two by instant), so that no VTIMEZONE
 * beyond the override's own is needed. */
static void put_recurrence_id(struct out *doc, struct out *line, const struct civil *rid,
                              int is_date, const char *zone, const char *series_zone)
{
	int64_t utc;
	struct civil c = *rid;
	if (is_date || !series_zone || !strcmp(series_zone, zone) ||
	    tz_to_utc(series_zone, &c, &utc) == TZ_UNKNOWN) {
		put_time_prop(doc, line, "RECURRENCE-ID", rid, is_date, zone);
		return;
	}
	civil_from_epoch(utc, &c);
	put_time_prop(doc, line, "RECURRENCE-ID", &c, 0, "UTC");
}

static void put_exdates(struct out *doc, struct out *line, const struct ics_event *ev, int all_day,
                        const char *zone)
{
	for (size_t i = 0; i < ev->exdates.n; i++) {
		struct civil c;
		if (!local_time(ev->exdates.v[i], all_day, &c))
			put_time_prop(doc, line, "EXDATE", &c, all_day, zone);
	}
}

static void put_rdates(struct out *doc, const struct ics_event *ev, int all_day, const char *zone)
{
	for (size_t i = 0; i < ev->rdates.n; i++) {
		struct civil c;
		if (local_time(ev->rdates.v[i], all_day, &c))
			continue;
		struct icaltimetype t = ical_time(&c, all_day);
		int utc = !all_day && tz_is_utc(zone);
		if (utc)
			t.zone = icaltimezone_get_utc_timezone();
		struct icaldatetimeperiodtype d = {t, icalperiodtype_null_period()};
		icalproperty *p = icalproperty_new_rdate(d);
		if (p && !all_day && !utc)
			icalproperty_add_parameter(p, icalparameter_new_tzid(zone));
		if (p && all_day)
			icalproperty_add_parameter(p, icalparameter_new_value(ICAL_VALUE_DATE));
		put_ical(doc, p);
	}
}

/* A string of the API's, as printf's "%s" writes it. */
static const char *said(const char *s)
{
	return s ? s : "(null)";
}

/* Orgs as people know them: by their names (one for each slug, in the
 * order people look them up: VEVENT_ORG_NAMES), else by their slugs. */
static void add_orgs(struct out *b, const struct ics_list *slugs, const struct ics_list *names)
{
	const struct ics_list *list = names->n == slugs->n ? names : slugs;
	for (size_t i = 0; i < list->n; i++) {
		if (i)
			put(b, ", ", 2);
		put_s(b, said(list->v[i]));
	}
}

/* "2027-10-14" as "14 Oct 2027": no reader takes it for 10 February. */
static void add_day(struct out *b, const char *before, const char *date)
{
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct civil c;
	char day[64];
	if (!date || civil_parse(date, 1, &c) || c.month < 1 || c.month > 12)
		return;
	snprintf(day, sizeof(day), "%d %s %d", c.day, months[c.month - 1], c.year);
	put_s(b, before);
	put_s(b, day);
}

/* An agreement in one line: "Agreement: MOU on startup exchange (signed
 * 2 Jan 2025, expires 2 Jan 2030) with Busan Metropolitan City". */
static void add_agreement(struct out *b, const struct ics_agreement *ag)
{
	static const char *const words[][2] = {
	    {"intent", "letter of intent"}, {"drafting", "being drafted"},
	    {"signed", "signed"},           {"renewal", "up for renewal"},
	    {"expired", "expired"},         {"terminated", "terminated"}};
	const char *stage = ag->stage ? ag->stage : "";
	const char *word = stage, *signed_on = ag->signed_on, *expires_on = ag->expires_on;
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (!strcmp(stage, words[i][0]))
			word = words[i][1];
	put_s(b, "Agreement: ");
	put_s(b, ag->title ? ag->title : "");
	put_s(b, " (");
	put_s(b, word);
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
	put_c(b, ')');
	if (ag->parties.n) {
		put_s(b, " with ");
		add_orgs(b, &ag->parties, &ag->party_names);
	}
	put_c(b, '\n');
}

/* The description into b (nothing when there is none), with what a
 * calendar has no property for, in words a person reads at a glance:
 * which org holds the item, its partners, and for an agreement's dates
 * the agreement itself (whose parties are the item's partners: said
 * once). Orgs by their names, never their slugs. */
static int description(struct out *b, const struct ics_event *ev)
{
	const char *d = ev->description;
	if (d) {
		put_s(b, d);
		put(b, "\n\n", 2);
	}
	const char *holder = ev->org_name ? ev->org_name : ev->org;
	if (holder) {
		put_s(b, "Held by: ");
		put_s(b, holder);
		put_c(b, '\n');
	}
	const struct ics_agreement *ag = ev->agreement;
	if (ev->partners.n && !(ag && ag->same_partners)) {
		put_s(b, "Partners: ");
		add_orgs(b, &ev->partners, &ev->partner_names);
		put_c(b, '\n');
	}
	if (ag)
		add_agreement(b, ag);
	/* No trailing blank lines (a description of blank lines stays, empty). */
	int any = b->len > 0;
	while (b->len > 0 && b->p[b->len - 1] == '\n')
		b->len--;
	put(b, "", 0);
	if (!b->failed)
		b->p[b->len] = '\0';
	return any;
}

/* A TEXT property, when there is a value. */
static void put_text_prop(struct out *doc, struct out *line, const char *name, const char *v)
{
	if (!v)
		return;
	put_s(line, name);
	put_c(line, ':');
	put_text(line, v);
	end_line(doc, line);
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
static void organizer(const char *slug, const char *name, char addr[128], char cn[256])
{
	static const char pre[] = "mailto:", post[] = "@liaison.invalid";
	size_t n = strnlen(slug, 128 - sizeof(pre) - sizeof(post) + 1);
	memcpy(addr, pre, sizeof(pre) - 1);
	memcpy(addr + sizeof(pre) - 1, slug, n);
	memcpy(addr + sizeof(pre) - 1 + n, post, sizeof(post));
	if (!name)
		return;
	n = strnlen(name, 255);
	memcpy(cn, name, n);
	cn[n] = '\0';
	for (char *x = cn; *x; x++)
		if (*x == '"')
			*x = '\'';
		else if ((unsigned char)*x < 0x20 || *x == 0x7f)
			*x = ' ';
}

void ics_add_organizer(icalcomponent *c, const char *slug, const char *name)
{
	if (!slug)
		return;
	char addr[128], cn[256];
	organizer(slug, name, addr, cn);
	icalproperty *p = icalproperty_new_organizer(addr);
	if (name)
		icalproperty_add_parameter(p, icalparameter_new_cn(cn));
	icalcomponent_add_property(c, p);
}

static void put_organizer(struct out *doc, struct out *line, const char *slug, const char *name)
{
	if (!slug)
		return;
	char addr[128], cn[256];
	organizer(slug, name, addr, cn);
	put_s(line, "ORGANIZER");
	if (name)
		put_param(line, "CN", cn);
	put_c(line, ':');
	put_s(line, addr);
	end_line(doc, line);
}

/* Whether reminder i has the length of an earlier one (a list stored
 * before two of one length were refused): the planner fires it once
 * (remind.c), and the feed shows it once. */
static int same_length_before(const struct ics_event *ev, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (ical_duration_same(ev->reminders.v[k], ev->reminders.v[i]))
			return 1;
	return 0;
}

static void put_alarms(struct out *doc, struct out *line, const struct ics_event *ev,
                       const char *title)
{
	for (size_t i = 0; i < ev->reminders.n; i++) {
		if (!ev->reminders.v[i])
			continue;
		struct icaldurationtype d = icaldurationtype_from_string(ev->reminders.v[i]);
		if (icaldurationtype_is_bad_duration(d) || same_length_before(ev, i))
			continue;
		put_s(doc, "BEGIN:VALARM\r\nACTION:DISPLAY\r\n");
		struct icaltriggertype tr = {icaltime_null_time(), d};
		put_ical(doc, icalproperty_new_trigger(tr));
		put_text_prop(doc, line, "DESCRIPTION", title);
		put_s(doc, "END:VALARM\r\n");
	}
}

static void put_categories(struct out *doc, struct out *line, const struct ics_event *ev)
{
	const char *kind = ev->kind;
	if (kind) {
		put_s(line, "CATEGORIES:");
		put_text(line, kind);
		end_line(doc, line);
	}
	for (size_t i = 0; i < ev->tags.n; i++) {
		if (!ev->tags.v[i])
			continue;
		put_s(line, "CATEGORIES:");
		put_text(line, ev->tags.v[i]);
		end_line(doc, line);
	}
}

/* Whether a is later than b (dates have no time of day). */
static int civil_after(const struct civil *a, const struct civil *b)
{
	const int x[] = {a->year, a->month, a->day, a->hour, a->minute, a->second};
	const int y[] = {b->year, b->month, b->day, b->hour, b->minute, b->second};
	for (size_t i = 0; i < sizeof(x) / sizeof(*x); i++)
		if (x[i] != y[i])
			return x[i] > y[i];
	return 0;
}

/* The VEVENT, written as libical 3.0.16 wrote the component the renderer
 * once built (icalcomponent_as_ical_string): properties in the order they
 * were added, each folded alone, then the VALARMs. */
static void vevent(struct out *doc, const struct ics_event *ev, int alarms, const char *zone,
                   int all_day, const struct civil *start)
{
	char line_buf[512], desc_buf[1024], seq[32];
	struct out line, desc;
	out_init(&line, line_buf, sizeof(line_buf));
	put_s(doc, "BEGIN:VEVENT\r\n");
	put_text_prop(doc, &line, "UID", ev->uid);
	const char *changed = ev->updated_at;
	put_stamp(doc, &line, "DTSTAMP", icalproperty_new_dtstamp, changed);
	put_stamp(doc, &line, "LAST-MODIFIED", icalproperty_new_lastmodified, changed);
	put_stamp(doc, &line, "CREATED", icalproperty_new_created, ev->created_at);
	snprintf(seq, sizeof(seq), "SEQUENCE:%d\r\n", (int)ev->sequence);
	put_s(doc, seq);
	put_time_prop(doc, &line, "DTSTART", start, all_day, zone);
	struct civil end;
	if (!local_time(ev->end, all_day, &end) && civil_after(&end, start))
		put_time_prop(doc, &line, "DTEND", &end, all_day, zone);
	if (ev->rrule)
		put_ical(doc, icalproperty_new_rrule(icalrecurrencetype_from_string(ev->rrule)));
	put_exdates(doc, &line, ev, all_day, zone);
	put_rdates(doc, ev, all_day, zone);
	struct civil rid;
	if (ev->series_id && !local_time(ev->recurrence_id, all_day, &rid))
		put_recurrence_id(doc, &line, &rid, all_day, zone, ev->series_timezone);
	const char *title = ev->title ? ev->title : "(no title)";
	put_text_prop(doc, &line, "SUMMARY", title);
	out_init(&desc, desc_buf, sizeof(desc_buf));
	int any = description(&desc, ev);
	if (desc.failed)
		doc->failed = 1;
	else if (any)
		put_text_prop(doc, &line, "DESCRIPTION", desc.p);
	out_free(&desc);
	put_text_prop(doc, &line, "LOCATION", ev->location);
	if (ev->url) {
		put_s(&line, "URL:");
		put_s(&line, ev->url);
		end_line(doc, &line);
	}
	put_text_prop(doc, &line, "RELATED-TO", ev->parent_uid);
	put_organizer(doc, &line, ev->org, ev->org_name);
	const char *status = ev->status;
	put_s(doc, status && !strcmp(status, "cancelled")   ? "STATUS:CANCELLED\r\n"
	           : status && !strcmp(status, "tentative") ? "STATUS:TENTATIVE\r\n"
	                                                    : "STATUS:CONFIRMED\r\n");
	put_categories(doc, &line, ev);
	if (alarms)
		put_alarms(doc, &line, ev, title);
	put_s(doc, "END:VEVENT\r\n");
	if (line.failed)
		doc->failed = 1;
	out_free(&line);
}

char *ics_render_event(const struct ics_event *ev, int alarms, const char **zone_out)
{
	const char *zone = ev->timezone;
	int all_day = ev->all_day;
	struct civil start;
	if (!zone || !ev->uid || local_time(ev->start, all_day, &start))
		return NULL;
	char buf[4096];
	struct out doc;
	out_init(&doc, buf, sizeof(buf));
	vevent(&doc, ev, alarms, zone, all_day, &start);
	char *text = doc.failed ? NULL : malloc(doc.len + 1);
	if (text) {
		memcpy(text, doc.p, doc.len);
		text[doc.len] = '\0';
		*zone_out = all_day ? NULL : zone;
	}
	out_free(&doc);
	return text;
}

/* The strings of array key of o (NULL for what is not one), in v (room
 * for max); the list is empty when there is no such array or no room. */
static struct ics_list json_list(json_t *o, const char *key, const char **v, size_t max)
{
	json_t *a = json_object_get(o, key);
	struct ics_list l = {0, v};
	if (json_array_size(a) > max)
		return l;
	for (; l.n < json_array_size(a); l.n++)
		v[l.n] = json_string_value(json_array_get(a, l.n));
	return l;
}

#define JSON_LIST_MAX 256

char *ics_render_vevent(json_t *o, int alarms, const char **zone_out)
{
	/* An API object holds few items in a list; a longer one (never made
	 * here) is read from the heap. */
	size_t max = JSON_LIST_MAX;
	const char *const keys[] = {"exdates",   "rdates",   "tags",
	                            "reminders", "partners", "partner_names"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
		if (json_array_size(json_object_get(o, keys[k])) > max)
			max = json_array_size(json_object_get(o, keys[k]));
	json_t *ag = json_object_get(o, "agreement");
	if (json_is_object(ag) && json_array_size(json_object_get(ag, "parties")) > max)
		max = json_array_size(json_object_get(ag, "parties"));
	if (json_is_object(ag) && json_array_size(json_object_get(ag, "party_names")) > max)
		max = json_array_size(json_object_get(ag, "party_names"));
	const char **v = malloc(8 * max * sizeof(*v));
	if (!v)
		return NULL;
	struct ics_agreement a = {
	    str(ag, "title"),
	    str(ag, "stage"),
	    str(ag, "signed_on"),
	    str(ag, "expires_on"),
	    json_list(ag, "parties", v + 6 * max, max),
	    json_list(ag, "party_names", v + 7 * max, max),
	    json_equal(json_object_get(o, "partners"), json_object_get(ag, "parties")),
	};
	struct ics_event ev = {
	    .uid = str(o, "uid"),
	    .timezone = str(o, "timezone"),
	    .all_day = json_is_true(json_object_get(o, "all_day")),
	    .start = str(o, "start"),
	    .end = str(o, "end"),
	    .rrule = str(o, "rrule"),
	    .series_id = str(o, "series_id"),
	    .recurrence_id = str(o, "recurrence_id"),
	    .series_timezone = str(o, "series_timezone"),
	    .title = str(o, "title"),
	    .description = str(o, "description"),
	    .location = str(o, "location"),
	    .url = str(o, "url"),
	    .parent_uid = str(o, "parent_uid"),
	    .org = str(o, "org"),
	    .org_name = str(o, "org_name"),
	    .status = str(o, "status"),
	    .kind = str(o, "kind"),
	    .created_at = str(o, "created_at"),
	    .updated_at = str(o, "updated_at"),
	    .sequence = json_integer_value(json_object_get(o, "sequence")),
	    .exdates = json_list(o, "exdates", v, max),
	    .rdates = json_list(o, "rdates", v + max, max),
	    .tags = json_list(o, "tags", v + 2 * max, max),
	    .reminders = json_list(o, "reminders", v + 3 * max, max),
	    .partners = json_list(o, "partners", v + 4 * max, max),
	    .partner_names = json_list(o, "partner_names", v + 5 * max, max),
	    .agreement = json_is_object(ag) ? &a : NULL,
	};
	char *text = ics_render_event(&ev, alarms, zone_out);
	free(v);
	return text;
}

static void add_x(icalcomponent *cal, const char *name, const char *value)
{
	icalproperty *p = icalproperty_new_x(value);
	icalproperty_set_x_name(p, name);
	icalcomponent_add_property(cal, p);
}

char *ics_render_head(const char *name, const char *const *zones, size_t nz)
{
	icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	if (!cal)
		return NULL;
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(cal, icalproperty_new_prodid("-//liaison//liaisond//EN"));
	icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
	icalcomponent_add_property(cal, icalproperty_new_method(ICAL_METHOD_PUBLISH));
	icalcomponent_add_property(cal, icalproperty_new_name(name));
	add_x(cal, "X-WR-CALNAME", name);
	struct icaldurationtype hour = icaldurationtype_from_int(3600);
	icalproperty *ri = icalproperty_new_refreshinterval(hour);
	icalproperty_add_parameter(ri, icalparameter_new_value(ICAL_VALUE_DURATION));
	icalcomponent_add_property(cal, ri);
	add_x(cal, "X-PUBLISHED-TTL", "PT1H");
	/* VTIMEZONEs first (clients read top-down). */
	for (size_t k = 0; k < nz; k++) {
		icalcomponent *vtz = tz_vtimezone(zones[k]);
		if (vtz)
			icalcomponent_add_component(cal, vtz);
	}
	char *text = icalcomponent_as_ical_string_r(cal);
	icalcomponent_free(cal);
	/* Cut "END:VCALENDAR\r\n": the events and ICS_TAIL follow. */
	char *end = text ? strstr(text, "END:VCALENDAR\r\n") : NULL;
	if (end)
		*end = '\0';
	return text;
}

int ics_zone_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An event that uses every part of the renderer: a timed series in a zone
 * with exdates and rdates, an all-day override, long non-ASCII text that
 * must be folded and escaped, partners, an agreement, reminders. */
static const char fingerprint_sample[] =
    "{\"uid\": \"fingerprint@liaison\", \"timezone\": \"America/Toronto\", \"all_day\": false,"
    " \"start\": \"2026-03-02T09:00:00\", \"end\": \"2026-03-02T10:30:00\","
    " \"rrule\": \"FREQ=WEEKLY;BYDAY=MO;COUNT=10\", \"exdates\": [\"2026-03-16T09:00:00\"],"
    " \"rdates\": [\"2026-03-20T09:00:00\"], \"created_at\": \"2026-01-01T00:00:00Z\","
    " \"updated_at\": \"2026-01-02T03:04:05Z\", \"sequence\": 3, \"status\": \"tentative\","
    " \"title\": \"\\u0110\\u00e0 N\\u1eb5ng k\\u1ebft n\\u1ed1i; h\\u1ec7 sinh th\\u00e1i,"
    " kh\\u1edfi nghi\\u1ec7p \\\\ \\u0111\\u1ed5i m\\u1edbi s\\u00e1ng t\\u1ea1o v\\u1edbi"
    " c\\u00e1c doanh nghi\\u1ec7p Trung Qu\\u1ed1c\", \"description\": \"line one\\nline two\","
    " \"location\": \"Room 1, Tower\", \"url\": \"https://example.org/a?b=c\","
    " \"parent_uid\": \"parent@liaison\", \"kind\": \"meeting\", \"tags\": [\"a\", \"b,c\"],"
    " \"partners\": [\"busan\", \"hcmc-dost\"], \"reminders\": [\"-P1D\", \"-PT15M\"],"
    " \"org\": \"cabc\", \"org_name\": \"Canada-ASEAN \\\"CABC\\\"; Toronto\","
    " \"partner_names\": [\"Busan Metropolitan City\", \"S\u1edf KH&CN TP.HCM\"],"
    " \"agreement\": {\"title\": \"MOU\", \"stage\": \"signed\", \"parties\": [\"x\", \"y\"],"
    " \"party_names\": [\"X\"], \"signed_on\": \"2025-01-02\", \"expires_on\": \"2030-01-02\"}}";
static const char fingerprint_override[] =
    "{\"uid\": \"fingerprint@liaison\", \"timezone\": \"UTC\", \"all_day\": true,"
    " \"start\": \"2026-03-09\", \"end\": \"2026-03-11\", \"series_id\": \"s\","
    " \"recurrence_id\": \"2026-03-09\", \"status\": \"cancelled\", \"title\": \"t\","
    " \"updated_at\": \"2026-01-02T03:04:05Z\", \"created_at\": \"2026-01-01T00:00:00Z\"}";

/* An override in a zone other than its series': RECURRENCE-ID in UTC. */
static const char fingerprint_moved[] =
    "{\"uid\": \"fingerprint@liaison\", \"timezone\": \"Asia/Seoul\", \"all_day\": false,"
    " \"start\": \"2026-03-09T11:00:00\", \"series_id\": \"s\","
    " \"recurrence_id\": \"2026-03-09T09:00:00\", \"series_timezone\": \"America/Toronto\","
    " \"status\": \"confirmed\", \"title\": \"m\", \"updated_at\": \"2026-01-02T03:04:05Z\","
    " \"created_at\": \"2026-01-01T00:00:00Z\"}";

int ics_render_fingerprint(char out[ICS_FINGERPRINT_LEN + 1])
{
	const char *samples[] = {fingerprint_sample, fingerprint_override, fingerprint_moved};
	const char *zones[] = {"America/Toronto", "Asia/Seoul"};
	struct evbuffer *b = evbuffer_new();
	int rc = b ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < sizeof(samples) / sizeof(*samples); i++) {
		json_t *ev = json_loads(samples[i], 0, NULL);
		for (int alarms = 0; rc == 0 && alarms <= 1; alarms++) {
			const char *zone = NULL;
			char *text = ev ? ics_render_vevent(ev, alarms, &zone) : NULL;
			rc = text ? evbuffer_add(b, text, strlen(text)) : -1;
			free(text);
		}
		json_decref(ev);
	}
	char *head = rc == 0 ? ics_render_head("fingerprint", zones, 2) : NULL;
	if (!head || evbuffer_add(b, head, strlen(head)) != 0)
		rc = -1;
	free(head);
	char digest[TOKEN_HASH_HEX + 1];
	if (rc == 0) {
		size_t n = evbuffer_get_length(b);
		const char *all = (const char *)evbuffer_pullup(b, -1);
		rc = all && token_hash(all, n, digest) == 0 ? 0 : -1;
	}
	if (rc == 0) {
		memcpy(out, digest, ICS_FINGERPRINT_LEN);
		out[ICS_FINGERPRINT_LEN] = '\0';
	}
	if (b)
		evbuffer_free(b);
	return rc;
}
