/* event.c - validation of events. One function per kind of field; each
 * adds its own errors, so one 422 lists every fault of a request. */
#include "event.h"

#include "recur.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

const char *const event_server_fields[] = {
    "id",         "org",       "sequence",     "created_at",
    "updated_at", "conflicts", "agreement_id", "cancelled_overrides",
    NULL};

static const char *const client_fields[] = {
    "kind",     "title",     "description",   "location",  "city",   "country",
    "timezone", "start",     "end",           "all_day",   "rrule",  "exdates",
    "rdates",   "series_id", "recurrence_id", "uid",       "status", "visibility",
    "partners", "tags",      "parent_id",     "reminders", "url",    NULL};

/* Never drops an error (see jv_error): validation must not pass because
 * a message could not be built. */
static void err(json_t *errors, const char *field, const char *message)
{
	json_t *e = json_pack("{s:s, s:s}", "field", field, "message", message);
	if (!e)
		e = json_pack("{s:s, s:s}", "field", "(field name not shown)", "message", message);
	json_array_append_new(errors, e ? e : json_null());
}

static int listed(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(*list, key))
			return 1;
	return 0;
}

static void check_known(json_t *obj, json_t *errors)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		(void)v;
		if (!listed(key, client_fields) && !listed(key, event_server_fields))
			err(errors, key, "unknown field");
	}
}

/* A string field: NULL when absent or null; errors for other types. */
static const char *text(json_t *obj, const char *key, size_t max, int newlines, int required,
                        json_t *errors)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			err(errors, key, "is required");
		return NULL;
	}
	if (!json_is_string(v)) {
		err(errors, key, "must be a string");
		return NULL;
	}
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		err(errors, key, "must not contain NUL characters");
		return NULL;
	}
	if (!*s) {
		if (required)
			err(errors, key, "must not be empty");
		return NULL; /* an empty optional text is the same as none */
	}
	if (strlen(s) > max) {
		char m[64];
		snprintf(m, sizeof(m), "must be at most %zu bytes", max);
		err(errors, key, m);
		return NULL;
	}
	if (!valid_text(s, max, newlines)) {
		err(errors, key, "must not contain control characters");
		return NULL;
	}
	return s;
}

static const char *one_of(json_t *obj, const char *key, const char *const *values, const char *dflt,
                          json_t *errors)
{
	const char *s = text(obj, key, 32, 0, 0, errors);
	if (!s)
		return json_object_get(obj, key) && !json_is_null(json_object_get(obj, key)) &&
		               !json_is_string(json_object_get(obj, key))
		           ? NULL
		           : dflt;
	for (const char *const *v = values; *v; v++)
		if (!strcmp(*v, s))
			return *v;
	char m[160] = "must be one of";
	for (const char *const *v = values; *v; v++) {
		strncat(m, v == values ? " " : ", ", sizeof(m) - strlen(m) - 1);
		strncat(m, *v, sizeof(m) - strlen(m) - 1);
	}
	err(errors, key, m);
	return NULL;
}

/* Reads a local time (a date when all_day) and its UTC instant. */
static int local_time(const char *field, const char *s, int all_day, const char *zone,
                      struct civil *c, int64_t *utc, json_t *errors)
{
	if (civil_parse(s, all_day, c)) {
		err(errors, field,
		    all_day ? "must be a date, YYYY-MM-DD"
		            : "must be a local date-time, YYYY-MM-DDTHH:MM:SS, without offset");
		return -1;
	}
	if (!zone)
		return -1;
	enum tz_result r = tz_to_utc(zone, c, utc);
	if (r == TZ_GAP && !all_day) {
		char m[160];
		snprintf(m, sizeof(m), "%s does not exist in %s (the clocks skip it)", s, zone);
		err(errors, field, m);
		return -1;
	}
	return r == TZ_UNKNOWN ? -1 : 0;
}

static json_t *array_field(json_t *obj, const char *key, size_t max, json_t *errors)
{
	json_t *a = json_object_get(obj, key);
	if (!a || json_is_null(a))
		return NULL;
	if (!json_is_array(a)) {
		err(errors, key, "must be an array");
		return NULL;
	}
	if (json_array_size(a) > max) {
		char m[64];
		snprintf(m, sizeof(m), "must have at most %zu entries", max);
		err(errors, key, m);
		return NULL;
	}
	return a;
}

