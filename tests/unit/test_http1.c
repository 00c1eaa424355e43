/* test_http1.c - the request head parser and the chunked decoder (common/http1.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http1.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *head, struct http1_head *h)
{
	const char *why = NULL;
	struct http1_scan scan = {0};
	size_t len = 0;
	int st = http1_head_scan(head, strlen(head), &scan, 8192, 32768, &len);
	if (st != 1)
		return st == 0 ? -1 : st;
	return http1_parse_head(head, len, 8192, h, &why);
}

static void test_heads(void **state)
{
	(void)state;
	struct http1_head *h = malloc(sizeof(*h));
	assert_non_null(h);
	const char *ok = "POST /v1/keys?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length:  13 \r\n"
	                 "Connection: close\r\nExpect: 100-continue\r\n\r\n";
	assert_int_equal(parse(ok, h), 0);
	assert_true(http1_span_is(ok, h->method, "post"));
	assert_int_equal(h->target.len, strlen("/v1/keys?x=1"));
	assert_int_equal(h->content_length, 13);
	assert_int_equal(h->keep_alive, 0);
	assert_int_equal(h->expect_continue, 1);
	assert_int_equal(h->nfields, 4);
	assert_int_equal(
	    parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", h), 0);
	assert_int_equal(h->chunked, 1);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h), 0);
	assert_int_equal(h->keep_alive, 1);
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", h), 0);
	assert_int_equal(h->keep_alive, 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", h), 0);
	assert_int_equal(h->content_length, 5);
	assert_int_equal(
	    parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999"
	          "\r\n\r\n",
	          h),
	    0);
	assert_true(h->content_length == INT64_MAX);
	static const char *const bad[] = {
	    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
	    "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	    "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
	    "GET / http/1.1\r\nHost: x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n",
	    "GET / HTTP/1.1\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], h) != 400)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", h), 505);
	char *longline = malloc(9000 + 64);
	assert_non_null(longline);
	strcpy(longline, "GET /");
	memset(longline + 5, 'a', 9000);
	strcpy(longline + 9005, " HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(parse(longline, h), 414);
	longline[9005] = '\0'; /* not yet complete, already too long */
	assert_int_equal(parse(longline, h), 414);
	free(longline);
	free(h);
}

static void test_head_trickles(void **state)
{
	(void)state;
	const char *head = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
	struct http1_scan scan = {0};
	size_t len = 0, n;
	for (n = 1; n <= strlen(head); n++) {
		int st = http1_head_scan(head, n, &scan, 8192, 32768, &len);
		if (st == 1)
			break;
		assert_int_equal(st, 0);
	}
	assert_int_equal(len, strlen("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_int_equal(n, len);
}

/* The rc after feeding all of body to a fresh decoder, one byte at a time
 * (each state sees every boundary) or at once. */
static int chunked_rc(const char *body, int bytewise)
{
	struct http1_chunked z = {0};
	size_t off = 0, used, dlen, n = strlen(body);
	const char *d;
	int rc = HTTP1_CHUNK_MORE;
	while (off < n && rc != HTTP1_CHUNK_BAD && rc != HTTP1_CHUNK_END) {
		rc = http1_chunked_next(&z, body + off, bytewise ? 1 : n - off, &used, &d, &dlen);
		off += used;
	}
	return rc;
}

/* RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF, whitespace (BWS)
 * only before ';' and around '='; never before the CRLF. */
static void test_chunk_lines(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "5\r\nhello\r\n0\r\n\r\n",
	    "5;a\r\nhello\r\n0\r\n\r\n",
	    "5 ;a\r\nhello\r\n0\r\n\r\n",
	    "5\t; a\r\nhello\r\n0\r\n\r\n",
	    "5;a=b\r\nhello\r\n0\r\n\r\n",
	    "5;a = b ; c\r\nhello\r\n0\r\n\r\n",
	    "5;a=\"x y;\\\"z\"\r\nhello\r\n0\r\n\r\n",
	    "5;a=\"\" ;b=c\r\nhello\r\n0;last\r\n\r\n",
	    "000005\r\nhello\r\n0\r\n\r\n",
	};
	static const char *const bad[] = {
	    "5 \r\nhello\r\n0\r\n\r\n",        /* the reviewer's: trailing space */
	    "5\t\r\nhello\r\n0\r\n\r\n",       /* trailing tab */
	    "5\r\nhello\r\n0 \r\n\r\n",        /* on the last chunk */
	    " 5\r\nhello\r\n0\r\n\r\n",        /* leading space */
	    "5 5\r\nhello\r\n0\r\n\r\n",       /* two numbers */
	    "5;a \r\nhello\r\n0\r\n\r\n",      /* after a name */
	    "5;a=b \r\nhello\r\n0\r\n\r\n",    /* after a value */
	    "5;\"a\"=b\r\nhello\r\n0\r\n\r\n", /* a quoted name */
	    "5;\r\nhello\r\n0\r\n\r\n",        /* no name */
	    "5;a=\r\nhello\r\n0\r\n\r\n",      /* no value */
	    "5;a=b=c\r\nhello\r\n0\r\n\r\n",    "5;a b\r\nhello\r\n0\r\n\r\n",
	    "5;a=\"x\r\nhello\r\n0\r\n\r\n", /* an unclosed quote */
	    "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n",
	    "5;a=b\x7f\r\nhello\r\n0\r\n\r\n",  "5,a\r\nhello\r\n0\r\n\r\n",
	    "5;a\nhello\r\n0\r\n\r\n", /* a bare LF after an extension */
	    "5\r\r\nhello\r\n0\r\n\r\n",        "0x5\r\nhello\r\n0\r\n\r\n",
	    "+5\r\nhello\r\n0\r\n\r\n",
	};
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++)
			if (chunked_rc(good[k], bytewise) != HTTP1_CHUNK_END)
				fail_msg("refused chunked body %zu", k);
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			if (chunked_rc(bad[k], bytewise) != HTTP1_CHUNK_BAD)
				fail_msg("accepted chunked body %zu", k);
	}
}

static void test_chunked(void **state)
{
	(void)state;
	const char *body = "5\r\nhello\r\n6;ext=\"v\"\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	char out[64] = "";
	/* One byte at a time, as a slow client sends it. */
	struct http1_chunked c = {0};
	size_t i = 0, used, dlen;
	const char *d;
	int rc = HTTP1_CHUNK_MORE;
	while (i < strlen(body) && rc != HTTP1_CHUNK_END) {
		rc = http1_chunked_next(&c, body + i, 1, &used, &d, &dlen);
		assert_int_not_equal(rc, HTTP1_CHUNK_BAD);
		strncat(out, d ? d : "", dlen);
		i += used;
	}
	assert_int_equal(rc, HTTP1_CHUNK_END);
	assert_string_equal(out, "hello world");
	assert_string_equal(body + i, "NEXT");
	static const char *const bad[] = {
	    "x\r\n",         "5\nhello", "5\r\nhelloX", "-1\r\n", "11111111111111111\r\n",
	    "0\r\nA\x01\r\n"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct http1_chunked z = {0};
		size_t off = 0;
		rc = HTTP1_CHUNK_MORE;
		while (off < strlen(bad[k]) && rc != HTTP1_CHUNK_BAD) {
			rc = http1_chunked_next(&z, bad[k] + off, strlen(bad[k]) - off, &used, &d,
			                        &dlen);
			off += used;
		}
		if (rc != HTTP1_CHUNK_BAD)
			fail_msg("accepted chunked body %zu", k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_heads),
	    cmocka_unit_test(test_head_trickles),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_chunk_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
