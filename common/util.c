/* util.c - pure parsing helpers shared by the config, the API and tests. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int64_t now_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t now_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rfc3339_utc(int64_t unix_seconds, char out[21])
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#include <arpa/inet.h>
#include <sys/socket.h>

int cidr_parse(const char *s, struct cidr *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || b < 0 || b > out->bits)
			return -1;
		out->bits = (int)b;
	}
	return 0;
}

int cidr_list_parse(const char *s, struct cidr *out, size_t max, size_t *n)
{
	*n = 0;
	while (s && *s) {
		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t len = strcspn(s, ", ");
		char item[64];
		if (len >= sizeof(item) || *n == max)
			return -1;
		memcpy(item, s, len);
		item[len] = '\0';
		if (cidr_parse(item, &out[*n]) != 0)
			return -1;
		(*n)++;
		s += len;
	}
	return 0;
}

int cidr_match(const struct cidr *nets, size_t n, const char *addr)
{
	struct cidr a;
	if (cidr_parse(addr, &a) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (nets[i].family != a.family)
			continue;
		int bits = nets[i].bits, full = bits / 8, rest = bits % 8;
		if (memcmp(nets[i].addr, a.addr, (size_t)full) != 0)
			continue;
		if (rest && (nets[i].addr[full] ^ a.addr[full]) & (0xff << (8 - rest)))
			continue;
		return 1;
	}
	return 0;
}
