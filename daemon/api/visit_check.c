/* visit_check.c - a visit's body checked into the input of its write
 * (api/visits_sql.h): the visit's own fields and its own event (arrival
 * to departure, checked as an event is, in the visit's zone, by
 * common/event.c), who sees it, its delegates, and which stored delegate
 * or item a patch continues (so that they keep their ids and UIDs). The
 * programme's items are visit_items.c's; titles and names visit_text.c's. */
#include "api/jsonv.h"
#include "api/visit_op.h"
#include "event.h"
#include "macros.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const visit_directions[] = {"inbound", "outbound", NULL};
const char *const visit_statuses[] = {"proposed",  "confirmed", "in_progress",
                                      "completed", "cancelled", NULL};
static const char *const roles[] = {
    "head",          "deputy_head", "member",   "interpreter", "liaison_officer",
    "host_official", "press",       "security", "other",       NULL};

/* ---- synthesised events ------------------------------------------------------ */

static const char *ev_status_of(const char *status)
{
	if (status && !strcmp(status, "proposed"))
		return "tentative";
	if (status && !strcmp(status, "cancelled"))
		return "cancelled";
	return "confirmed";
}

int visit_synth_start(struct vcheck *c, json_t *ev, json_t **errs, struct evbuffer **d)
{
	*errs = json_array();
	*d = evbuffer_new();
	if (ev && *errs && *d)
		return 0;
	c->oom = 1;
	json_decref(ev);
	json_decref(*errs);
	if (*d)
		evbuffer_free(*d);
	return -1;
}

void visit_fields_copy(struct vcheck *c, json_t *from, json_t *to, const char *const (*map)[2],
                       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(from, map[i][0]);
		if (v && json_object_set(to, map[i][1], v))
			c->oom = 1;
	}
}

/* ---- the visit ---------------------------------------------------------------- */

/* Who sees the visit and where it is (city, country, visibility,
 * partners), checked by the rules of an event's fields of the same
 * names, apart from its times: an event at a time that always exists. */
static void check_audience(struct vcheck *c)
{
	static const char *const fields[][2] = {{"city", "city"},
	                                        {"country", "country"},
	                                        {"visibility", "visibility"},
	                                        {"partners", "partners"}};
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "kind", "visit", "title", "-", "start",
	                       "2000-01-01T00:00:00", "timezone", "UTC");
	json_t *errs = json_array();
	if (!ev || !errs) {
		c->oom = 1;
	} else {
		visit_fields_copy(c, c->body, ev, fields, ARRAY_LEN(fields));
		struct event_in in;
		if (event_validate(ev, "UTC", &in, errs) == 0) {
			visit_put_text(c, c->out, "city", in.city);
			visit_put_text(c, c->out, "country", in.country);
			visit_put_text(c, c->out, "visibility", in.visibility);
			visit_put(c, c->out, "partners",
			          in.partners ? json_incref(in.partners) : json_array());
		}
		jv_errors_rename(c->errors, errs, "", fields, ARRAY_LEN(fields));
	}
	json_decref(ev);
	json_decref(errs);
}

/* languages: tags the visit's titles are shown in, first ones first. */
static void check_languages(struct vcheck *c)
{
	json_t *langs = json_object_get(c->body, "languages");
	if (langs && !json_is_null(langs) &&
	    (!json_is_array(langs) || json_array_size(langs) > VISIT_MAX_LANGUAGES)) {
		jv_error(c->errors, "languages", "must be an array of at most 10 language tags");
		return;
	}
	size_t i;
	json_t *l;
	json_array_foreach(langs, i, l)
	{
		char f[32];
		snprintf(f, sizeof(f), "languages[%zu]", i);
		if (!json_is_string(l) || !valid_lang_tag(json_string_value(l)))
			jv_error(c->errors, f, "must be a language tag such as vi, en or ko");
		else
			visit_add_lang(c, json_string_value(l));
	}
}

/* The visit's own event, arrival to departure in its zone, checked as an
 * event (so DST gaps and folds behave as for events). */
