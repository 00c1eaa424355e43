/* test_event_json.c - event_json_text (daemon/core/event_json.c) writes
 * byte for byte what jansson's json_dumps makes of event_json_build's
 * tree: rows built in memory (no database) with NULLs, every kind of
 * column, arrays in PostgreSQL's text form (quoted elements, escapes,
 * NULL), text with characters JSON escapes and text that is not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/event_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A result of one row whose EVENT_NCOLS columns are values (NULL: SQL
 * NULL), after one leading column. */
static PGresult *row_of(const char *const values[EVENT_NCOLS])
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[EVENT_NCOLS + 1];
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i <= EVENT_NCOLS; i++)
		attrs[i].name = (char *)"c";
	assert_int_equal(PQsetResultAttrs(res, EVENT_NCOLS + 1, attrs), 1);
	assert_int_equal(PQsetvalue(res, 0, 0, "x", 1), 1);
	for (int i = 0; i < EVENT_NCOLS; i++)
		assert_int_equal(PQsetvalue(res, 0, i + 1, (char *)values[i],
		                            values[i] ? (int)strlen(values[i]) : -1),
		                 1);
	return res;
}

/* 1 when the two writings differ. */
static int differs(const char *const values[EVENT_NCOLS])
{
	PGresult *res = row_of(values);
	json_t *tree = event_json_build(res, 0, 1);
	char *a = tree ? json_dumps(tree, 0) : NULL;
	char *b = event_json_text(res, 0, 1);
	int bad = (!a) != (!b) || (a && strcmp(a, b));
	if (bad)
		fprintf(stderr, "jansson: %s\nours:    %s\n", a ? a : "(null)", b ? b : "(null)");
	json_decref(tree);
	free(a);
	free(b);
	PQclear(res);
	return bad;
}

/* The columns of EVENT_COLS, a plain event. */
static const char *const plain[EVENT_NCOLS] = {
    "7d5f6c1e-0000-4000-8000-000000000001",
    "hcmc-dost",
    "visit",
    "Đà Nẵng kết nối",
    "Agenda",
    "Room 1",
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
    "{busan,\"a b\"}",
    "{big}",
    NULL,
    NULL,
    "{-PT15M}",
    NULL,
    "3",
    "1790000000",
    "1790000123",
};

static void test_same_bytes(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    "",
	    "plain",
	    "quote \" backslash \\ slash /",
	    "\b\f\n\r\t\x01\x1f\x7f",
	    "é 中 😀",
	    "not UTF-8 \xff",
	    "overlong \xc0\xaf",
	    "overlong \xe0\x80\xaf",
	    "past U+10FFFF \xf4\x90\x80\x80",
	    "surrogate \xed\xa0\x80",
	    "cut \xe4\xb8",
	};
	static const char *const arrays[] = {
	    "{}",
	    "{a}",
	    "{a,b,NULL,\"NULL\"}",
	    "{\"a,b\",\"c\\\"d\",\"e\\\\f\",\"\"}",
	    "{\"\xff\",ok,\"\xed\xa0\x80\",z}",
	    "{\"\xff\"}",
	    "{\"tab\there\",\"\x01\"}",
	    "not an array",
	    "{unterminated",
	};
	static const char *const locals[] = {"{}", "{1798880400,1799485200}", "{0,NULL}",
	                                     "{-86400}"};
	int bad = differs(plain);
	const char *row[EVENT_NCOLS];
	for (int col = 0; col < EVENT_NCOLS; col++) {
		memcpy(row, plain, sizeof(row));
		row[col] = NULL;
		bad |= differs(row);
		for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); t++) {
			memcpy(row, plain, sizeof(row));
			row[col] = texts[t];
			if (col == 9 || col == 10 || col == 11 || col == 16 || col == 26 ||
			    col >= 27)
				continue; /* numbers and booleans below */
			if (col == 13 || col == 14 || col == 20 || col == 21 || col == 24)
				continue; /* arrays below */
			bad |= differs(row);
		}
	}
	static const int array_cols[] = {20, 21, 24};
	for (size_t c = 0; c < sizeof(array_cols) / sizeof(*array_cols); c++)
		for (size_t a = 0; a < sizeof(arrays) / sizeof(*arrays); a++) {
			memcpy(row, plain, sizeof(row));
			row[array_cols[c]] = arrays[a];
			bad |= differs(row);
		}
	for (int all_day = 0; all_day <= 1; all_day++)
		for (size_t l = 0; l < sizeof(locals) / sizeof(*locals); l++) {
			memcpy(row, plain, sizeof(row));
			row[9] = all_day ? "t" : "f";
			row[13] = locals[l];
			row[14] = locals[(l + 1) % 4];
			row[16] = "1798880400";
			bad |= differs(row);
		}
	static const char *const numbers[] = {"0", "-1", "9223372036854775807", "12abc", ""};
	for (size_t n = 0; n < sizeof(numbers) / sizeof(*numbers); n++) {
		memcpy(row, plain, sizeof(row));
		row[26] = numbers[n];
		row[10] = numbers[n];
		/* Instants within what gmtime and a 20-character RFC 3339 time
		 * cover (clock.c's rfc3339_utc has no answer past them). */
		row[27] = n < 2 ? numbers[n] : "1790000000";
		bad |= differs(row);
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