static void check_dates(json_t *obj, const char *key, struct event_in *e, json_t *errors)
{
	json_t *a = array_field(obj, key, EVENT_MAX_DATES, errors);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		char field[48];
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		struct civil c;
		int64_t utc;
		if (!json_is_string(v))
			err(errors, field, "must be a string");
		else
			local_time(field, json_string_value(v), e->all_day, e->timezone, &c, &utc,
			           errors);
	}
	if (!strcmp(key, "exdates"))
		e->exdates = a;
	else
		e->rdates = a;
}

static void check_strings(json_t *obj, const char *key, size_t maxlen, int slugs, json_t **out,
                          json_t *errors)
{
	json_t *a = array_field(obj, key, EVENT_MAX_LIST, errors);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		char field[48];
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		if (!s)
			err(errors, field, "must be a string");
		else if (slugs ? !valid_slug(s)
		               : !valid_text(s, maxlen, 0) || strlen(s) != json_string_length(v))
			err(errors, field,
			    slugs ? "must be an org slug" : "must be 1-64 bytes of text");
	}
	*out = a;
}

/* The index of the first trigger before a[i] of its exact length (a
 * second one would send the same reminder.due twice: remind.c fires each
 * at the occurrence's instant plus its seconds), or -1. */
static long earlier_of_same_length(json_t *a, size_t i)
{
	const char *t = json_string_value(json_array_get(a, i));
	for (size_t k = 0; t && k < i; k++)
		if (ical_duration_same(json_string_value(json_array_get(a, k)), t))
			return (long)k;
	return -1;
}

void event_check_triggers(json_t *a, const char *name, json_t *errors)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		char field[192];
		snprintf(field, sizeof(field), "%s[%zu]", name, i);
		int64_t secs;
		long k;
		if (!json_is_string(v)) {
			err(errors, field, "must be a string");
		} else if (ical_duration_parse(json_string_value(v), &secs)) {
			err(errors, field, "must be an RFC 5545 duration such as -P7D or -PT2H");
		} else if (secs > 0) {
			err(errors, field, "must be before the start: a negative duration");
		} else if (secs < -400LL * 86400) {
			err(errors, field, "must be at most 400 days before the start");
		} else if ((k = earlier_of_same_length(a, i)) >= 0) {
			/* Refused rather than dropped, so what is stored is what was
			 * sent. By index only: a visit's item or a checklist's task
			 * is checked as an event and its field named after. */
			char msg[96];
			snprintf(msg, sizeof(msg), "is the same time as the reminder at index %ld",
			         k);
			err(errors, field, msg);
		}
	}
}

void event_dedupe_triggers(json_t *a)
{
	for (size_t i = 0; i < json_array_size(a);)
		if (earlier_of_same_length(a, i) >= 0)
			json_array_remove(a, i);
		else
			i++;
}

void event_dedupe_triggers_of(json_t *items)
{
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item)
	{
		event_dedupe_triggers(json_object_get(item, "reminders"));
	}
}

static void check_reminders(json_t *obj, struct event_in *e, json_t *errors)
{
	json_t *a = array_field(obj, "reminders", EVENT_MAX_REMINDERS, errors);
	event_check_triggers(a, "reminders", errors);
	e->reminders = a;
}

static void check_ids(json_t *obj, struct event_in *e, json_t *errors)
{
	e->series_id = text(obj, "series_id", 36, 0, 0, errors);
	e->parent_id = text(obj, "parent_id", 36, 0, 0, errors);
	if (e->series_id && !valid_uuid(e->series_id)) {
		err(errors, "series_id", "must be a UUID");
		e->series_id = NULL;
	}
	if (e->parent_id && !valid_uuid(e->parent_id)) {
		err(errors, "parent_id", "must be a UUID");
		e->parent_id = NULL;
	}
	const char *rid = text(obj, "recurrence_id", 19, 0, 0, errors);
	if (rid) {
		int64_t ignored;
		e->has_recurrence_id = !local_time("recurrence_id", rid, e->all_day, e->timezone,
		                                   &e->recurrence_id, &ignored, errors);
	}
	if (!!e->series_id != !!rid)
		err(errors, e->series_id ? "recurrence_id" : "series_id",
		    "series_id and recurrence_id go together");
	if (e->series_id && e->rrule)
		err(errors, "rrule", "an override of one occurrence has no rule of its own");
	/* Nor dates: no calendar reads an RDATE or EXDATE beside a
	 * RECURRENCE-ID (the feed gives none, the import drops them), and its
	 * span (first_utc, last_end_utc) would reach them. */
	if (e->series_id && json_array_size(e->rdates))
		err(errors, "rdates", "an override of one occurrence has no dates of its own");
	if (e->series_id && json_array_size(e->exdates))
		err(errors, "exdates", "an override of one occurrence has no dates of its own");
}