static void check_stay(struct vcheck *c, const char *default_tz, const char *direction,
                       const char *purpose)
{
	static const char *const span_map[][2] = {
	    {"start", "arrive"}, {"end", "depart"}, {"timezone", "timezone"}};
	static const char *const times[][2] = {
	    {"arrive", "start"}, {"depart", "end"}, {"timezone", "timezone"}};
	json_t *title = json_object_get(c->body, "title"), *out = c->out;
	json_t *ev = json_pack("{s:s, s:s, s:s}", "kind", "visit", "title",
	                       c->title ? c->title : "-", "status", c->ev_status);
	json_t *errs;
	struct evbuffer *d;
	if (visit_synth_start(c, ev, &errs, &d))
		return;
	visit_fields_copy(c, c->body, ev, times, ARRAY_LEN(times));
	evbuffer_add_printf(d, "%s delegation visit.\n",
	                    direction && !strcmp(direction, "outbound") ? "Outbound" : "Inbound");
	if (purpose)
		evbuffer_add_printf(d, "%s\n", purpose);
	if (json_is_object(title) && c->title) {
		evbuffer_add(d, "\n", 1);
		visit_titles_other(d, title, c->langs, c->title);
	}
	visit_put(c, ev, "description", visit_description(d));
	struct event_in in;
	int rc = event_validate(ev, default_tz, &in, errs);
	jv_errors_rename(c->errors, errs, "", span_map, ARRAY_LEN(span_map));
	c->tz = in.timezone; /* canonical, or NULL when not a zone */
	check_audience(c);
	if (rc == 0 && in.has_end && in.end_utc <= in.start_utc) {
		jv_error(c->errors, "depart", "must be after arrive");
	} else if (rc == 0 && in.has_end) {
		char arrive[CIVIL_LEN], depart[CIVIL_LEN];
		civil_format(&in.start, 0, arrive);
		civil_format(&in.end, 0, depart);
		c->have_span = 1;
		c->arrive = in.start_utc;
		c->depart = in.end_utc;
		visit_put_text(c, out, "timezone", in.timezone);
		visit_put_text(c, out, "arrive", arrive);
		visit_put_text(c, out, "depart", depart);
		visit_put(c, out, "arrive_utc", json_integer(in.start_utc));
		visit_put(c, out, "depart_utc", json_integer(in.end_utc));
		visit_put(c, out, "description", json_incref(json_object_get(ev, "description")));
	}
	json_decref(ev);
	json_decref(errs);
}

/* The visit's own fields and its own event. */
static void check_visit(struct vcheck *c, const char *default_tz)
{
	static const char *const allowed[] = {"direction", "title",     "languages",  "timezone",
	                                      "arrive",    "depart",    "city",       "country",
	                                      "purpose",   "partners",  "visibility", "status",
	                                      "delegates", "programme", NULL};
	static const char *const ignored[] = {"id", "org", "created_at", "updated_at", NULL};
	json_t *b = c->body, *out = c->out;
	jv_known(b, allowed, ignored, c->errors);
	const char *direction =
	    visit_pick(b, "direction", "direction", visit_directions, NULL, c->errors);
	if (!json_object_get(b, "direction") || json_is_null(json_object_get(b, "direction")))
		jv_error(c->errors, "direction", "is required (inbound or outbound)");
	c->status = visit_pick(b, "status", "status", visit_statuses, "proposed", c->errors);
	c->ev_status = ev_status_of(c->status);
	const char *purpose = jv_string(b, "purpose", 0, 5000, 1, c->errors);
	check_languages(c);
	json_t *title = json_object_get(b, "title");
	c->title =
	    visit_title_check(c, b, "title") == 0 ? visit_title_first(title, c->langs) : NULL;
	if (!json_object_get(b, "depart") || json_is_null(json_object_get(b, "depart")))
		jv_error(c->errors, "depart", "is required");
	check_stay(c, default_tz, direction, purpose);
	visit_put_text(c, out, "direction", direction);
	visit_put_text(c, out, "title", c->title);
	visit_put(c, out, "titles", json_is_object(title) ? json_incref(title) : json_null());
	visit_put_text(c, out, "purpose", purpose);
	visit_put_text(c, out, "status", c->status);
	visit_put_text(c, out, "ev_status", c->ev_status);
}

