/* test_html.c - text made safe for a page (common/html.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "html.h"

#include <event2/buffer.h>
#include <string.h>

static char *out_of(struct evbuffer *b)
{
	evbuffer_add(b, "", 1);
	return (char *)evbuffer_pullup(b, -1);
}

static void test_html_escape(void **state)
{
	(void)state;
	struct evbuffer *b = evbuffer_new();
	assert_int_equal(html_escape(b, "<script>alert(\"1\")</script> & 'Sở KH&CN'"), 0);
	assert_string_equal(out_of(b), "&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt; &amp; "
	                               "&#39;Sở KH&amp;CN&#39;");
	evbuffer_free(b);
	b = evbuffer_new();
	assert_int_equal(html_escape(b, ""), 0);
	assert_int_equal(html_escape(b, NULL), 0);
	assert_string_equal(out_of(b), "");
	evbuffer_free(b);
}

static void test_html_json_script(void **state)
{
	(void)state;
	struct evbuffer *b = evbuffer_new();
	assert_int_equal(html_json_script(b, "{\"name\": \"</script><!-- a&b ]]> \xe2\x80\xa8 "
	                                     "\xe2\x80\xa9 Đà Nẵng \xe2\x82\xac\"}"),
	                 0);
	assert_string_equal(out_of(b),
	                    "{\"name\": \"\\u003c/script\\u003e\\u003c!-- a\\u0026b ]]\\u003e "
	                    "\\u2028 \\u2029 Đà Nẵng \xe2\x82\xac\"}");
	evbuffer_free(b);
}

static void test_html_csp_hash(void **state)
{
	(void)state;
	char h[HTML_CSP_HASH_LEN];
	/* printf '' | openssl dgst -sha256 -binary | base64 */
	assert_int_equal(html_csp_hash("", h), 0);
	assert_string_equal(h, "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html_escape),
	    cmocka_unit_test(test_html_json_script),
	    cmocka_unit_test(test_html_csp_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
