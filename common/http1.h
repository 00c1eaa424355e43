/* http1.h - the HTTP/1.1 request head (RFC 9112) and chunked bodies, read
 * from bytes: pure functions, no I/O, fuzzed by tests/fuzz/fuzz_http.c.
 * daemon/http/httpd.c does the I/O around them.
 *
 * Strict where leniency lets two parsers disagree about where a request
 * ends (request smuggling): CRLF line ends only, no whitespace before a
 * field's colon, no obs-fold, one Content-Length value (repeats must be
 * equal, digits only: "+5" is refused), Transfer-Encoding only as
 * "chunked" alone and never beside Content-Length or in HTTP/1.0. */
#ifndef LIAISON_HTTP1_H
#define LIAISON_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_FIELDS 100

struct http1_span {
	size_t off, len; /* into the head's bytes */
};

struct http1_field {
	struct http1_span name, value; /* value without surrounding whitespace */
};

struct http1_head {
	struct http1_span method, target;
	int minor; /* HTTP/1.minor */
	size_t nfields;
	struct http1_field fields[HTTP1_MAX_FIELDS];
	/* The message's framing and connection, from the fields. */
	int64_t content_length; /* -1: none; INT64_MAX: more digits than fit */
	int chunked;
	int keep_alive;      /* the connection may serve another request after */
	int expect_continue; /* 1: "100-continue"; -1: another expectation (417) */
};

/* Bytes of CRLF pairs before a request line (RFC 9112 §2.2 lets a server
 * skip them: some clients send one after a body). */
size_t http1_skip_blank(const char *buf, size_t len);

/* Where a search for the end of a head got to (zeroed for a new head). */
struct http1_scan {
	size_t scanned;  /* bytes looked at */
	size_t line_end; /* offset of the request line's LF + 1, or 0 */
};

/* Looks for the end of the head at the start of buf (len bytes, the same
 * start as before with more bytes after): 1 with *head_len (its final
 * blank line included) once it is all there; 0 while it may still come
 * within the limits; else the status to answer: 400 (a bare LF), 414 (a
 * request line longer than max_line), 431 (a head longer than max_head).
 * Each byte is looked at once, however the head trickles in. */
int http1_head_scan(const char *buf, size_t len, struct http1_scan *s, size_t max_line,
                    size_t max_head, size_t *head_len);

/* Parses a whole head (as http1_head_scan found it). Returns 0, or
 * the status to answer (400, 414, 431, 505) with *why saying what was
 * wrong, a constant string. */
int http1_parse_head(const char *buf, size_t len, size_t max_line, struct http1_head *h,
                     const char **why);

/* Compares a span of buf with a lower-case name, ignoring case. */
int http1_span_is(const char *buf, struct http1_span s, const char *lower);

/* A chunked body (RFC 9112 §7.1), decoded piece by piece. */
struct http1_chunked {
	int state;
	uint64_t left;  /* of the current chunk's data */
	size_t line;    /* bytes of the current size or trailer line */
	size_t trailer; /* bytes of trailer fields */
	int digits;
};

enum { HTTP1_CHUNK_MORE = 0, HTTP1_CHUNK_DATA = 1, HTTP1_CHUNK_END = 2, HTTP1_CHUNK_BAD = -1 };

/* Reads from in: HTTP1_CHUNK_DATA with *data, *datalen a span of in that is
 * body; HTTP1_CHUNK_MORE when all of in was framing and more is needed;
 * HTTP1_CHUNK_END once the body (and its trailer) ended; HTTP1_CHUNK_BAD
 * when it is malformed. *consumed: the bytes of in this call used. */
int http1_chunked_next(struct http1_chunked *c, const char *in, size_t len, size_t *consumed,
                       const char **data, size_t *datalen);

#endif
