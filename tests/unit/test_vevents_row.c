/* test_vevents_row.c - vevents_render (daemon/core/vevents.c) reads a
 * VEVENT_SELECT row straight into the renderer's struct ics_event; this
 * holds it to the bytes of the way it went before: the row as the API's
 * object (event_json_build and the additions below, kept here as they
 * were) rendered by ics_render_vevent (itself held to libical's output by
 * test_ics_render_same.c). Rows are made in memory: NULLs, all-day,
 * overrides, exdates with cancelled occurrences merged, partners with and
 * without names, agreements whose parties are or are not the partners,
 * changed stamps and sequences, titles in a feed's language. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/event_json.h"
#include "core/vevents.h"
#include "ics_render.h"
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A series' cancelled occurrences join its exdates, in order, once each:
 * every client honours an EXDATE (a cancelled RECURRENCE-ID instance is
 * shown as an event by some, struck through by others), and it stays with
 * the master for as long as the series is in the feed. */
static void add_cancelled(json_t *ev, const char *cancelled)
{
	json_t *more = json_loads(cancelled, 0, NULL);
	json_t *ex = json_object_get(ev, "exdates");
	if (!json_is_array(more) || !json_is_array(ex)) {
		json_decref(more);
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(more, i, v)
	{
		const char *s = json_string_value(v);
		size_t at = 0;
		while (at < json_array_size(ex) &&
		       strcmp(json_string_value(json_array_get(ex, at)), s) < 0)
			at++;
		if (at == json_array_size(ex) ||
		    strcmp(json_string_value(json_array_get(ex, at)), s))
			json_array_insert(ex, at, v);
	}
	json_decref(more);
}

/* The JSON array of column col of row k, or an empty one. */
static json_t *json_column(const PGresult *res, int k, int col)
{
	json_t *v = PQgetisnull(res, k, col) ? NULL : json_loads(PQgetvalue(res, k, col), 0, NULL);
	if (json_is_array(v))
		return v;
	json_decref(v);
	return json_array();
}

/* A row as the event the renderer takes: the API's representation (built
 * from plain columns, which costs the database far less than JSON), with
 * the parent's UID, the agreement, the names of the orgs it names (owner,
 * partners, parties), and for a series its cancelled occurrences as
 * EXDATEs. What changes the VEVENT from elsewhere moves its DTSTAMP too,
 * which calendars compare to notice a change: an override cancelled, the
 * agreement changed (these move SEQUENCE as well), an org it names
 * renamed (not SEQUENCE: renames are not counted per event, and a count
 * over the orgs it names would go back when a partner is taken off). */
static json_t *oracle_row_event(const PGresult *res, int k)
{
	json_t *ev = event_json_build(res, k, VEVENT_COLS);
	if (!ev)
		return NULL;
	if (!PQgetisnull(res, k, 2))
		json_object_set_new(ev, "parent_uid", json_string(PQgetvalue(res, k, 2)));
	json_object_set_new(ev, "org_name", json_string(PQgetvalue(res, k, VEVENT_ORG_NAME)));
	json_object_set_new(ev, "partner_names", json_column(res, k, VEVENT_PARTNER_NAMES));
	if (!PQgetisnull(res, k, 3)) {
		json_t *ag =
		    json_pack("{s:s, s:s, s:o, s:o, s:s?, s:s?}", "title", PQgetvalue(res, k, 3),
		              "stage", PQgetvalue(res, k, 4), "parties", json_column(res, k, 5),
		              "party_names", json_column(res, k, VEVENT_PARTY_NAMES), "signed_on",
		              PQgetisnull(res, k, 6) ? NULL : PQgetvalue(res, k, 6), "expires_on",
		              PQgetisnull(res, k, 7) ? NULL : PQgetvalue(res, k, 7));
		if (ag)
			json_object_set_new(ev, "agreement", ag);
	}
	long long more = strtoll(PQgetvalue(res, k, VEVENT_SERIES_SEQUENCE), NULL, 10);
	if (more > 0)
		json_object_set_new(
		    ev, "sequence",
		    json_integer(json_integer_value(json_object_get(ev, "sequence")) + more));
	const char *changed = PQgetvalue(res, k, VEVENT_SERIES_CHANGED);
	const char *updated = json_string_value(json_object_get(ev, "updated_at"));
	if (!PQgetisnull(res, k, VEVENT_SERIES_CHANGED) && updated && strcmp(changed, updated) > 0)
		json_object_set_new(ev, "updated_at", json_string(changed));
	if (!PQgetisnull(res, k, VEVENT_CANCELLED))
		add_cancelled(ev, PQgetvalue(res, k, VEVENT_CANCELLED));
	if (!PQgetisnull(res, k, VEVENT_SERIES_ZONE))
		json_object_set_new(ev, "series_timezone",
		                    json_string(PQgetvalue(res, k, VEVENT_SERIES_ZONE)));
	if (!PQgetisnull(res, k, VEVENT_TITLE)) /* in the feed's language */
		json_object_set_new(ev, "title", json_string(PQgetvalue(res, k, VEVENT_TITLE)));
	return ev;
}

#define NCOLS (VEVENT_COLS + EVENT_NCOLS)

static PGresult *row_of(const char *const values[NCOLS])
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[NCOLS];
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < NCOLS; i++)
		attrs[i].name = (char *)"c";
	assert_int_equal(PQsetResultAttrs(res, NCOLS, attrs), 1);
	for (int i = 0; i < NCOLS; i++)
		assert_int_equal(PQsetvalue(res, 0, i, (char *)values[i],
		                            values[i] ? (int)strlen(values[i]) : -1),
		                 1);
	return res;
}

