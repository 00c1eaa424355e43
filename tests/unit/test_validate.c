/* test_validate.c - text and identifier validation (common/validate.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "validate.h"

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

static void test_lang_tags(void **state)
{
	(void)state;
	assert_true(valid_lang_tag("vi"));
	assert_true(valid_lang_tag("en-GB"));
	assert_true(valid_lang_tag("zh-Hant-TW"));
	assert_true(valid_lang_tag("haw"));
	assert_false(valid_lang_tag(""));
	assert_false(valid_lang_tag("x"));
	assert_false(valid_lang_tag("engl"));
	assert_false(valid_lang_tag("en-"));
	assert_false(valid_lang_tag("en--GB"));
	assert_false(valid_lang_tag("en-abcdefghi"));
	assert_false(valid_lang_tag("en_GB"));
	assert_false(valid_lang_tag("<script>"));
	assert_true(valid_lang_tag("en-GB-aaaaaaaa-bbbbbbbb-cccccccc-dd"));   /* 35 bytes */
	assert_false(valid_lang_tag("en-GB-aaaaaaaa-bbbbbbbb-cccccccc-ddd")); /* 36 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_identifiers),
	    cmocka_unit_test(test_lang_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
