/* test_dbpool.c - PostgreSQL array literals (common/dbpool.c); the pool itself is
 * tested against a real server by tests/integration/test_database.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbpool.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_db_array(void **state)
{
	(void)state;
	struct evbuffer *a = evbuffer_new();
	assert_non_null(a);
	char *out = db_array_end(a);
	assert_string_equal(out, "{}");
	free(out);
	const char *in[] = {"NULL", "a,b", "{x}", " ", "", "q\"uote", "back\\slash", "\r\n", NULL};
	for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++)
		assert_int_equal(db_array_add(a, in[i]), 0);
	out = db_array_end(a);
	assert_string_equal(out,
	                    "{\"NULL\",\"a,b\",\"{x}\",\" \",\"\",\"q\\\"uote\",\"back\\\\slash\","
	                    "\"\r\n\",NULL}");
	free(out);
	/* A NULL first; elements long enough to be written in pieces. */
	char long_id[201], long_q[201];
	memset(long_id, 'x', 200);
	long_id[200] = '\0';
	memcpy(long_q, long_id, sizeof(long_q));
	long_q[150] = '"';
	assert_int_equal(db_array_add(a, NULL), 0);
	assert_int_equal(db_array_add(a, long_id), 0);
	assert_int_equal(db_array_add(a, long_q), 0);
	out = db_array_end(a);
	char want[512];
	snprintf(want, sizeof(want), "{NULL,\"%s\",\"%.150s\\\"%s\"}", long_id, long_q,
	         long_q + 151);
	assert_string_equal(out, want);
	free(out);
	evbuffer_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_db_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
