/* test_ics_render_same.c - common/ics_render.c writes a VEVENT byte for
 * byte as libical's serialiser wrote the component the renderer built
 * before (ics_render_oracle.h): the events of tests/bench/feeds.sh, odd
 * cases (all-day, zones, rules with EXDATE and RDATE, overrides, cancelled,
 * alarms, agreements, names with quotes) and many generated ones whose
 * text puts every kind of octet at every place a line may be folded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ics_render.h"
#include "ics_render_oracle.h"

/* Renders ev both ways, with and without alarms; 1 when they differ (and
 * says how). */
static int differs(json_t *ev)
{
	int bad = 0;
	for (int alarms = 0; alarms <= 1; alarms++) {
		const char *za = "unset", *zb = "unset";
		char *a = oracle_render_vevent(ev, alarms, &za);
		char *b = ics_render_vevent(ev, alarms, &zb);
		if ((!a) != (!b) || (a && strcmp(a, b)) || za != zb) {
			char *j = json_dumps(ev, JSON_SORT_KEYS);
			fprintf(stderr, "differs (alarms %d): %s\n--- libical\n%s\n--- ours\n%s\n",
			        alarms, j ? j : "?", a ? a : "(null)", b ? b : "(null)");
			free(j);
			bad = 1;
		}
		free(a);
		free(b);
	}
	return bad;
}

/* The events tests/bench/feeds.sh inserts, as the feeds see them. */
static void test_bench_events(void **state)
{
	(void)state;
	static const char *const kinds[] = {"visit", "meeting", "festival", "deadline"};
	static const char *const zones[] = {"Asia/Seoul", "Asia/Ho_Chi_Minh", "America/Toronto"};
	int bad = 0;
	for (int g = 1; g <= 10000; g++) {
		struct civil s = {2027, 1, 4, 9 + g % 8, 0, 0};
		civil_add_days(&s, g % 300);
		struct civil e = s;
		e.hour++;
		char start[CIVIL_LEN], end[CIVIL_LEN], uid[64], title[128], desc[64], room[32];
		civil_format(&s, 0, start);
		civil_format(&e, 0, end);
		snprintf(uid, sizeof(uid), "feed-%d@bench", g);
		snprintf(title, sizeof(title), "Đà Nẵng kết nối hệ sinh thái khởi nghiệp %d", g);
		snprintf(desc, sizeof(desc), "Agenda for item %d", g);
		snprintf(room, sizeof(room), "Room %d", g % 50);
		json_t *ev = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:i, s:s, "
		    "s:[s],"
		    " s:[], s:[], s:[], s:[], s:s, s:s*}",
		    "uid", uid, "kind", kinds[g % 4], "title", title, "description", desc,
		    "location", room, "city", "Busan", "country", "KR", "timezone", zones[g % 3],
		    "all_day", 0, "start", start, "end", end, "created_at",
		    "2026-11-30T10:00:00.123456Z", "updated_at", "2026-11-30T10:00:00.123456Z",
		    "sequence", 0, "status", "confirmed", "tags", g % 10 ? "big" : "small",
		    "exdates", "rdates", "reminders", "partners", "org", "hcmc-dost", "rrule",
		    g % 20 ? NULL : "FREQ=WEEKLY;COUNT=10");
		assert_non_null(ev);
		json_object_set_new(ev, "org_name", json_string("Sở KH&CN TP.HCM"));
		bad |= differs(ev);
		json_decref(ev);
	}
	assert_int_equal(bad, 0);
}

static json_t *base_event(void)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:i}", "uid", "odd@liaison",
	                 "timezone", "America/Toronto", "all_day", 0, "start",
	                 "2026-03-02T09:00:00", "end", "2026-03-02T10:30:00", "created_at",
	                 "2026-01-01T00:00:00Z", "updated_at", "2026-01-02T03:04:05Z", "title", "t",
	                 "sequence", 3);
}

