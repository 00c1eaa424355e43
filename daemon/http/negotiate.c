/* negotiate.c - see negotiate.h. */
#include "http/negotiate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

void http_date_format(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int64_t http_date_parse(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
	return end && !*end ? (int64_t)timegm(&tm) : -1;
}

/* The weight of one Accept-Encoding member ("gzip;q=0.5"): 1 without a q,
 * 0 when the q is not a number from 0 to 1. */
static double coding_q(const char *item, size_t len)
{
	for (const char *p = memchr(item, ';', len); p;
	     p = memchr(p, ';', len - (size_t)(p - item))) {
		p++;
		while (p < item + len && (*p == ' ' || *p == '\t'))
			p++;
		if (p + 2 <= item + len && (*p == 'q' || *p == 'Q') && p[1] == '=') {
			char num[8];
			size_t n = strcspn(p + 2, ",; \t");
			if (n == 0 || n >= sizeof(num) || p + 2 + n > item + len)
				return 0;
			memcpy(num, p + 2, n);
			num[n] = '\0';
			char *end;
			double q = strtod(num, &end);
			return *end || q < 0 || q > 1 ? 0 : q;
		}
	}
	return 1;
}

/* Whether the client takes gzip (RFC 9110, 12.5.3): gzip or x-gzip listed
 * with a weight above 0, or not listed and "*" above 0. */
int http_accepts_gzip(const char *accept_encoding)
{
	int gzip = -1, any = -1; /* -1: not listed */
	for (const char *p = accept_encoding; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *name = p + strspn(p, " \t");
		size_t nlen = strcspn(name, ",; \t");
		int positive = coding_q(p, len) > 0;
		if ((nlen == 4 && !strncasecmp(name, "gzip", 4)) ||
		    (nlen == 6 && !strncasecmp(name, "x-gzip", 6)))
			gzip = positive;
		else if (nlen == 1 && *name == '*')
			any = positive;
		p += len + (p[len] == ',');
	}
	return gzip >= 0 ? gzip : any > 0;
}

size_t http_gzip_bound(size_t len)
{
	z_stream zs = {0};
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	size_t bound = deflateBound(&zs, (uLong)len);
	deflateEnd(&zs);
	return bound;
}

int http_gzip(const char *data, size_t len, char *out, size_t cap, size_t *outlen)
{
	z_stream zs = {0};
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	int rc = deflate(&zs, Z_FINISH) == Z_STREAM_END ? 0 : -1;
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return rc;
}