/* ---- which stored delegate or item each one continues ------------------------- */

/* Whether x sends back the id of a stored entry (of itself or its event). */
static int has_id(json_t *x)
{
	json_t *a = json_object_get(x, "id"), *b = json_object_get(x, "event_id");
	return (a && !json_is_null(a)) || (b && !json_is_null(b));
}

/* First the id sent back ("id", or an item's "event_id"), which must name
 * a stored entry; then, for entries sent without one, passes 1..passes of
 * same(), each taking for every entry still free the first stored entry
 * still free that is the same by its rule. */
void visit_match_stored(struct vcheck *c, json_t *list, json_t *stored, const char *name,
                        int passes, visit_same_fn same, int *of, int *taken)
{
	size_t n = json_array_size(list), ns = json_array_size(stored);
	if (ns > VISIT_MAX_ITEMS || ns > VISIT_MAX_DELEGATES) /* of[] and taken[] hold that many */
		ns = VISIT_MAX_ITEMS < VISIT_MAX_DELEGATES ? VISIT_MAX_ITEMS : VISIT_MAX_DELEGATES;
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(list, i);
		of[i] = -1;
		for (int pass = 0; pass < 2; pass++) {
			const char *key = pass ? "event_id" : "id";
			json_t *id = json_object_get(x, key);
			if (!id || json_is_null(id) || of[i] >= 0)
				continue;
			for (size_t k = 0; k < ns && of[i] < 0; k++)
				if (!taken[k] &&
				    json_equal(id, json_object_get(json_array_get(stored, k), key)))
					of[i] = (int)k;
			if (of[i] < 0) {
				char f[64];
				snprintf(f, sizeof(f), "%s[%zu].%s", name, i, key);
				jv_error(c->errors, f,
				         "names nothing of this visit (it was removed?)");
			} else {
				taken[of[i]] = 1;
			}
		}
	}
	for (int pass = 1; pass <= passes; pass++)
		for (size_t i = 0; i < n; i++) {
			json_t *x = json_array_get(list, i);
			if (of[i] >= 0 || has_id(x))
				continue;
			for (size_t k = 0; k < ns && of[i] < 0; k++)
				if (!taken[k] && same(pass, x, json_array_get(stored, k))) {
					of[i] = (int)k;
					taken[k] = 1;
				}
		}
}

static int same_delegate(int pass, json_t *mine, json_t *stored)
{
	(void)pass;
	const char *a = json_string_value(json_object_get(mine, "name"));
	const char *b = json_string_value(json_object_get(stored, "name"));
	char ka[VISIT_PERSON_KEY], kb[VISIT_PERSON_KEY];
	if (!a || !b)
		return 0;
	visit_person_key(a, ka, sizeof(ka));
	visit_person_key(b, kb, sizeof(kb));
	return !strcmp(ka, kb);
}

/* ---- lists and delegates ---------------------------------------------------------- */

json_t *visit_list_of(struct vcheck *c, const char *member, const char *out_key, size_t max,
                      json_t **rows)
{
	json_t *list = json_object_get(c->body, member);
	*rows = json_array();
	visit_put(c, c->out, out_key, *rows);
	if (!*rows || !list || json_is_null(list))
		return NULL;
	if (!json_is_array(list) || json_array_size(list) > max) {
		char m[64];
		snprintf(m, sizeof(m), "must be an array of at most %zu entries", max);
		jv_error(c->errors, member, m);
		return NULL;
	}
	return list;
}

/* One delegate (at base): its texts into v[] (name, title, organisation,
 * notes, language), its role returned. */
