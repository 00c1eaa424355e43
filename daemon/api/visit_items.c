/* visit_items.c - a visit's programme checked into the input of its
 * write: each item's kind, title, people and interpreter (delegates of
 * the visit, by name), and its event, checked as an event in the visit's
 * zone and within the stay; the visit's title goes in the event's
 * DESCRIPTION. A patch's items continue the stored ones they match
 * (visit_match_stored), so that their events keep their ids and UIDs. */
#include "api/jsonv.h"
#include "api/visit_op.h"
#include "event.h"
#include "macros.h"
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const item_kinds[] = {"meeting", "site_visit", "ceremony", "meal", "transfer",
                                         "press",   "free_time",  "other",    NULL};

/* An item is the stored one with the same title and start, then the same
 * title (it moved), then the same start (it was renamed). */
static int same_item(int pass, json_t *mine, json_t *stored)
{
	int title = json_equal(json_object_get(mine, "title"), json_object_get(stored, "title"));
	json_t *a = json_object_get(mine, "start"), *b = json_object_get(stored, "start");
	int start = json_is_string(a) && json_is_string(b) &&
	            !strcmp(json_string_value(a), json_string_value(b));
	return pass == 1 ? title && start : pass == 2 ? title : start;
}

/* Its people and interpreter, as delegates' positions. */
static void item_people(struct vcheck *c, json_t *x, const char *base, json_t *row)
{
	char f[96];
	json_t *people = json_object_get(x, "people"), *pos = json_array();
	visit_put(c, row, "people", pos);
	if (!pos)
		return;
	if (people && !json_is_null(people) &&
	    (!json_is_array(people) || json_array_size(people) > VISIT_MAX_DELEGATES)) {
		snprintf(f, sizeof(f), "%s.people", base);
		jv_error(c->errors, f, "must be an array of delegates' names");
	} else {
		size_t k;
		json_t *p;
		json_array_foreach(people, k, p)
		{
			snprintf(f, sizeof(f), "%s.people[%zu]", base, k);
			int n = visit_delegate_named(c, p, f);
			for (size_t j = 0; n && j < json_array_size(pos); j++)
				if (json_integer_value(json_array_get(pos, j)) == n)
					jv_error(c->errors, f, "is named twice");
			json_t *jn = json_integer(n);
			if (!jn || json_array_append_new(pos, jn))
				c->oom = 1;
		}
	}
	json_t *interp = json_object_get(x, "interpreter");
	int n = 0;
	if (interp && !json_is_null(interp)) {
		snprintf(f, sizeof(f), "%s.interpreter", base);
		n = visit_delegate_named(c, interp, f);
		for (size_t j = 0; n && j < json_array_size(pos); j++)
			if (json_integer_value(json_array_get(pos, j)) == n)
				jv_error(c->errors, f, "is among the item's people already");
	}
	visit_put(c, row, "interpreter", n ? json_integer(n) : json_null());
}

/* Whether the item's event (in) lies within the stay. */
static void within_stay(struct vcheck *c, const struct event_in *in, const char *prefix)
{
	char f[64], m[96];
	if (in->start_utc < c->arrive) {
		snprintf(f, sizeof(f), "%sstart", prefix);
		snprintf(m, sizeof(m), "is before the visit's arrival (%s)",
		         json_string_value(json_object_get(c->out, "arrive")));
		jv_error(c->errors, f, m);
	}
	if (in->end_utc > c->depart) {
		snprintf(f, sizeof(f), "%s%s", prefix, in->has_end ? "end" : "start");
		snprintf(m, sizeof(m), "is after the visit's departure (%s)",
		         json_string_value(json_object_get(c->out, "depart")));
		jv_error(c->errors, f, m);
	}
}

/* The description of an item's event: the visit, the item's kind, its
 * title in the other languages and its address. */
static json_t *item_description(struct vcheck *c, struct evbuffer *d, json_t *x, const char *kind,
                                const char *title)
{
	const char *address = json_string_value(json_object_get(x, "address"));
	char label[32];
	snprintf(label, sizeof(label), "%s", kind ? kind : "item");
	for (char *u = strchr(label, '_'); u; u = strchr(u, '_'))
		*u = ' ';
	evbuffer_add_printf(d, "Visit: %s\nProgramme item: %s\n", c->title ? c->title : "", label);
	if (json_is_object(json_object_get(x, "title")) && title)
		visit_titles_other(d, json_object_get(x, "title"), c->langs, title);
	if (address)
		evbuffer_add_printf(d, "Address: %s\n", address);
	return visit_description(d);
}

/* One item's event, checked as an event in the visit's zone, and within
 * the visit's stay; its columns go to row. */
