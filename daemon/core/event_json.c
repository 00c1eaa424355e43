/* event_json.c - an event's JSON from plain columns (see event_json.h). */
#include "core/event_json.h"

#include "tz.h"
#include "clock.h"

#include <stdlib.h>
#include <string.h>

/* The columns of EVENT_COLS, in order. */
enum {
	C_ID,
	C_ORG,
	C_KIND,
	C_TITLE,
	C_DESCRIPTION,
	C_LOCATION,
	C_CITY,
	C_COUNTRY,
	C_TIMEZONE,
	C_ALL_DAY,
	C_START,
	C_END,
	C_RRULE,
	C_EXDATES,
	C_RDATES,
	C_SERIES_ID,
	C_RECURRENCE_ID,
	C_UID,
	C_STATUS,
	C_VISIBILITY,
	C_PARTNERS,
	C_TAGS,
	C_PARENT_ID,
	C_AGREEMENT_ID,
	C_REMINDERS,
	C_URL,
	C_SEQUENCE,
	C_CREATED_AT,
	C_UPDATED_AT
};

enum kind { TEXT, BOOL, INT, LOCAL, LOCALS, UTC, TEXTS };

/* Keys in jsonb's order (shorter first, then bytewise), with their column. */
static const struct {
	const char *key;
	int col;
	enum kind kind;
} fields[] = {
    {"id", C_ID, TEXT},
    {"end", C_END, LOCAL},
    {"org", C_ORG, TEXT},
    {"uid", C_UID, TEXT},
    {"url", C_URL, TEXT},
    {"city", C_CITY, TEXT},
    {"kind", C_KIND, TEXT},
    {"tags", C_TAGS, TEXTS},
    {"rrule", C_RRULE, TEXT},
    {"start", C_START, LOCAL},
    {"title", C_TITLE, TEXT},
    {"rdates", C_RDATES, LOCALS},
    {"status", C_STATUS, TEXT},
    {"all_day", C_ALL_DAY, BOOL},
    {"country", C_COUNTRY, TEXT},
    {"exdates", C_EXDATES, LOCALS},
    {"location", C_LOCATION, TEXT},
    {"partners", C_PARTNERS, TEXTS},
    {"sequence", C_SEQUENCE, INT},
    {"timezone", C_TIMEZONE, TEXT},
    {"parent_id", C_PARENT_ID, TEXT},
    {"reminders", C_REMINDERS, TEXTS},
    {"series_id", C_SERIES_ID, TEXT},
    {"created_at", C_CREATED_AT, UTC},
    {"updated_at", C_UPDATED_AT, UTC},
    {"visibility", C_VISIBILITY, TEXT},
    {"description", C_DESCRIPTION, TEXT},
    {"agreement_id", C_AGREEMENT_ID, TEXT},
    {"recurrence_id", C_RECURRENCE_ID, LOCAL},
};

static json_t *local_time(const char *epoch, int all_day)
{
	struct civil c;
	char out[CIVIL_LEN];
	civil_from_epoch(strtoll(epoch, NULL, 10), &c);
	civil_format(&c, all_day, out);
	return json_string(out);
}

/* PostgreSQL's text form of an array, "{a,"b c",NULL}", as a JSON array:
 * quoted elements take backslash escapes; unquoted NULL is null. */
static json_t *text_array(const char *s, int locals, int all_day)
{
	json_t *a = json_array();
	if (!a || *s++ != '{')
		return a;
	char *buf = malloc(strlen(s) + 1);
	if (!buf)
		return a;
	while (*s && *s != '}') {
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
		json_t *v = !quoted && !strcmp(buf, "NULL") ? json_null()
		            : locals                        ? local_time(buf, all_day)
		                                            : json_string(buf);
		json_array_append_new(a, v);
		if (*s == ',')
			s++;
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
	int all_day = PQgetvalue(res, row, col + C_ALL_DAY)[0] == 't';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = value(res, row, col + fields[i].col, fields[i].kind, all_day);
		if (!v || json_object_set_new(o, fields[i].key, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

char *event_json_text(const PGresult *res, int row, int col)
{
	json_t *o = event_json_build(res, row, col);
	/* jansson keeps insertion order and writes ", " and ": " as jsonb does. */
	char *text = o ? json_dumps(o, 0) : NULL;
	json_decref(o);
	return text;
}
