/* test_pure.c - tokens, hashing, text validation, zone names, routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbpool.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "token.h"
#include "tz.h"
#include "strhash.h"
#include "validate.h"

#include <event2/buffer.h>
#include <stdlib.h>
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

static void test_text(void **state)
{
	(void)state;
	assert_true(valid_text("Đà Nẵng kết nối hệ sinh thái khởi nghiệp", 200, 0));
	assert_true(valid_text("부산광역시", 200, 0));
	assert_true(valid_text("line\nline", 200, 1));
	assert_false(valid_text("line\nline", 200, 0));
	assert_false(valid_text("", 200, 0));
	assert_false(valid_text("abc", 2, 0));
	assert_false(valid_text("bell\a", 200, 1));
	assert_false(valid_text("del\x7f", 200, 1));
	assert_false(valid_text("\xff", 200, 0));
	assert_false(valid_text("\xc0\xaf", 200, 0));         /* overlong '/' */
	assert_false(valid_text("\xed\xa0\x80", 200, 0));     /* surrogate */
	assert_false(valid_text("\xf4\x90\x80\x80", 200, 0)); /* past U+10FFFF */
	assert_false(valid_text("\xe2\x82", 200, 0));         /* truncated */
	assert_true(valid_text("\xf0\x9f\x9a\x80", 200, 0));  /* rocket */
}

static void test_identifiers(void **state)
{
	(void)state;
	assert_true(valid_slug("hcmc-dost"));
	assert_true(valid_slug("a"));
	assert_false(valid_slug(""));
	assert_false(valid_slug("-a"));
	assert_false(valid_slug("A"));
	assert_false(valid_slug("a b"));
	assert_false(valid_slug("a/b"));
	assert_false(
	    valid_slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_true(valid_country("VN"));
	assert_false(valid_country("vn"));
	assert_false(valid_country("VNM"));
	assert_true(valid_uuid("0b6f3f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"));
	assert_false(valid_uuid("0B6F3F7E-1C2D-4E5F-8A9B-0C1D2E3F4A5B"));
	assert_false(valid_uuid("0b6f3f7e1c2d4e5f8a9b0c1d2e3f4a5b"));
	assert_false(valid_uuid("0b6f3f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5g"));
	assert_true(valid_role("editor"));
	assert_false(valid_role("root"));
}

static void test_zones(void **state)
{
	(void)state;
	assert_true(tz_valid("Asia/Ho_Chi_Minh"));
	assert_true(tz_valid("America/Toronto"));
	assert_true(tz_valid("UTC"));
	assert_true(tz_valid("America/Argentina/Buenos_Aires"));
	assert_false(tz_valid("Mars/Olympus"));
	assert_false(tz_valid(""));
	assert_false(tz_valid("../../etc/passwd"));
	assert_false(tz_valid("/etc/localtime"));
	assert_false(tz_valid("Asia/../Asia/Seoul"));
	assert_false(tz_valid("Asia/Seoul/"));
	assert_false(tz_valid("Asia"));     /* a directory, not a zone */
	assert_false(tz_valid("zone.tab")); /* a file, not TZif */
	assert_false(tz_valid("Asia/Seoul\n"));
}

static void test_route_patterns(void **state)
{
	(void)state;
	assert_true(router_pattern_matches("/v1/keys/{id}", "/v1/keys/abc"));
	assert_false(router_pattern_matches("/v1/keys/{id}", "/v1/keys/"));
	assert_false(router_pattern_matches("/v1/keys/{id}", "/v1/keys/a/b"));
	assert_false(router_pattern_matches("/v1/keys/{id}", "/v1/keys"));
	assert_true(router_pattern_matches("/v1/orgs/{slug}/keys", "/v1/orgs/x/keys"));
	assert_false(router_pattern_matches("/v1/orgs/{slug}/keys", "/v1/orgs/x/keys/"));
	assert_true(router_pattern_matches("/healthz", "/healthz"));
	assert_false(router_pattern_matches("/healthz", "/healthzz"));
	size_t n;
	const struct route *routes = router_routes(&n);
	assert_true(n > 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(router_index(&routes[i]), (int)i);
}

static void test_rate_limit(void **state)
{
	(void)state;
	ratelimit_configure(5);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ratelimit_take("key-a", 1000), 0); /* burst: twice the rate */
	assert_int_equal(ratelimit_take("key-a", 1000), 1);
	assert_int_equal(ratelimit_take("key-b", 1000), 0); /* per key */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take("key-a", 2000), 0); /* one second refills 5 */
	assert_int_not_equal(ratelimit_take("key-a", 2000), 0);
	ratelimit_configure(0);
	assert_int_equal(ratelimit_take("key-a", 2000), 0); /* 0: off */
}

/* One bucket's arithmetic: a full burst, then the wait until the next
 * token in ms, refilled with time (rates below one a second too). */
static void test_token_bucket(void **state)
{
	(void)state;
	struct tokenbucket b;
	tokenbucket_init(&b, 2, 1000);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1000), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1000), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1000), 500);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1250), 250);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 1500), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 60000), 0); /* never above the burst */
	assert_int_equal(tokenbucket_take(&b, 2, 2, 60000), 0);
	assert_int_equal(tokenbucket_take(&b, 2, 2, 60000), 500);
	tokenbucket_init(&b, 1, 0);
	assert_int_equal(tokenbucket_take(&b, 0.1, 1, 0), 0);
	assert_int_equal(tokenbucket_take(&b, 0.1, 1, 0), 10000);
	assert_int_equal(tokenbucket_take(&b, 0.1, 1, 9000), 1000);
}

/* Array literals: every element quoted, so NULL, commas, braces and blanks
 * are plain text; quotes and backslashes escaped; a null pointer is a NULL
 * element; an empty array is {}. */
/* The published FNV-1a (32-bit) test vectors. */
static void test_str_hash(void **state)
{
	(void)state;
	assert_int_equal(str_hash(""), 0x811c9dc5u);
	assert_int_equal(str_hash("a"), 0xe40c292cu);
	assert_int_equal(str_hash("foobar"), 0xbf9cf968u);
}

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
	evbuffer_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_str_hash),     cmocka_unit_test(test_db_array),
	    cmocka_unit_test(test_token_bucket), cmocka_unit_test(test_base64url),
	    cmocka_unit_test(test_tokens),       cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_text),         cmocka_unit_test(test_identifiers),
	    cmocka_unit_test(test_zones),        cmocka_unit_test(test_route_patterns),
	    cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
