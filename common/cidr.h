/* cidr.h - IPv4 and IPv6 networks, for trusted_proxies. */
#ifndef LIAISON_CIDR_H
#define LIAISON_CIDR_H

#include "macros.h"

#include <stddef.h>

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
