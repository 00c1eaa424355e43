/* fuzz_http.c - libFuzzer target: arbitrary bytes as a request head fed in
 * pieces (as a slow client sends it), then what follows as a chunked
 * body. Checks what httpd.c relies on: spans inside the head, a head
 * length within what was given, framing that is one of the allowed
 * shapes, and chunk data inside the input. */
#include "http1.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(struct http1_span s, size_t len)
{
	if (s.off > len || s.len > len - s.off)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 70000)
		return 0;
	const char *buf = (const char *)data;
	struct http1_scan scan = {0};
	size_t head_len = 0, step = size % 7 + 1;
	int st = 0;
	for (size_t have = step < size ? step : size;; have += step) {
		if (have > size)
			have = size;
		st = http1_head_scan(buf, have, &scan, 8192, 32768, &head_len);
		if (st != 0 || have == size)
			break;
	}
	if (st == 1) {
		if (head_len == 0 || head_len > size)
			__builtin_trap();
		struct http1_head *h = malloc(sizeof(*h));
		if (!h)
			return 0;
		const char *why = NULL;
		int rc = http1_parse_head(buf, head_len, 8192, h, &why);
		if (rc == 0) {
			check_span(h->method, head_len);
			check_span(h->target, head_len);
			if (h->nfields > HTTP1_MAX_FIELDS)
				__builtin_trap();
			for (size_t i = 0; i < h->nfields; i++) {
				check_span(h->fields[i].name, head_len);
				check_span(h->fields[i].value, head_len);
			}
			if (h->chunked && h->content_length >= 0)
				__builtin_trap();
			if (h->chunked && h->minor == 0)
				__builtin_trap();
		} else if (!why || (rc != 400 && rc != 414 && rc != 431 && rc != 505)) {
			__builtin_trap();
		}
		free(h);
	}
	/* The rest (or all of it) as a chunked body, in pieces. */
	size_t off = st == 1 ? head_len : 0;
	struct http1_chunked c = {0};
	while (off < size) {
		size_t n = size - off > step * 3 ? step * 3 : size - off, used;
		const char *d;
		size_t dlen;
		int rc = http1_chunked_next(&c, buf + off, n, &used, &d, &dlen);
		if (used > n || (dlen && (d < buf + off || d + dlen > buf + off + used)))
			__builtin_trap();
		if (rc == HTTP1_CHUNK_BAD || rc == HTTP1_CHUNK_END)
			break;
		if (used == 0)
			__builtin_trap(); /* no progress on non-empty input */
		off += used;
	}
	return 0;
}
