/* event_json.c - an event's JSON from plain columns (see event_json.h). */
#include "core/event_json.h"

#include "tz.h"
#include "clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { TEXT, BOOL, INT, LOCAL, LOCALS, UTC, TEXTS };

/* Keys in jsonb's order (shorter first, then bytewise), with their column. */
static const struct {
	const char *key;
	int col;
	enum kind kind;
} fields[] = {
    {"id", EVENT_C_ID, TEXT},
    {"end", EVENT_C_END, LOCAL},
    {"org", EVENT_C_ORG, TEXT},
    {"uid", EVENT_C_UID, TEXT},
    {"url", EVENT_C_URL, TEXT},
    {"city", EVENT_C_CITY, TEXT},
    {"kind", EVENT_C_KIND, TEXT},
    {"tags", EVENT_C_TAGS, TEXTS},
    {"rrule", EVENT_C_RRULE, TEXT},
    {"start", EVENT_C_START, LOCAL},
    {"title", EVENT_C_TITLE, TEXT},
    {"rdates", EVENT_C_RDATES, LOCALS},
    {"status", EVENT_C_STATUS, TEXT},
    {"all_day", EVENT_C_ALL_DAY, BOOL},
    {"country", EVENT_C_COUNTRY, TEXT},
    {"exdates", EVENT_C_EXDATES, LOCALS},
    {"location", EVENT_C_LOCATION, TEXT},
    {"partners", EVENT_C_PARTNERS, TEXTS},
    {"sequence", EVENT_C_SEQUENCE, INT},
    {"timezone", EVENT_C_TIMEZONE, TEXT},
    {"parent_id", EVENT_C_PARENT_ID, TEXT},
    {"reminders", EVENT_C_REMINDERS, TEXTS},
    {"series_id", EVENT_C_SERIES_ID, TEXT},
    {"created_at", EVENT_C_CREATED_AT, UTC},
    {"updated_at", EVENT_C_UPDATED_AT, UTC},
    {"visibility", EVENT_C_VISIBILITY, TEXT},
    {"description", EVENT_C_DESCRIPTION, TEXT},
    {"agreement_id", EVENT_C_AGREEMENT_ID, TEXT},
    {"recurrence_id", EVENT_C_RECURRENCE_ID, LOCAL},
};

static json_t *local_time(const char *epoch, int all_day)
{
	struct civil c;
	char out[CIVIL_LEN];
	civil_from_epoch(strtoll(epoch, NULL, 10), &c);
	civil_format(&c, all_day, out);
	return json_string(out);
}

/* The next element of PostgreSQL's text form of an array, "{a,"b c",NULL}"
 * (*sp just past its '{'), into buf (as long as the text): quoted elements
 * take backslash escapes; an unquoted NULL is null. 0 at the end. */
static int array_next(const char **sp, char *buf, int *null)
{
	const char *s = *sp;
	if (!*s || *s == '}')
		return 0;
	size_t n = 0;
	int quoted = *s == '"';
	if (quoted) {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			buf[n++] = *s;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s && *s != ',' && *s != '}')
			buf[n++] = *s++;
	}
	buf[n] = '\0';
	*null = !quoted && !strcmp(buf, "NULL");
	if (*s == ',')
		s++;
	*sp = s;
	return 1;
}

/* A text array as a JSON array. */
static json_t *text_array(const char *s, int locals, int all_day)
{
	json_t *a = json_array();
	if (!a || *s++ != '{')
		return a;
	char *buf = malloc(strlen(s) + 1);
	if (!buf)
		return a;
	int null;
	while (array_next(&s, buf, &null)) {
		json_t *v = null     ? json_null()
		            : locals ? local_time(buf, all_day)
		                     : json_string(buf);
		json_array_append_new(a, v);
	}
	free(buf);
	return a;
}

static json_t *value(const PGresult *res, int row, int col, enum kind kind, int all_day)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	const char *v = PQgetvalue(res, row, col);
	switch (kind) {
	case TEXT: return json_string(v);
	case BOOL: return json_boolean(v[0] == 't');
	case INT: return json_integer(strtoll(v, NULL, 10));
	case LOCAL: return local_time(v, all_day);
	case LOCALS: return text_array(v, 1, all_day);
	case TEXTS: return text_array(v, 0, all_day);
	case UTC: {
		char out[21];
		rfc3339_utc(strtoll(v, NULL, 10), out);
		return json_string(out);
	}
	}
	return json_null();
}