static void check_url(json_t *obj, struct event_in *e, json_t *errors)
{
	e->url = text(obj, "url", 2048, 0, 0, errors);
	if (e->url && strncmp(e->url, "https://", 8) && strncmp(e->url, "http://", 7)) {
		err(errors, "url", "must be an absolute http or https URL");
		e->url = NULL;
	}
	if (e->url && strpbrk(e->url, " <>\"\\"))
		err(errors, "url", "must be an absolute http or https URL");
}

/* The end of e's occurrence that starts at instant u (wall time c), as
 * /v1/occurrences and the feeds count it (recur_end): dur later, or for
 * an all-day series whole days later on the wall, where a day may last 23
 * or 25 hours. */
static int64_t occurrence_end(const struct event_in *e, int64_t u, const struct civil *c,
                              int64_t dur)
{
	struct civil end; /* recur_end's wall end, not needed here */
	return e->all_day ? recur_end(e->timezone, 1, c, u, dur, &end) : u + dur;
}

/* The span of the whole series, for range queries: an RDATE may come
 * before the start (sql/027: first_utc) or after the rule's last. */
static void compute_span(struct event_in *e)
{
	int64_t dur = recur_duration(e->timezone, &e->start, &e->end, e->all_day);
	e->last_end_utc = e->end_utc;
	e->rdates_from = INT64_MAX;
	if (e->rrule) {
		struct civil wall;
		int64_t last =
		    recur_last_occurrence(e->rrule, e->timezone, &e->start, e->all_day, &wall);
		/* None at all (a rule stored without today's checks): the start's. */
		e->last_end_utc = last == INT64_MAX   ? INT64_MAX
		                  : last == INT64_MIN ? e->end_utc
		                                      : occurrence_end(e, last, &wall, dur);
	}
	size_t i;
	json_t *v;
	json_array_foreach(e->rdates, i, v)
	{
		struct civil c;
		int64_t u;
		if (civil_parse(json_string_value(v), e->all_day, &c) ||
		    tz_to_utc(e->timezone, &c, &u) == TZ_UNKNOWN)
			continue;
		if (u < e->rdates_from)
			e->rdates_from = u;
		int64_t end = occurrence_end(e, u, &c, dur);
		if (e->last_end_utc != INT64_MAX && end > e->last_end_utc)
			e->last_end_utc = end;
	}
	if (e->last_end_utc < e->end_utc)
		e->last_end_utc = e->end_utc;
}

/* A series must start on one of its rule's instances: RFC 5545 counts
 * DTSTART as the first occurrence whatever the rule, libical and python's
 * dateutil do not, and calendar apps disagree about such a series (5 or 6
 * occurrences for COUNT=5), so subscribers would see different calendars.
 * Imports convert such a series instead (ical_import.c). */
static void check_on_rule(struct event_in *e, json_t *errors)
{
	struct civil first;
	char m[160], at[CIVIL_LEN];
	if (recur_first(e->rrule, e->timezone, &e->start, e->all_day, &first) != 0) {
		err(errors, "rrule", "the rule gives no occurrence");
		return;
	}
	if (civil_to_epoch(&first) == civil_to_epoch(&e->start))
		return;
	civil_format(&first, e->all_day, at);
	snprintf(m, sizeof(m),
	         "is not an occurrence of the rule: the first the rule gives is %s; start there, "
	         "or add this date as an rdate",
	         at);
	err(errors, "start", m);
}

/* The end of an event given none: its start, or the next day's for an
 * all-day event. */
static void default_end(struct event_in *e)
{
	e->end = e->start;
	e->end_utc = e->start_utc;
	if (e->all_day) {
		civil_add_days(&e->end, 1);
		if (tz_to_utc(e->timezone, &e->end, &e->end_utc) == TZ_UNKNOWN)
			e->end_utc = e->start_utc + 86400;
	}
}

static void check_times(json_t *obj, struct event_in *e, json_t *errors)
{
	json_t *ad = json_object_get(obj, "all_day");
	if (ad && !json_is_null(ad) && !json_is_boolean(ad))
		err(errors, "all_day", "must be true or false");
	e->all_day = json_is_true(ad);
	const char *start = text(obj, "start", 19, 0, 1, errors);
	const char *end = text(obj, "end", 19, 0, 0, errors);
	int ok = start && !local_time("start", start, e->all_day, e->timezone, &e->start,
	                              &e->start_utc, errors);
	if (end && !local_time("end", end, e->all_day, e->timezone, &e->end, &e->end_utc, errors)) {
		e->has_end = 1;
		if (ok && (e->end_utc < e->start_utc || (e->all_day && e->end_utc == e->start_utc)))
			err(errors, "end",
			    e->all_day ? "must be after start (the end date is exclusive)"
			               : "must not be before start");
	}
	if (ok && !e->has_end)
		default_end(e);
	e->rrule = text(obj, "rrule", 512, 0, 0, errors);
	char why[160];
	if (e->rrule && recur_validate(e->rrule, e->all_day, why, sizeof(why))) {
		err(errors, "rrule", why);
		e->rrule = NULL;
	}
	if (e->rrule && ok)
		check_on_rule(e, errors);
}