static int differs_with(const char *json)
{
	json_t *ev = base_event(), *more = json_loads(json, 0, NULL);
	assert_non_null(more);
	json_object_update(ev, more);
	int bad = differs(ev);
	json_decref(more);
	json_decref(ev);
	return bad;
}

static void test_odd_cases(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "{}",
	    "{\"timezone\": \"UTC\"}",
	    "{\"timezone\": \"Etc/UTC\", \"exdates\": [\"2026-03-09T09:00:00\"]}",
	    "{\"all_day\": true, \"start\": \"2026-03-02\", \"end\": \"2026-03-04\"}",
	    "{\"all_day\": true, \"start\": \"2026-03-02\", \"end\": \"2026-03-02\"}",
	    "{\"all_day\": true, \"start\": \"2026-03-02\", \"timezone\": \"UTC\","
	    " \"rrule\": \"FREQ=YEARLY\", \"exdates\": [\"2027-03-02\", \"bad\", 3],"
	    " \"rdates\": [\"2026-04-01\"]}",
	    "{\"end\": \"2026-03-02T09:00:00\"}",
	    "{\"end\": \"2026-03-02T08:00:00\"}",
	    "{\"end\": \"nonsense\"}",
	    "{\"rrule\": \"FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270101T000000Z;WKST=SU\","
	    " \"exdates\": [\"2026-03-09T09:00:00\", \"2026-03-16T09:00:00\"],"
	    " \"rdates\": [\"2026-03-20T09:00:00\"]}",
	    "{\"rrule\": \"FREQ=MONTHLY;INTERVAL=2;BYSETPOS=-1;BYDAY=FR\", \"timezone\": \"UTC\","
	    " \"rdates\": [\"2026-03-20T09:00:00\"]}",
	    "{\"rrule\": \"NOT A RULE\"}",
	    "{\"series_id\": \"s\", \"recurrence_id\": \"2026-03-09T09:00:00\"}",
	    "{\"series_id\": \"s\", \"recurrence_id\": \"2026-03-09T09:00:00\","
	    " \"series_timezone\": \"Asia/Seoul\"}",
	    "{\"series_id\": \"s\", \"recurrence_id\": \"2026-03-09T09:00:00\","
	    " \"series_timezone\": \"No/Such_Zone\"}",
	    "{\"series_id\": \"s\", \"recurrence_id\": \"2026-03-09\", \"all_day\": true,"
	    " \"start\": \"2026-03-09\", \"status\": \"cancelled\"}",
	    "{\"status\": \"cancelled\"}",
	    "{\"status\": \"tentative\"}",
	    "{\"status\": \"other\"}",
	    "{\"reminders\": [\"-P1D\", \"-PT15M\", \"PT0S\", \"-P1W\", \"P1DT2H3M4S\", \"PT90M\","
	    " \"bad\", \"\"]}",
	    "{\"title\": \"\"}",
	    "{\"description\": \"\\n\"}",
	    "{\"description\": \"\\n\\n\\n\", \"org\": \"x\"}",
	    "{\"org\": \"slug\"}",
	    "{\"org\": \"slug\", \"org_name\": \"A \\\"quoted\\\"; name: here, too ^ \\u0001\\t\"}",
	    "{\"org\": \"slug\", \"org_name\": \"\"}",
	    "{\"partners\": [\"a\", \"b\"], \"partner_names\": [\"A\"]}",
	    "{\"partners\": [\"a\", \"b\"], \"partner_names\": [\"A\", 7]}",
	    "{\"partners\": [\"a\"], \"agreement\": {\"title\": \"MOU\", \"stage\": \"expired\","
	    " \"parties\": [\"a\"], \"party_names\": [\"A\"], \"expires_on\": \"2030-01-02\","
	    " \"signed_on\": \"2025-01-02\"}}",
	    "{\"agreement\": {\"stage\": \"odd\", \"parties\": [], \"signed_on\": \"bad\"}}",
	    "{\"agreement\": {\"title\": \"T\", \"stage\": \"renewal\", \"parties\": [\"p\"],"
	    " \"signed_on\": \"2025-01-02\"}}",
	    "{\"kind\": \"meeting\", \"tags\": [\"a,b\", \"c;d\", \"e\\\\f\", \"\", 1]}",
	    "{\"kind\": \"\", \"tags\": []}",
	    "{\"url\": \"https://example.org/a?b=c,d;e\\\\f\", \"location\": \"Room 1, Tower; 2\"}",
	    "{\"parent_uid\": \"p,1;2\"}",
	    "{\"updated_at\": \"garbage\", \"created_at\": \"2026-01-01\"}",
	    "{\"updated_at\": \"2026-13-01T00:00:00Z\"}",
	    "{\"sequence\": 2147483647}",
	    "{\"sequence\": -5}",
	    "{\"uid\": \"u;1,2\\\\3\\n4\"}",
	    "{\"uid\": \"\"}",
	    "{\"timezone\": \"\"}",
	    "{\"start\": \"2026-02-30T09:00:00\"}",
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		bad |= differs_with(cases[i]);
	assert_int_equal(bad, 0);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned next(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A string of n to n+3 octets made of pieces that matter to escaping and
 * folding: ASCII, spaces, separators, escapes, control characters,
 * characters of 2, 3 and 4 octets, and octets that are not UTF-8. */
static void random_text(char *out, size_t n)
{
	/* A third without anything a line may be folded after: folded inside
	 * a word, on UTF-8 boundaries. */
	int solid = next(3) == 0;
	static const char *const pieces[] = {
	    "a",    "Z",  "0", " ", ";", ",", ":", "\\", "\n", "\r",   "\t",   "\b",   "\f", "\x01",
	    "\x7f", "\"", "^", "'", "é", "ẵ", "ế", "中", "😀",  "\xff", "\xf9", "\x80", "ab", "xyz"};
	size_t len = 0;
	while (len < n) {
		const char *p = pieces[next(sizeof(pieces) / sizeof(*pieces))];
		if (next(3))
			p = pieces[next(2) ? 0 : 3 + next(2)]; /* mostly letters and spaces */
		if (solid && strpbrk(p, " ;:"))
			continue;
		size_t k = strlen(p);
		memcpy(out + len, p, k);
		len += k;
	}
	out[len] = '\0';
}

static void test_generated(void **state)
{
	(void)state;
	static const char *const keys[] = {"title",    "description", "location",  "url",
	                                   "org_name", "uid",         "parent_uid"};
	char text[1024];
	int bad = 0;
	/* Octets that neither start a character nor are ASCII: cut after 74. */
	memset(text, 0x80, 300);
	text[300] = '\0';
	json_t *odd = base_event();
	json_object_set_new(odd, "title", json_string_nocheck(text));
	bad |= differs(odd);
	json_decref(odd);
	for (int round = 0; round < 6000 && !bad; round++) {
		json_t *ev = base_event();
		for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
			if (next(3) == 0)
				continue;
			/* Lengths around every place the first and later lines fold. */
			random_text(text, next(4) ? next(160) : next(900));
			json_object_set_new(ev, keys[k], json_string_nocheck(text));
		}
		json_object_set_new(ev, "org", json_string("o"));
		json_t *tags = json_array();
		for (unsigned t = next(3); t > 0; t--) {
			random_text(text, next(120));
			json_array_append_new(tags, json_string_nocheck(text));
		}
		json_object_set_new(ev, "tags", tags);
		json_object_set_new(ev, "reminders", json_pack("[s]", "-PT15M"));
		bad |= differs(ev);
		json_decref(ev);
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bench_events),
	    cmocka_unit_test(test_odd_cases),
	    cmocka_unit_test(test_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