static const char *delegate_fields(struct vcheck *c, json_t *d, const char *base, const char *v[5])
{
	static const char *const texts[] = {"name", "title", "organisation", "notes"};
	static const size_t max[] = {200, 200, 200, 2000};
	char f[96];
	for (size_t t = 0; t < ARRAY_LEN(texts); t++) {
		snprintf(f, sizeof(f), "%s.%s", base, texts[t]);
		v[t] = jv_string_at(d, texts[t], f, t == 0, max[t], t == 3, c->errors);
	}
	snprintf(f, sizeof(f), "%s.language", base);
	v[4] = jv_string_at(d, "language", f, 0, 35, 0, c->errors);
	if (v[4] && !valid_lang_tag(v[4]))
		jv_error(c->errors, f, "must be a language tag such as vi, en or ko");
	snprintf(f, sizeof(f), "%s.role", base);
	return visit_pick(d, "role", f, roles, "member", c->errors);
}

static void check_delegates(struct vcheck *c)
{
	static const char *const allowed[] = {"name",  "title", "organisation", "role", "language",
	                                      "notes", NULL};
	static const char *const ignored[] = {"id", NULL};
	json_t *rows,
	    *list = visit_list_of(c, "delegates", "delegates", VISIT_MAX_DELEGATES, &rows);
	if (!list)
		return;
	int of[VISIT_MAX_DELEGATES], taken[VISIT_MAX_DELEGATES] = {0};
	json_t *stored = c->stored ? json_object_get(c->stored, "delegates") : NULL;
	if (c->stored)
		visit_match_stored(c, list, stored, "delegates", 1, same_delegate, of, taken);
	int head = -1;
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		char base[32], f[96];
		snprintf(base, sizeof(base), "delegates[%zu]", i);
		if (!jv_entry(d, base, allowed, ignored, c->errors)) {
			if (json_array_append_new(c->keys, json_string("")))
				c->oom = 1;
			continue;
		}
		const char *v[5];
		const char *role = delegate_fields(c, d, base, v);
		if (role && !strcmp(role, "head")) {
			if (head >= 0) {
				char m[96];
				snprintf(m, sizeof(m),
				         "the delegation has a head already (delegates[%d])", head);
				snprintf(f, sizeof(f), "%s.role", base);
				jv_error(c->errors, f, m);
			}
			head = (int)i;
		}
		char key[VISIT_PERSON_KEY] = "";
		if (v[0])
			visit_person_key(v[0], key, sizeof(key));
		if (*key && jv_index_of(c->keys, key) >= 0) {
			snprintf(f, sizeof(f), "%s.name", base);
			jv_error(c->errors, f, "another delegate of this visit has this name");
		}
		if (json_array_append_new(c->keys, json_string(key)))
			c->oom = 1;
		json_t *kept = stored && of[i] >= 0
		                   ? json_object_get(json_array_get(stored, of[i]), "id")
		                   : NULL;
		json_t *row =
		    json_pack("{s:O?, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", kept, "n",
		              (json_int_t)i + 1, "name", v[0], "title", v[1], "organisation", v[2],
		              "role", role, "language", v[4], "notes", v[3]);
		if (!row || json_array_append_new(rows, row))
			c->oom = 1;
	}
}

int visit_delegate_named(struct vcheck *c, json_t *name, const char *field)
{
	const char *s = json_string_value(name);
	char key[VISIT_PERSON_KEY];
	if (!s || !*s || strlen(s) > 200) {
		jv_error(c->errors, field, "must be the name of one of the visit's delegates");
		return 0;
	}
	visit_person_key(s, key, sizeof(key));
	int at = jv_index_of(c->keys, key);
	if (at < 0)
		jv_error(c->errors, field,
		         "names no delegate of this visit (add them to delegates)");
	return at + 1;
}

/* ---- the whole ------------------------------------------------------------------ */

int visit_check(struct vcheck *c, const char *default_tz)
{
	c->out = json_object();
	c->langs = json_array();
	c->keys = json_array();
	if (!c->out || !c->langs || !c->keys || !c->errors) {
		c->oom = 1;
		return -1;
	}
	check_visit(c, default_tz);
	check_delegates(c);
	visit_items_check(c);
	visit_put(c, c->out, "languages", json_incref(c->langs));
	return c->oom || json_array_size(c->errors) ? -1 : 0;
}

void visit_check_clear(struct vcheck *c)
{
	json_decref(c->out);
	json_decref(c->langs);
	json_decref(c->keys);
	json_decref(c->errors);
	memset(c, 0, sizeof(*c));
}
