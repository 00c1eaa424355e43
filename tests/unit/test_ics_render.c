/* test_ics_render.c - feed rendering in UTC and zones (common/ics_render.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ics_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Times of an event kept in UTC are written with Z (not as floating local
 * times), others with their TZID; a zone without DST has no observance
 * that changes nothing (libical's 2038 artefact). */
static void test_render_utc_and_zones(void **state)
{
	(void)state;
	json_t *ev = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:[s], s:s}", "uid", "u@t", "timezone", "UTC",
	    "start", "2027-05-01T17:00:00", "end", "2027-05-01T18:00:00", "title", "Report due",
	    "all_day", 0, "updated_at", "2026-01-01T00:00:00Z", "rrule", "FREQ=DAILY;COUNT=3",
	    "exdates", "2027-05-02T17:00:00", "created_at", "2026-01-01T00:00:00Z");
	assert_non_null(ev);
	const char *zone = "x";
	char *text = ics_render_vevent(ev, 0, &zone);
	assert_non_null(text);
	assert_non_null(strstr(text, "\r\nDTSTART:20270501T170000Z\r\n"));
	assert_non_null(strstr(text, "\r\nDTEND:20270501T180000Z\r\n"));
	assert_non_null(strstr(text, "\r\nEXDATE:20270502T170000Z\r\n"));
	assert_null(strstr(text, "TZID"));
	free(text);
	json_object_set_new(ev, "timezone", json_string("Asia/Ho_Chi_Minh"));
	text = ics_render_vevent(ev, 0, &zone);
	assert_non_null(strstr(text, "\r\nDTSTART;TZID=Asia/Ho_Chi_Minh:20270501T170000\r\n"));
	assert_string_equal(zone, "Asia/Ho_Chi_Minh");
	free(text);
	json_decref(ev);
	const char *zones[] = {"Asia/Ho_Chi_Minh"};
	char *head = ics_render_head("t", zones, 1);
	assert_non_null(head);
	assert_non_null(strstr(head, "TZOFFSETTO:+0700"));
	assert_null(strstr(head, "DTSTART:2038"));
	free(head);
	char a[ICS_FINGERPRINT_LEN + 1], b[ICS_FINGERPRINT_LEN + 1];
	assert_int_equal(ics_render_fingerprint(a), 0);
	assert_int_equal(ics_render_fingerprint(b), 0);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), ICS_FINGERPRINT_LEN);
}

/* The DESCRIPTION of an item, unfolded and unescaped as a reader shows it. */
static char *description_of(const char *vevent)
{
	const char *at = strstr(vevent, "\r\nDESCRIPTION:");
	char *out = calloc(1, strlen(vevent) + 1);
	size_t o = 0;
	for (const char *c = at ? at + 14 : ""; *c && out; c++) {
		if (!strncmp(c, "\r\n ", 3)) {
			c += 2;
			continue;
		}
		if (!strncmp(c, "\r\n", 2))
			break;
		if (*c == '\\' && c[1]) {
			c++;
			out[o++] = *c == 'n' ? '\n' : *c;
			continue;
		}
		out[o++] = *c;
	}
	return out;
}

/* Text for people: the org that holds an item and its partners by their
 * names (slugs only where no name is known), an agreement in one line
 * whatever its stage, and ORGANIZER with the holder's name, quotes and
 * control characters plainly replaced. */
static void test_render_for_people(void **state)
{
	(void)state;
	static const struct {
		const char *stage, *signed_on, *expires_on, *line;
	} cases[] = {
	    {"intent", "2027-10-14", NULL,
	     "Agreement: LOI (letter of intent, signed 14 Oct 2027) with Busan Metropolitan City"},
	    {"drafting", NULL, NULL, "Agreement: LOI (being drafted) with Busan Metropolitan City"},
	    {"signed", "2025-01-02", "2030-01-02",
	     "Agreement: LOI (signed 2 Jan 2025, expires 2 Jan 2030) with Busan Metropolitan City"},
	    {"renewal", "2015-03-31", "2025-03-31",
	     "Agreement: LOI (up for renewal, signed 31 Mar 2015, expires 31 Mar 2025) with Busan "
	     "Metropolitan City"},
	    {"expired", "2015-03-31", "2025-03-31",
	     "Agreement: LOI (expired 31 Mar 2025, signed 31 Mar 2015) with Busan Metropolitan "
	     "City"},
	    {"terminated", NULL, NULL, "Agreement: LOI (terminated) with Busan Metropolitan City"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *ev = json_pack(
		    "{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:[s], s:[s],"
		    " s:{s:s, s:s, s:[s], s:[s], s:s?, s:s?}}",
		    "uid", "u@t", "timezone", "UTC", "start", "2027-05-01T17:00:00", "title",
		    "MOU due", "all_day", 0, "updated_at", "2026-01-01T00:00:00Z", "created_at",
		    "2026-01-01T00:00:00Z", "org", "hcmc-dost", "org_name",
		    "Sở KH&CN \"TP.HCM\";\tHCMC", "partners", "busan-city", "partner_names",
		    "Busan Metropolitan City", "agreement", "title", "LOI", "stage", cases[i].stage,
		    "parties", "busan-city", "party_names", "Busan Metropolitan City", "signed_on",
		    cases[i].signed_on, "expires_on", cases[i].expires_on);
		assert_non_null(ev);
		const char *zone = NULL;
		char *text = ics_render_vevent(ev, 0, &zone);
		assert_non_null(text);
		char *desc = description_of(text), want[512];
		snprintf(want, sizeof(want), "Held by: Sở KH&CN \"TP.HCM\";\tHCMC\n%s",
		         cases[i].line);
		assert_string_equal(desc, want);
		char *unfolded = calloc(1, strlen(text) + 1);
		for (size_t a = 0, b = 0; text[a]; a++) {
			if (!strncmp(text + a, "\r\n ", 3)) {
				a += 2;
				continue;
			}
			unfolded[b++] = text[a];
		}
		assert_non_null(strstr(unfolded,
		                       "\r\nORGANIZER;CN=\"Sở KH&CN 'TP.HCM'; HCMC\":mailto:"
		                       "hcmc-dost@liaison.invalid\r\n"));
		free(unfolded);
		free(desc);
		free(text);
		json_decref(ev);
	}
	/* Partners other than the agreement's parties have a line of their
	 * own; without names, slugs. */
	json_t *ev =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s, s]}", "uid", "u@t", "timezone",
	              "UTC", "start", "2027-05-01T17:00:00", "title", "Visit", "updated_at",
	              "2026-01-01T00:00:00Z", "created_at", "2026-01-01T00:00:00Z", "description",
	              "Agenda", "partners", "busan-city", "cabc");
	const char *zone = NULL;
	char *text = ics_render_vevent(ev, 0, &zone);
	char *desc = description_of(text);
	assert_string_equal(desc, "Agenda\n\nPartners: busan-city, cabc");
	assert_null(strstr(text, "ORGANIZER"));
	free(desc);
	free(text);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_utc_and_zones),
	    cmocka_unit_test(test_render_for_people),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