json_t *event_json_build(const PGresult *res, int row, int col)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int all_day = PQgetvalue(res, row, col + EVENT_C_ALL_DAY)[0] == 't';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = value(res, row, col + fields[i].col, fields[i].kind, all_day);
		if (!v || json_object_set_new(o, fields[i].key, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* The text is written here rather than built as a tree and dumped: on
 * GET /v1/events/{id} the tree and json_dumps were a quarter of the
 * route's CPU. It is byte for byte what json_dumps(event_json_build(...),
 * 0) gives (jansson 2.14's dump.c: ", " and ": ", strings escaped as
 * below, none but valid UTF-8: a column that is not fails the whole, an
 * element of an array that is not is left out); tests/unit/test_event_json.c
 * holds the two to the same bytes. */
struct out {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 1024;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->failed = 1;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* The length of the UTF-8 character at s as jansson takes it (no
 * overlong forms, surrogates or code points past U+10FFFF), 0 if none. */
static size_t utf8_char(const unsigned char *s)
{
	size_t n = s[0] < 0x80                    ? 1
	           : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
	           : s[0] >= 0xe0 && s[0] <= 0xef ? 3
	           : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
	                                          : 0;
	if (n <= 1)
		return n;
	uint32_t v = s[0] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || (n == 2 && v < 0x80) ||
	    (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
		return 0;
	return n;
}

static int utf8_valid(const char *s)
{
	for (size_t n; *s; s += n)
		if (!(n = utf8_char((const unsigned char *)s)))
			return 0;
	return 1;
}

/* A JSON string of valid UTF-8 s, escaped as jansson escapes. */
static void put_string(struct out *o, const char *s)
{
	put(o, "\"", 1);
	for (;;) {
		const char *run = s;
		while (*s && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
			s++;
		put(o, run, (size_t)(s - run));
		if (!*s)
			break;
		char esc[8];
		switch (*s) {
		case '"': put(o, "\\\"", 2); break;
		case '\\': put(o, "\\\\", 2); break;
		case '\b': put(o, "\\b", 2); break;
		case '\f': put(o, "\\f", 2); break;
		case '\n': put(o, "\\n", 2); break;
		case '\r': put(o, "\\r", 2); break;
		case '\t': put(o, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)(unsigned char)*s);
			put(o, esc, 6);
		}
		s++;
	}
	put(o, "\"", 1);
}

static void put_local(struct out *o, const char *epoch, int all_day)
{
	struct civil c;
	char out[CIVIL_LEN];
	civil_from_epoch(strtoll(epoch, NULL, 10), &c);
	civil_format(&c, all_day, out);
	put_string(o, out);
}

/* text_array's array, written. */
static void put_array(struct out *o, const char *s, int locals, int all_day)
{
	put(o, "[", 1);
	int any = 0, null;
	char *buf = *s++ == '{' ? malloc(strlen(s) + 1) : NULL;
	while (buf && array_next(&s, buf, &null)) {
		if (null || locals || utf8_valid(buf)) {
			put(o, ", ", any ? 2 : 0);
			any = 1;
			if (null)
				put(o, "null", 4);
			else if (locals)
				put_local(o, buf, all_day);
			else
				put_string(o, buf);
		}
	}
	free(buf);
	put(o, "]", 1);
}

/* value(), written; -1 for a text that is not UTF-8. */
static int put_value(struct out *o, const PGresult *res, int row, int col, enum kind kind,
                     int all_day)
{
	if (PQgetisnull(res, row, col)) {
		put(o, "null", 4);
		return 0;
	}
	const char *v = PQgetvalue(res, row, col);
	char out[32];
	switch (kind) {
	case TEXT:
		if (!utf8_valid(v))
			return -1;
		put_string(o, v);
		break;
	case BOOL: put(o, v[0] == 't' ? "true" : "false", v[0] == 't' ? 4 : 5); break;
	case INT:
		snprintf(out, sizeof(out), "%" JSON_INTEGER_FORMAT,
		         (json_int_t)strtoll(v, NULL, 10));
		put(o, out, strlen(out));
		break;
	case LOCAL: put_local(o, v, all_day); break;
	case LOCALS: put_array(o, v, 1, all_day); break;
	case TEXTS: put_array(o, v, 0, all_day); break;
	case UTC:
		rfc3339_utc(strtoll(v, NULL, 10), out);
		put_string(o, out);
		break;
	}
	return 0;
}

char *event_json_text(const PGresult *res, int row, int col)
{
	struct out o = {NULL, 0, 0, 0};
	int all_day = PQgetvalue(res, row, col + EVENT_C_ALL_DAY)[0] == 't';
	put(&o, "{", 1);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		put(&o, i ? ", \"" : "\"", i ? 3 : 1);
		put(&o, fields[i].key, strlen(fields[i].key));
		put(&o, "\": ", 3);
		if (put_value(&o, res, row, col + fields[i].col, fields[i].kind, all_day) != 0)
			o.failed = 1;
	}
	put(&o, "}", 1);
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	o.p[o.len] = '\0';
	return o.p;
}
