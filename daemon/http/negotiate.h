/* negotiate.h - what conditional and compressed answers need: HTTP dates
 * (RFC 9110 IMF-fixdate), whether a client takes gzip (Accept-Encoding),
 * and gzip itself (RFC 1952: deflate with window bits 31). */
#ifndef LIAISON_NEGOTIATE_H
#define LIAISON_NEGOTIATE_H

#include <stddef.h>
#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" of Unix time t. */
void http_date_format(int64_t t, char out[32]);
/* Unix time of such a date, or -1 (NULL or malformed). */
int64_t http_date_parse(const char *s);
/* Whether the client takes gzip (RFC 9110, 12.5.3): gzip or x-gzip listed
 * with a weight above 0, or not listed and "*" above 0. */
int http_accepts_gzip(const char *accept_encoding);
/* Room gzip of len bytes may take (0: zlib failed). */
size_t http_gzip_bound(size_t len);
/* gzip of data into out (cap bytes, at least http_gzip_bound); 0 or -1. */
int http_gzip(const char *data, size_t len, char *out, size_t cap, size_t *outlen);

#endif