static int differs(const char *const values[NCOLS])
{
	PGresult *res = row_of(values);
	int bad = 0;
	for (int alarms = 0; alarms <= 1; alarms++) {
		json_t *ev = oracle_row_event(res, 0);
		const char *zone = NULL;
		char *a = ev ? ics_render_vevent(ev, alarms, &zone) : NULL;
		struct vtext *b = vevents_render(res, 0, alarms);
		const char *za = a && zone && !tz_is_utc(zone) ? zone : "";
		if ((!a) != (!b) || (a && (strcmp(a, b->text) || strcmp(za, b->zone)))) {
			char *j = ev ? json_dumps(ev, JSON_SORT_KEYS) : NULL;
			fprintf(stderr, "differs (alarms %d): %s\n--- object\n%s\n--- row\n%s\n",
			        alarms, j ? j : "?", a ? a : "(null)", b ? b->text : "(null)");
			free(j);
			bad = 1;
		}
		free(a);
		vtext_unref(b);
		json_decref(ev);
	}
	PQclear(res);
	return bad;
}

/* A plain row: VEVENT_SELECT's columns, then EVENT_COLS. */
static const char *const plain[NCOLS] = {
    "7d5f6c1e-0000-4000-8000-000000000001", /* id */
    "3.0.0.1",                              /* stamp */
    NULL,                                   /* parent's UID */
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,              /* agreement: title, stage, parties, signed, expires */
    "0",               /* series sequence */
    NULL,              /* changed */
    NULL,              /* cancelled */
    NULL,              /* series zone */
    "Sở KH&CN TP.HCM", /* org name */
    NULL,              /* partner names */
    NULL,              /* party names */
    NULL,              /* title in the feed's language */
    "7d5f6c1e-0000-4000-8000-000000000001",
    "hcmc-dost",
    "visit",
    "Đà Nẵng kết nối hệ sinh thái khởi nghiệp 1; with, separators \\ and a long tail",
    "Agenda for item 1\nline two",
    "Room 1, Tower",
    "Busan",
    "KR",
    "Asia/Seoul",
    "f",
    "1798880400",
    "1798884000",
    NULL,
    "{}",
    "{}",
    NULL,
    NULL,
    "feed-1@bench",
    "confirmed",
    "org",
    "{}",
    "{big}",
    NULL,
    NULL,
    "{-PT15M}",
    NULL,
    "3",
    "1790000000",
    "1790000123",
};

enum { E = VEVENT_COLS };

