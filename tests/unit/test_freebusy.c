/* test_freebusy.c - busy periods merged and written (daemon/core/freebusy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/freebusy.h"

#include <stdlib.h>
#include <string.h>

#define H 3600

/* Overlapping and touching periods of a kind are one; a stronger kind
 * takes its time from a weaker one, which may be cut in two; the window
 * clips; empty periods are nothing. */
static void test_merge(void **state)
{
	(void)state;
	struct busyset s;
	busyset_init(&s, 0, 100 * H, 0);
	assert_int_equal(busyset_add(&s, 10 * H, 12 * H, FB_BUSY), 0);
	assert_int_equal(busyset_add(&s, 11 * H, 13 * H, FB_BUSY), 0);     /* overlaps */
	assert_int_equal(busyset_add(&s, 13 * H, 14 * H, FB_BUSY), 0);     /* touches */
	assert_int_equal(busyset_add(&s, 9 * H, 15 * H, FB_TENTATIVE), 0); /* around them */
	assert_int_equal(busyset_add(&s, 20 * H, 22 * H, FB_TENTATIVE), 0);
	assert_int_equal(busyset_add(&s, 21 * H, 30 * H, FB_UNAVAILABLE), 0);
	assert_int_equal(busyset_add(&s, 25 * H, 26 * H, FB_BUSY), 0);
	assert_int_equal(busyset_add(&s, -5 * H, 1 * H, FB_BUSY), 0);    /* clipped at 0 */
	assert_int_equal(busyset_add(&s, 99 * H, 120 * H, FB_BUSY), 0);  /* clipped at 100 */
	assert_int_equal(busyset_add(&s, 40 * H, 40 * H, FB_BUSY), 0);   /* empty */
	assert_int_equal(busyset_add(&s, 150 * H, 160 * H, FB_BUSY), 0); /* outside */
	assert_int_equal(busyset_merge(&s), 0);
	const struct busy want[] = {
	    {0, 1 * H, FB_BUSY},
	    {9 * H, 10 * H, FB_TENTATIVE},
	    {10 * H, 14 * H, FB_BUSY},
	    {14 * H, 15 * H, FB_TENTATIVE},
	    {20 * H, 21 * H, FB_TENTATIVE},
	    {21 * H, 25 * H, FB_UNAVAILABLE},
	    {25 * H, 26 * H, FB_BUSY},
	    {26 * H, 30 * H, FB_UNAVAILABLE},
	    {99 * H, 100 * H, FB_BUSY},
	};
	assert_int_equal(s.n, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.v[i].start, want[i].start);
		assert_int_equal(s.v[i].end, want[i].end);
		assert_int_equal(s.v[i].kind, want[i].kind);
	}
	/* Merging what is merged changes nothing. */
	assert_int_equal(busyset_merge(&s), 0);
	assert_int_equal(s.n, sizeof(want) / sizeof(*want));
	busyset_free(&s);

	/* A bound on the periods kept. */
	busyset_init(&s, 0, 100 * H, 2);
	assert_int_equal(busyset_add(&s, 1 * H, 2 * H, FB_BUSY), 0);
	assert_int_equal(busyset_add(&s, 3 * H, 4 * H, FB_BUSY), 0);
	assert_int_equal(busyset_add(&s, 5 * H, 6 * H, FB_BUSY), -1);
	busyset_free(&s);
}

/* The calendar: one VFREEBUSY in UTC, one FREEBUSY a period with its
 * FBTYPE, the organiser by name, nothing else. */
static void test_render(void **state)
{
	(void)state;
	struct busyset s;
	busyset_init(&s, 1798761600, 1798761600 + 7 * 24 * H, 0); /* 2027-01-01 */
	assert_int_equal(busyset_add(&s, 1798761600 + 31 * H, 1798761600 + 33 * H, FB_TENTATIVE),
	                 0);
	assert_int_equal(busyset_add(&s, 1798761600 + 32 * H, 1798761600 + 35 * H, FB_BUSY), 0);
	assert_int_equal(busyset_merge(&s), 0);
	struct freebusy_head h = {"HCMC DOST busy", "freebusy-x@liaison", "hcmc-dost",
	                          "Sở KH&CN TP.HCM", 1798761600 + 600};
	size_t len = 0;
	char *text = freebusy_render(&s, &h, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	const char *want = "BEGIN:VFREEBUSY\r\n"
	                   "UID:freebusy-x@liaison\r\n"
	                   "DTSTAMP:20270101T001000Z\r\n"
	                   "ORGANIZER;CN=Sở KH&CN TP.HCM:mailto:hcmc-dost@liaison.invalid\r\n"
	                   "DTSTART:20270101T000000Z\r\n"
	                   "DTEND:20270108T000000Z\r\n"
	                   "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20270102T070000Z/20270102T080000Z\r\n"
	                   "FREEBUSY;FBTYPE=BUSY:20270102T080000Z/20270102T110000Z\r\n"
	                   "END:VFREEBUSY\r\n"
	                   "END:VCALENDAR\r\n";
	assert_non_null(strstr(text, "\r\nNAME:HCMC DOST busy\r\n"));
	assert_non_null(strstr(text, want));
	assert_string_equal(text + len - strlen(want), want);
	assert_null(strstr(text, "VEVENT"));
	assert_null(strstr(text, "VTIMEZONE"));
	free(text);
	busyset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
