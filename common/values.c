/* values.c - see values.h. */
#include "values.h"

#include "macros.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int duration_parse(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].ms)
				return -1;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

int duration_list_parse(const char *s, int64_t *out, size_t max, size_t *n)
{
	*n = 0;
	if (!s || !*s)
		return 0;
	const char *p = s;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[32];
		if (len == 0 || len >= sizeof(item) || *n >= max)
			return -1;
		memcpy(item, p, len);
		item[len] = '\0';
		if (duration_parse(item, &out[*n]) != 0)
			return -1;
		(*n)++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int rate_parse(const char *s, double *per_sec)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || v < 0 || v > 1000000000)
		return -1;
	if (*end == '\0' && v == 0) {
		*per_sec = 0;
		return 0;
	}
	if (strcmp(end, "/s") == 0)
		*per_sec = (double)v;
	else if (strcmp(end, "/m") == 0)
		*per_sec = (double)v / 60.0;
	else if (strcmp(end, "/h") == 0)
		*per_sec = (double)v / 3600.0;
	else
		return -1;
	return 0;
}

int hostport_parse(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	const char *h = s;
	size_t hl;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl >= hostlen)
		return -1;
	const char *p = colon + 1;
	if (!*p || strlen(p) > 5)
		return -1;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	long v = strtol(p, NULL, 10);
	if (v < 1 || v > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)v;
	return 0;
}