static void test_rows(void **state)
{
	(void)state;
	const char *r[NCOLS];
	int bad = differs(plain);
	/* Every column NULL in turn, then empty. */
	for (int col = 0; col < NCOLS; col++) {
		memcpy(r, plain, sizeof(r));
		r[col] = NULL;
		if (col != VEVENT_SERIES_SEQUENCE)
			bad |= differs(r);
		r[col] = "";
		if (col != E + EVENT_C_START)
			bad |= differs(r);
	}
	static const struct {
		int col;
		const char *value;
	} changes[][6] = {
	    {{E + EVENT_C_ALL_DAY, "t"},
	     {E + EVENT_C_START, "1798848000"},
	     {E + EVENT_C_END, "1799020800"}},
	    {{E + EVENT_C_TIMEZONE, "UTC"},
	     {E + EVENT_C_RRULE, "FREQ=WEEKLY;COUNT=10"},
	     {E + EVENT_C_EXDATES, "{1799485200,1800090000}"},
	     {E + EVENT_C_RDATES, "{1801090000}"},
	     {VEVENT_CANCELLED,
	      "[\"2027-01-11T09:00:00\", \"2027-01-01T09:00:00\", \"2028-01-01T00:00:00\"]"}},
	    {{E + EVENT_C_RRULE, "FREQ=DAILY"}, {E + EVENT_C_EXDATES, "{1799485200,NULL}"}},
	    {{E + EVENT_C_RRULE, "FREQ=DAILY"},
	     {E + EVENT_C_EXDATES, "{1799485200}"},
	     {VEVENT_CANCELLED, "[\"2027-01-11T09:00:00\", \"2027-01-11T09:00:00\"]"}},
	    {{E + EVENT_C_ALL_DAY, "t"},
	     {E + EVENT_C_RRULE, "FREQ=YEARLY"},
	     {E + EVENT_C_EXDATES, "{1799452800}"},
	     {VEVENT_CANCELLED, "[\"2027-01-11\", \"2026-12-31\"]"}},
	    {{E + EVENT_C_SERIES_ID, "s"},
	     {E + EVENT_C_RECURRENCE_ID, "1798880400"},
	     {VEVENT_SERIES_ZONE, "America/Toronto"},
	     {E + EVENT_C_STATUS, "cancelled"}},
	    {{E + EVENT_C_SERIES_ID, "s"},
	     {E + EVENT_C_RECURRENCE_ID, "1798880400"},
	     {VEVENT_SERIES_ZONE, "Asia/Seoul"}},
	    {{E + EVENT_C_PARTNERS, "{busan,\"a b\",NULL}"}},
	    {{E + EVENT_C_PARTNERS, "{busan,cabc}"},
	     {VEVENT_PARTNER_NAMES, "[\"Busan City\", \"CABC\"]"}},
	    {{E + EVENT_C_PARTNERS, "{busan,cabc}"}, {VEVENT_PARTNER_NAMES, "[\"Busan City\"]"}},
	    {{E + EVENT_C_PARTNERS, "{busan,cabc}"}, {VEVENT_PARTNER_NAMES, "not json"}},
	    {{E + EVENT_C_PARTNERS, "{busan}"},
	     {3, "MOU on \"startup\" exchange"},
	     {4, "signed"},
	     {5, "[\"busan\"]"},
	     {6, "2025-01-02"},
	     {VEVENT_PARTY_NAMES, "[\"Busan City\"]"}},
	    {{E + EVENT_C_PARTNERS, "{busan}"},
	     {3, "MOU"},
	     {4, "expired"},
	     {5, "[\"cabc\", null]"},
	     {7, "2030-01-02"},
	     {6, "2025-01-02"}},
	    {{3, "T"}, {4, "renewal"}, {5, "[]"}, {6, "bad"}},
	    {{3, ""}, {4, ""}, {5, NULL}},
	    {{VEVENT_SERIES_SEQUENCE, "4"}, {VEVENT_SERIES_CHANGED, "2027-01-01T00:00:00Z"}},
	    {{VEVENT_SERIES_SEQUENCE, "-2"}, {VEVENT_SERIES_CHANGED, "2020-01-01T00:00:00Z"}},
	    {{VEVENT_TITLE, "Kết nối (tiếng Việt)"},
	     {E + EVENT_C_TAGS, "{\"a,b\",\"c\\\"d\",NULL,\"\"}"}},
	    {{E + EVENT_C_REMINDERS, "{-P1D,-PT15M,bad,NULL}"},
	     {E + EVENT_C_URL, "https://e.org/?a=b,c"}},
	    {{2, "parent@liaison"}, {E + EVENT_C_KIND, "meeting"}, {E + EVENT_C_SEQUENCE, NULL}},
	    {{E + EVENT_C_START, "-3000000000"}},
	    {{E + EVENT_C_END, "1798880400"}},
	};
	for (size_t c = 0; c < sizeof(changes) / sizeof(*changes); c++) {
		memcpy(r, plain, sizeof(r));
		for (size_t i = 0; i < 6 && changes[c][i].col; i++)
			r[changes[c][i].col] = changes[c][i].value;
		bad |= differs(r);
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
