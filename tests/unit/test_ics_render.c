/* test_ics_render.c - feed rendering in UTC and zones (common/ics_render.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ics_render.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_utc_and_zones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
