/* ical_props.c - the text and optional properties of an imported VEVENT
 * (see ical_import.c): SUMMARY and the like cleaned, URL, CATEGORIES,
 * VALARMs, and what libical itself reported as malformed. */
#include "ical_int.h"

#include "event.h"
#include "validate.h"

#include <ctype.h>
#include <string.h>

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
		ical_sb_add(out, add, addlen);
		p += k;
	}
	if (trim)
		while (out->n && strchr(" \t\n,", out->p[out->n - 1]))
			ical_sb_cut(out, out->n - 1);
	return cut;
}

void ical_set_text(json_t *ev, const char *key, const char *v, const char *nl, size_t max,
                   json_t *warnings)
{
	if (!v || !*v)
		return;
	struct sbuf b = {0};
	if (clean_text(v, nl, max, nl != NULL, &b))
		ical_note(warnings, key, "longer than %zu bytes: cut there", max);
	if (b.n && !b.oom)
		json_object_set_new(ev, key, json_string(b.p));
	free(b.p);
}

void ical_read_url(icalcomponent *ve, json_t *ev, json_t *warnings)
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
	ical_clip(v, 80, shown, sizeof(shown));
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	int scheme = !strncasecmp(v, "https://", 8) ? 8 : !strncasecmp(v, "http://", 7) ? 7 : 0;
	int bad = !scheme || n > MAX_URL || n == (size_t)scheme;
	for (size_t i = 0; i < n && !bad; i++)
		if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7F || strchr("<>\"\\", v[i]))
			bad = 1;
	if (bad) {
		ical_note(warnings, "url", "\"%s\" is not an absolute http or https URL: dropped",
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
void ical_read_categories(icalcomponent *ve, json_t *ev, json_t *warnings)
{
	static const char *const kinds[] = {"visit", "festival", "deadline", "meeting"};
	json_t *tags = json_array();
	const char *kind = "meeting";
	int dropped = 0, too_many = 0;
	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_CATEGORIES_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_CATEGORIES_PROPERTY)) {
		/* libical's parser makes one property of each value: a comma
		 * escaped inside a value is the tag's own. */
		const char *c = icalproperty_get_categories(p);
		if (!c)
			continue;
		struct sbuf b = {0};
		(void)clean_text(c, " ", 4 * MAX_TAG, 1, &b);
		const char *tag = ical_sb_text(&b);
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
		} else if (!ical_listed(tags, tag)) {
			json_array_append_new(tags, json_string(tag));
		}
		free(b.p);
	}
	if (dropped)
		ical_note(warnings, "tags", "dropped %d categories longer than %d bytes", dropped,
		          MAX_TAG);
	if (too_many)
		ical_note(warnings, "tags", "dropped %d categories past the first %d", too_many,
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

void ical_read_alarms(icalcomponent *ve, int64_t dur, json_t *ev, json_t *warnings)
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
		} else if (!ical_listed(rem, s)) {
			if (json_array_size(rem) >= EVENT_MAX_REMINDERS)
				many++;
			else
				json_array_append_new(rem, json_string(s));
		}
		free(s);
	}
	if (broken)
		ical_note(warnings, "reminders", "dropped %d VALARM(s) without a readable TRIGGER",
		          broken);
	if (fixed)
		ical_note(warnings, "reminders",
		          "dropped %d VALARM(s) at a fixed time: reminders count from the start",
		          fixed);
	if (after)
		ical_note(warnings, "reminders", "dropped %d VALARM(s) that ring after the start",
		          after);
	if (far)
		ical_note(warnings, "reminders", "dropped %d VALARM(s) more than 400 days before",
		          far);
	if (many)
		ical_note(warnings, "reminders", "dropped %d VALARM(s) past the first %d", many,
		          EVENT_MAX_REMINDERS);
	if (json_array_size(rem))
		json_object_set(ev, "reminders", rem);
	json_decref(rem);
}

/* Whether libical's X-LIC-ERROR message msg is about property name: its
 * messages name it either way round. */
static int lic_names(const char *msg, const char *name)
{
	char a[40], b[40];
	snprintf(a, sizeof(a), "%s property", name);
	snprintf(b, sizeof(b), "property %s", name);
	return strstr(msg, a) || strstr(msg, b);
}

/* Whether the X-LIC-ERROR p says its property was read all the same (a
 * VALUE type libical does not know: read as the default type). */
static int lic_kept(icalproperty *p)
{
	icalparameter *t = icalproperty_get_first_parameter(p, ICAL_XLICERRORTYPE_PARAMETER);
	return t &&
	       icalparameter_get_xlicerrortype(t) == ICAL_XLICERRORTYPE_PARAMETERVALUEPARSEERROR;
}

int ical_lic_dropped(icalcomponent *c, const char *name, char *why, size_t len)
{
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
		const char *msg = icalproperty_get_xlicerror(p);
		/* An empty property is the same as none. */
		if (msg && strncmp(msg, "No value for", 12) && lic_names(msg, name) &&
		    !lic_kept(p)) {
			ical_clip(msg, 160, why, len);
			return 1;
		}
	}
	return 0;
}

/* libical replaces what it cannot parse by X-LIC-ERROR properties; those
 * about properties we read become warnings (an empty property is the
 * same as none and is not named). A RECURRENCE-ID dropped is not a
 * warning: it refuses its VEVENT (ical_import.c convert). */
void ical_lic_errors(icalcomponent *c, json_t *warnings)
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
	/* Asked before the loop: a component has one property iterator, and
	 * asking for its first RECURRENCE-ID inside the loop set it back, so
	 * that an X-LIC-ERROR after a RECURRENCE-ID was met again, forever,
	 * a warning more each time (a 400-byte file took 4 GB: fuzz_ical). */
	int has_rid = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) != NULL;
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
		const char *msg = icalproperty_get_xlicerror(p);
		if (!msg || !strncmp(msg, "No value for", 12))
			continue;
		for (size_t i = 0; i < ARRAY_LEN(props); i++) {
			if (lic_names(msg, props[i][0])) {
				char shown[200];
				ical_clip(msg, 160, shown, sizeof(shown));
				int kept = lic_kept(p);
				/* One dropped refuses its VEVENT, and what
				 * libical kept of it was not read either. */
				if (strcmp(props[i][0], "RECURRENCE-ID") || has_rid)
					ical_note(warnings, props[i][1], "%s: %s",
					          kept ? "read with its default value type"
					               : "dropped",
					          shown);
				break;
			}
		}
	}
	for (icalcomponent *a = icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT); a;
	     a = icalcomponent_get_next_component(c, ICAL_VALARM_COMPONENT))
		ical_lic_errors(a, warnings);
}

/* What the text's repairs noted inside this VEVENT. */
void ical_repair_notes(icalcomponent *ve, json_t *warnings)
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
			ical_note(warnings, field, "%s", bar + 1);
		}
	}
}
