/* test_readfloor.c - when a standby may answer a read (common/readfloor.c):
 * the floor covers the changes told of, is read again when old, only
 * rises, and a standby found behind is left alone for a while that grows
 * while it stays behind. Against a real standby: test_replica.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "readfloor.h"

#include <string.h>

#define MS 1000

static int route(struct readfloor *f, int64_t now, char *lsn, uint64_t *token)
{
	return readfloor_route(f, now, lsn, 32, token);
}

static void test_floor_covers_changes_and_ages(void **state)
{
	(void)state;
	struct readfloor *f = readfloor_new();
	assert_non_null(f);
	char lsn[32];
	uint64_t token = 99;
	int64_t t = 5000 * MS;
	/* Never read: the primary answers, and reads the floor behind. */
	assert_int_equal(route(f, t, lsn, &token), 0);
	assert_int_equal(token, 0);
	readfloor_sampled(f, "0/3000028", token, t);
	assert_int_equal(route(f, t + 10 * MS, lsn, &token), 1);
	assert_string_equal(lsn, "0/3000028");
	/* Old: read again. */
	assert_int_equal(route(f, t + READFLOOR_MAX_AGE_MS * MS, lsn, &token), 0);
	readfloor_sampled(f, "0/3000100", token, t + READFLOOR_MAX_AGE_MS * MS);
	t += READFLOOR_MAX_AGE_MS * MS;
	assert_int_equal(route(f, t + 1, lsn, &token), 1);
	assert_string_equal(lsn, "0/3000100");
	/* A change told of: the primary, until a reading made after it. */
	readfloor_changed(f);
	assert_int_equal(route(f, t + 2, lsn, &token), 0);
	assert_int_equal(token, 1);
	readfloor_sampled(f, "0/3000200", 0, t + 3); /* submitted before the change */
	assert_int_equal(route(f, t + 4, lsn, &token), 0);
	readfloor_sampled(f, "0/3000180", 1, t + 3);
	assert_int_equal(route(f, t + 5, lsn, &token), 1);
	/* The floor only rises, whatever order readings come back in. */
	assert_string_equal(lsn, "0/3000200");
	readfloor_sampled(f, "0/1", 1, t + 6);
	assert_int_equal(route(f, t + 7, lsn, &token), 1);
	assert_string_equal(lsn, "0/3000200");
	assert_int_equal(readfloor_lsn(f), 0x3000200);
	/* A standby's position after a read it answered raises the floor, but
	 * says nothing of the primary: neither its age nor the changes. */
	readfloor_seen(f, "0/3000300");
	assert_int_equal(route(f, t + 7, lsn, &token), 1);
	assert_string_equal(lsn, "0/3000300");
	assert_int_equal(route(f, t + 6 + READFLOOR_MAX_AGE_MS * MS, lsn, &token), 0);
	/* A reading that is not a position changes nothing. */
	readfloor_sampled(f, "nonsense", 5, t + 8);
	readfloor_changed(f);
	assert_int_equal(route(f, t + 9, lsn, &token), 0);
	readfloor_changed(NULL); /* no standby: nothing to do */
	readfloor_free(f);
}

static void test_behind_holds_and_grows(void **state)
{
	(void)state;
	struct readfloor *f = readfloor_new();
	char lsn[32];
	uint64_t token;
	int64_t t = 0;
	readfloor_sampled(f, "1/0", 0, t);
	assert_int_equal(route(f, t, lsn, &token), 1);
	readfloor_behind(f, t);
	assert_int_equal(route(f, t + READFLOOR_HOLD_MIN_MS * MS - 1, lsn, &token), 0);
	/* Reads sent before the hold, stopped during it, do not lengthen it. */
	readfloor_behind(f, t + 1);
	assert_int_equal(route(f, t + READFLOOR_HOLD_MIN_MS * MS, lsn, &token), 1);
	/* Behind again at once: twice as long, and so on up to the cap. */
	t += READFLOOR_HOLD_MIN_MS * MS;
	readfloor_behind(f, t);
	assert_int_equal(route(f, t + 2 * READFLOOR_HOLD_MIN_MS * MS - 1, lsn, &token), 0);
	assert_int_equal(route(f, t + 2 * READFLOOR_HOLD_MIN_MS * MS, lsn, &token), 1);
	int64_t hold = 2 * READFLOOR_HOLD_MIN_MS * MS;
	for (int i = 0; i < 20; i++) {
		t += hold;
		readfloor_sampled(f, "1/0", 0, t); /* keep the floor young */
		readfloor_behind(f, t);
		hold =
		    hold * 2 < READFLOOR_HOLD_MAX_MS * MS ? hold * 2 : READFLOOR_HOLD_MAX_MS * MS;
		assert_int_equal(route(f, t + hold - 1, lsn, &token), 0);
	}
	assert_int_equal(hold, READFLOOR_HOLD_MAX_MS * MS);
	/* After a quiet spell, from the start again. */
	t += 3 * hold;
	readfloor_sampled(f, "1/0", 0, t);
	readfloor_behind(f, t);
	assert_int_equal(route(f, t + READFLOOR_HOLD_MIN_MS * MS, lsn, &token), 1);
	readfloor_free(f);
}

static void test_lsn_text(void **state)
{
	(void)state;
	uint64_t v;
	char buf[32];
	assert_int_equal(readfloor_parse_lsn("16/B374D848", &v), 0);
	assert_true(v == ((uint64_t)0x16 << 32 | 0xB374D848u));
	readfloor_format_lsn(v, buf, sizeof(buf));
	assert_string_equal(buf, "16/B374D848");
	assert_int_equal(readfloor_parse_lsn("ffffffff/FFFFFFFF", &v), 0);
	assert_true(v == UINT64_MAX);
	readfloor_format_lsn(0, buf, sizeof(buf));
	assert_string_equal(buf, "0/0");
	const char *bad[] = {"",     "1",    "1/",   "/1",          "G/1",  "1/2x",
	                     " 1/2", "1/ 2", "-1/2", "123456789/1", "1/+2", "0x1/2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(readfloor_parse_lsn(bad[i], &v), -1);
	assert_int_equal(readfloor_parse_lsn(NULL, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_floor_covers_changes_and_ages),
	    cmocka_unit_test(test_behind_holds_and_grows),
	    cmocka_unit_test(test_lsn_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