static void item_event(struct vcheck *c, json_t *x, size_t i, const char *kind, const char *title,
                       json_t *row)
{
	static const char *const map[][2] = {{"start", "start"},
	                                     {"end", "end"},
	                                     {"location", "location"},
	                                     {"reminders", "reminders"}};
	char prefix[48];
	snprintf(prefix, sizeof(prefix), "programme[%zu].", i);
	json_t *ev = json_pack("{s:s, s:s, s:s}", "kind",
	                       kind && !strcmp(kind, "meeting") ? "meeting" : "visit", "title",
	                       title ? title : "-", "timezone", c->tz);
	json_t *errs;
	struct evbuffer *d;
	if (visit_synth_start(c, ev, &errs, &d))
		return;
	visit_fields_copy(c, x, ev, map, ARRAY_LEN(map));
	json_t *desc = item_description(c, d, x, kind, title);
	visit_put(c, ev, "description", desc ? json_incref(desc) : NULL);
	struct event_in in;
	int rc = event_validate(ev, c->tz, &in, errs);
	jv_errors_rename(c->errors, errs, prefix, map, ARRAY_LEN(map));
	if (rc == 0 && c->have_span)
		within_stay(c, &in, prefix);
	if (rc == 0) {
		char start[CIVIL_LEN], end[CIVIL_LEN];
		civil_format(&in.start, 0, start);
		civil_format(&in.end, 0, end);
		visit_put_text(c, row, "ev_kind", in.kind);
		visit_put_text(c, row, "title", title);
		visit_put(c, row, "description", desc ? json_incref(desc) : json_null());
		visit_put_text(c, row, "location", in.location);
		visit_put_text(c, row, "start_local", start);
		visit_put_text(c, row, "end_local", in.has_end ? end : NULL);
		visit_put(c, row, "start_utc", json_integer(in.start_utc));
		visit_put(c, row, "end_utc", json_integer(in.end_utc));
		visit_put(c, row, "reminders",
		          in.reminders ? json_incref(in.reminders) : json_array());
	}
	json_decref(desc);
	json_decref(ev);
	json_decref(errs);
}

/* Items in time order, numbered so (n): their position breaks ties of
 * start only, and a programme sent again in another order is the same. */
static void number_items(json_t *rows)
{
	size_t n = json_array_size(rows);
	for (size_t i = 1; i < n; i++) /* insertion sort: stable, at most VISIT_MAX_ITEMS */
		for (size_t j = i; j > 0; j--) {
			json_t *a = json_array_get(rows, j - 1), *b = json_array_get(rows, j);
			if (json_integer_value(json_object_get(a, "start_utc")) <=
			    json_integer_value(json_object_get(b, "start_utc")))
				break;
			json_incref(b);
			json_array_set(rows, j, a);
			json_array_set_new(rows, j - 1, b);
		}
	for (size_t i = 0; i < n; i++)
		json_integer_set(json_object_get(json_array_get(rows, i), "n"), (json_int_t)i + 1);
}

void visit_items_check(struct vcheck *c)
{
	static const char *const allowed[] = {"kind",     "title",     "start",  "end",
	                                      "location", "address",   "people", "interpreter",
	                                      "notes",    "reminders", NULL};
	static const char *const ignored[] = {"id", "event_id", "status", "conflicts", NULL};
	json_t *rows, *list = visit_list_of(c, "programme", "items", VISIT_MAX_ITEMS, &rows);
	if (!list)
		return;
	int of[VISIT_MAX_ITEMS], taken[VISIT_MAX_ITEMS] = {0};
	json_t *stored = c->stored ? json_object_get(c->stored, "programme") : NULL;
	if (c->stored)
		visit_match_stored(c, list, stored, "programme", 3, same_item, of, taken);
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
	{
		char base[32], f[96];
		snprintf(base, sizeof(base), "programme[%zu]", i);
		if (!jv_entry(x, base, allowed, ignored, c->errors))
			continue;
		snprintf(f, sizeof(f), "%s.kind", base);
		const char *kind = visit_pick(x, "kind", f, item_kinds, "meeting", c->errors);
		snprintf(f, sizeof(f), "%s.title", base);
		const char *title = visit_title_check(c, x, f) == 0
		                        ? visit_title_first(json_object_get(x, "title"), c->langs)
		                        : NULL;
		snprintf(f, sizeof(f), "%s.address", base);
		const char *address = jv_string_at(x, "address", f, 0, 500, 0, c->errors);
		snprintf(f, sizeof(f), "%s.notes", base);
		const char *notes = jv_string_at(x, "notes", f, 0, 2000, 1, c->errors);
		json_t *s = stored && of[i] >= 0 ? json_array_get(stored, of[i]) : NULL;
		json_t *t = json_object_get(x, "title");
		json_t *row =
		    json_pack("{s:O?, s:O?, s:I, s:s?, s:O?, s:s?, s:s?}", "id",
		              json_object_get(s, "id"), "event_id", json_object_get(s, "event_id"),
		              "n", (json_int_t)i + 1, "kind", kind, "titles",
		              json_is_object(t) ? t : NULL, "address", address, "notes", notes);
		if (!row || json_array_append_new(rows, row)) {
			c->oom = 1;
			continue;
		}
		item_people(c, x, base, row);
		if (c->tz)
			item_event(c, x, i, kind, title, row);
	}
	number_items(rows);
}
