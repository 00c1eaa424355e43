/* test_token.c - tokens, base64url and SHA-256 (common/token.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "token.h"

#include <ctype.h>
#include <string.h>

static void test_base64url(void **state)
{
	(void)state;
	char out[16];
	base64url_encode((const unsigned char *)"", 0, out);
	assert_string_equal(out, "");
	base64url_encode((const unsigned char *)"f", 1, out);
	assert_string_equal(out, "Zg");
	base64url_encode((const unsigned char *)"fo", 2, out);
	assert_string_equal(out, "Zm8");
	base64url_encode((const unsigned char *)"foo", 3, out);
	assert_string_equal(out, "Zm9v");
	const unsigned char hi[] = {0xfb, 0xff, 0xbf};
	base64url_encode(hi, 3, out);
	assert_string_equal(out, "-_-_");
}

static void test_tokens(void **state)
{
	(void)state;
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	assert_int_equal(token_generate(a), 0);
	assert_int_equal(token_generate(b), 0);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_true(token_well_formed(a));
	assert_false(token_well_formed(""));
	assert_false(token_well_formed("abc"));
	char c[45];
	memcpy(c, a, 44);
	c[10] = '+';
	assert_false(token_well_formed(c));
	strcpy(c, a);
	strcat(c, "x");
	assert_false(token_well_formed(c));
}

static void test_sha256(void **state)
{
	(void)state;
	char h[TOKEN_HASH_HEX + 1];
	assert_int_equal(token_hash("abc", 3, h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(token_hash("", 0, h), 0);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_digest_unhex(void **state)
{
	(void)state;
	unsigned char md[DIGEST_BYTES], back[DIGEST_BYTES];
	char hex[2 * DIGEST_BYTES + 1];
	assert_int_equal(digest_sha256("abc", 3, md), 0);
	digest_hex(md, DIGEST_BYTES, hex);
	assert_int_equal(digest_unhex(hex, strlen(hex), back), 0);
	assert_memory_equal(md, back, DIGEST_BYTES);
	/* Upper case is read too (PostgreSQL writes lower). */
	for (char *c = hex; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	assert_int_equal(digest_unhex(hex, strlen(hex), back), 0);
	assert_memory_equal(md, back, DIGEST_BYTES);
	/* Anything but 64 hex digits is no digest. */
	assert_int_equal(digest_unhex(hex, 63, back), -1);
	assert_int_equal(digest_unhex("", 0, back), -1);
	hex[17] = 'g';
	assert_int_equal(digest_unhex(hex, strlen(hex), back), -1);
	hex[17] = '0';
	hex[40] = ' ';
	assert_int_equal(digest_unhex(hex, strlen(hex), back), -1);
	hex[40] = '\xff';
	assert_int_equal(digest_unhex(hex, strlen(hex), back), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64url),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_digest_unhex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