/* What a null or missing field means: the first of each list, the owner
 * org's zone, not all-day, and no dates, partners, tags or reminders. */
static const char *const statuses[] = {"confirmed", "tentative", "cancelled", NULL};
static const char *const visibilities[] = {"network", "private", NULL};

static int set_default(json_t *obj, const char *key, json_t *value)
{
	json_t *v = json_object_get(obj, key);
	if (v && !json_is_null(v)) {
		json_decref(value);
		return 0;
	}
	return json_object_set_new(obj, key, value);
}

int event_fill_defaults(json_t *obj, const char *default_tz)
{
	static const char *const lists[] = {"exdates", "rdates", "partners", "tags", "reminders"};
	int rc = set_default(obj, "status", json_string(statuses[0])) |
	         set_default(obj, "visibility", json_string(visibilities[0])) |
	         set_default(obj, "all_day", json_false()) |
	         set_default(obj, "timezone", json_string(default_tz));
	for (size_t i = 0; i < ARRAY_LEN(lists); i++)
		rc |= set_default(obj, lists[i], json_array());
	return rc;
}

int event_validate(json_t *obj, const char *default_tz, struct event_in *e, json_t *errors)
{
	static const char *const kinds[] = {"visit", "festival", "deadline", "meeting", NULL};
	size_t before = json_array_size(errors);
	memset(e, 0, sizeof(*e));
	check_known(obj, errors);
	e->kind = one_of(obj, "kind", kinds, NULL, errors);
	if (!e->kind && !json_object_get(obj, "kind"))
		err(errors, "kind", "is required");
	e->title = text(obj, "title", 500, 0, 1, errors);
	e->description = text(obj, "description", 20000, 1, 0, errors);
	e->location = text(obj, "location", 500, 0, 0, errors);
	e->city = text(obj, "city", 200, 0, 0, errors);
	e->country = text(obj, "country", 2, 0, 0, errors);
	if (e->country && !valid_country(e->country))
		err(errors, "country", "must be an ISO 3166-1 alpha-2 code such as VN");
	e->timezone = text(obj, "timezone", 64, 0, 0, errors);
	json_t *zone = json_object_get(obj, "timezone");
	if (!e->timezone && (!zone || json_is_null(zone)))
		e->timezone = default_tz;
	else if (!e->timezone && json_is_string(zone) && !*json_string_value(zone))
		err(errors, "timezone", "unknown IANA time zone"); /* "" names no zone */
	if (e->timezone && !(e->timezone = tz_canonical(e->timezone)))
		err(errors, "timezone", "unknown IANA time zone");
	check_times(obj, e, errors);
	check_dates(obj, "exdates", e, errors);
	check_dates(obj, "rdates", e, errors);
	check_ids(obj, e, errors);
	e->uid = text(obj, "uid", 255, 0, 0, errors);
	e->status = one_of(obj, "status", statuses, statuses[0], errors);
	e->visibility = one_of(obj, "visibility", visibilities, visibilities[0], errors);
	check_strings(obj, "partners", 63, 1, &e->partners, errors);
	check_strings(obj, "tags", 64, 0, &e->tags, errors);
	check_reminders(obj, e, errors);
	check_url(obj, e, errors);
	if (json_array_size(errors) != before)
		return -1;
	compute_span(e);
	return 0;
}

int event_countable(const struct event_in *e, json_t *errors)
{
	/* compute_span walked the rule with the budget a read has. */
	if (!recur_counted(e->rrule) || e->last_end_utc != INT64_MAX)
		return 0;
	err(errors, "rrule",
	    "its occurrences cannot be counted from its start within the time a read may take: "
	    "start the series later, or end it with UNTIL");
	return -1;
}

int event_times(struct event_in *e)
{
	if (tz_to_utc(e->timezone, &e->start, &e->start_utc) == TZ_UNKNOWN ||
	    (e->has_end && tz_to_utc(e->timezone, &e->end, &e->end_utc) == TZ_UNKNOWN))
		return -1;
	if (!e->has_end)
		default_end(e);
	compute_span(e);
	return 0;
}
