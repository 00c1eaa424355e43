/* ical_text.c - an iCalendar file's text before libical reads it (see
 * ical_import.c): growing strings, Windows-1252, line ends, unfolding,
 * and a structure libical can parse (components left open are closed or
 * dropped). */
#include "ical_int.h"

#include "validate.h"

#include <ctype.h>
#include <string.h>

/* ---- growing strings ------------------------------------------------------------ */

void ical_sb_add(struct sbuf *b, const void *s, size_t len)
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

void ical_sb_str(struct sbuf *b, const char *s)
{
	ical_sb_add(b, s, strlen(s));
}

void ical_sb_cut(struct sbuf *b, size_t n)
{
	if (n < b->n) {
		b->n = n;
		b->p[n] = '\0';
	}
}

const char *ical_sb_text(const struct sbuf *b)
{
	return b->p ? b->p : "";
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
		ical_sb_add(b, e, k);
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
	ical_sb_add(&s->out, line, n);
	ical_sb_add(&s->out, "\n", 1);
}

/* Closes the innermost component, which was left open. */
static void close_open(struct shaper *s)
{
	const char *name = top(s, 0);
	if (!strcmp(name, "VALARM") && !strcmp(top(s, 1), "VEVENT")) {
		ical_sb_cut(&s->out, s->alarm_at);
		ical_sb_str(&s->out,
		            "X-LIAISON-NOTE:reminders|a VALARM without END:VALARM was dropped\n");
	} else if (!strcmp(name, "VEVENT")) {
		ical_sb_cut(&s->out, s->event_at);
		s->open_events++;
	} else {
		ical_sb_str(&s->out, "END:");
		ical_sb_str(&s->out, name);
		ical_sb_str(&s->out, "\n");
	}
	s->depth--;
}

/* RDATE and EXDATE lines: libical reads at most 500 values of one line
 * (MAXIMUM_ALLOWED_MULTIPLE_VALUES) and drops the rest without a word;
 * the same values on several lines mean the same (RFC 5545 3.8.5.1-2),
 * and the dates' own bound (EVENT_MAX_DATES) then applies, with its
 * warning. Only a line libical would cut is split, and only when its name
 * and parameters are short: each piece repeats them, which must not let a
 * file grow many times over on its way in. */
#define VALUES_PER_LINE  400
#define SPLIT_PREFIX_MAX 256

static int is_date_list(const char *line, size_t n)
{
	return (n > 6 && !strncasecmp(line, "RDATE", 5) && (line[5] == ':' || line[5] == ';')) ||
	       (n > 7 && !strncasecmp(line, "EXDATE", 6) && (line[6] == ':' || line[6] == ';'));
}

static void emit_date_list(struct shaper *s, const char *line, size_t n)
{
	size_t colon = 0, commas = 0;
	for (int quoted = 0; colon < n && (quoted || line[colon] != ':'); colon++)
		if (line[colon] == '"')
			quoted = !quoted;
	for (size_t i = colon; i < n; i++)
		commas += line[i] == ',';
	if (colon == n || colon > SPLIT_PREFIX_MAX || commas < VALUES_PER_LINE) {
		emit(s, line, n);
		return;
	}
	for (size_t at = colon + 1;;) {
		size_t end = at;
		for (int k = 0; end < n && (line[end] != ',' || ++k < VALUES_PER_LINE); end++)
			;
		ical_sb_add(&s->out, line, colon + 1);
		emit(s, line + at, end - at);
		if (end + 1 >= n)
			break;
		at = end + 1;
	}
}

/* Whether line is an X-LIC-ERROR property: libical's word for what it
 * could not read in this file, never the file's own (an app built on
 * libical may have saved one). */
static int lic_error_line(const char *line, size_t n)
{
	return n > 11 && !strncasecmp(line, "X-LIC-ERROR", 11) &&
	       (line[11] == ':' || line[11] == ';');
}

static void shape_line(struct shaper *s, const char *line, size_t n)
{
	char name[32];
	if (n == 0 || (n > 10 && !strncasecmp(line, "X-LIAISON-", 10)) || lic_error_line(line, n))
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
	if (s->depth > 0 && is_date_list(line, n))
		emit_date_list(s, line, n);
	else if (s->depth > 0)
		emit(s, line, n);
}

/* One logical line (unfolded), in whatever encoding the file has. */
static void flush_line(struct shaper *s, struct sbuf *line)
{
	if (line->oom) {
		s->out.oom = 1;
		return;
	}
	const unsigned char *p = (const unsigned char *)ical_sb_text(line);
	if (!s->cp1252 && utf8_valid(p, line->n)) {
		shape_line(s, (const char *)p, line->n);
		return;
	}
	struct sbuf conv = {0};
	add_cp1252(&conv, p, line->n);
	if (conv.oom)
		s->out.oom = 1;
	else
		shape_line(s, ical_sb_text(&conv), conv.n);
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
void ical_shape_text(struct shaper *s, const unsigned char *t, size_t len)
{
	struct sbuf line = {0};
	int have = 0;
	for (size_t i = 0; i < len && !s->out.oom;) {
		size_t j = i;
		while (j < len && t[j] != '\r' && t[j] != '\n')
			j++;
		if (have && j > i && (t[i] == ' ' || t[i] == '\t')) {
			ical_sb_add(&line, t + i + 1, j - i - 1);
		} else if (have && line.n && s->depth > 0 && j > i && !memchr(t + i, ':', j - i) &&
		           !is_comp_line(t + i, j - i) &&
		           !is_comp_line((const unsigned char *)line.p, line.n)) {
			ical_sb_add(&line, "\\n", 2);
			ical_sb_add(&line, t + i, j - i);
		} else if (j > i) {
			if (have)
				flush_line(s, &line);
			line.n = 0;
			ical_sb_add(&line, t + i, j - i);
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

/* ---- warnings and errors ------------------------------------------------------------ */

/* s cut to at most max bytes at a character boundary (s is UTF-8). */
void ical_clip(const char *s, size_t max, char *out, size_t outlen)
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

void ical_note(json_t *list, const char *field, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

void ical_file_note(json_t *list, const char *field, const char *fmt, ...)
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
