/* test_whsig.c - Standard Webhooks signatures and secrets (common/whsig.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "whsig.h"

#include <string.h>

static void test_published_vector(void **state)
{
	(void)state;
	const char *body = "{\"test\": 2432232314}";
	char sig[WHSIG_V1_LEN + 1];
	assert_int_equal(whsig_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	                            "msg_p5jXN8AQM9LWM0D4loKWxJek", 1674087231, body, strlen(body),
	                            sig),
	                 0);
	assert_string_equal(sig, "v1,AQG81rX2n4rTN1fkXoqILSHO9gAOcwya9dP41rhrQDI=");
	/* Any change to id, time or body changes the signature. */
	char other[WHSIG_V1_LEN + 1];
	assert_int_equal(whsig_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	                            "msg_p5jXN8AQM9LWM0D4loKWxJek", 1674087232, body, strlen(body),
	                            other),
	                 0);
	assert_string_not_equal(sig, other);
}

static void test_secrets(void **state)
{
	(void)state;
	char a[WHSEC_LEN + 1], b[WHSEC_LEN + 1];
	assert_int_equal(whsig_secret_new(a), 0);
	assert_int_equal(whsig_secret_new(b), 0);
	assert_int_equal(strlen(a), WHSEC_LEN);
	assert_memory_equal(a, "whsec_", 6);
	assert_string_not_equal(a, b);
	char sig[WHSIG_V1_LEN + 1];
	assert_int_equal(whsig_sign(a, "msg_1", 1, "{}", 2, sig), 0);
	assert_int_equal(strlen(sig), WHSIG_V1_LEN);
}

static void test_bad_secrets(void **state)
{
	(void)state;
	char sig[WHSIG_V1_LEN + 1];
	const char *bad[] = {"whsec_",
	                     "whsec_abc",
	                     "whsec_!!!!",
	                     "whsec_A===",
	                     "whsec_AA=A",
	                     "whsec_"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(whsig_sign(bad[i], "msg_1", 1, "{}", 2, sig), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_published_vector),
	    cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_bad_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
