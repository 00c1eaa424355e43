/* util.h - small pure helpers: durations, rates, addresses, time, memory. */
#ifndef LIAISON_UTIL_H
#define LIAISON_UTIL_H

#include "compat.h"

#include <stddef.h>
#include <stdint.h>

/* "15s", "5m", "250ms", "5d": an integer and a unit, into milliseconds. */
int duration_parse(const char *s, int64_t *ms) WUR;
/* "5s,5m,30m": at most max entries. */
int duration_list_parse(const char *s, int64_t *out, size_t max, size_t *n) WUR;
/* "50/s", "600/m", "0": requests per second. */
int rate_parse(const char *s, double *per_sec) WUR;
/* "127.0.0.1:8080", "[::1]:8080", ":8080": host (may be empty) and port. */
int hostport_parse(const char *s, char *host, size_t hostlen, int *port) WUR;
/* FNV-1a of a string: for hash tables keyed by ids and tokens, which are
 * random already or come from our own database. */
uint32_t str_hash(const char *s);
/* Milliseconds on the monotonic clock. */
int64_t now_monotonic_ms(void);
/* Microseconds on the monotonic clock. */
int64_t now_monotonic_us(void);
/* Wall-clock milliseconds since the epoch. */
int64_t now_realtime_ms(void);
/* UTC instant as RFC 3339 with Z and whole seconds ("2024-08-20T07:00:00Z"). */
void rfc3339_utc(int64_t unix_seconds, char out[21]);

/* An IPv4 or IPv6 network ("10.0.0.0/8", "::1", "192.0.2.7"). */
struct cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};
#define CIDR_MAX 32
int cidr_parse(const char *s, struct cidr *out) WUR;
/* "10.0.0.0/8, ::1": at most max networks. */
int cidr_list_parse(const char *s, struct cidr *out, size_t max, size_t *n) WUR;
int cidr_match(const struct cidr *nets, size_t n, const char *addr);
#endif
