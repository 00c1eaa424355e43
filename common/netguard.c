/* netguard.c - the private-address guard for webhook targets. Checked on
 * the address actually dialled (curl's open-socket callback), so a name
 * that resolves differently later (DNS rebinding) cannot slip past. */
#include "netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static int blocked_v4(uint32_t a)
{
	static const struct {
		uint32_t net;
		int bits;
	} nets[] = {
	    {0x00000000, 8},  /* 0.0.0.0/8 "this network" */
	    {0x0a000000, 8},  /* 10/8 */
	    {0x64400000, 10}, /* 100.64/10 CGNAT */
	    {0x7f000000, 8},  /* loopback */
	    {0xa9fe0000, 16}, /* link-local, 169.254.169.254 metadata */
	    {0xac100000, 12}, /* 172.16/12 */
	    {0xc0000000, 24}, /* 192.0.0/24 IETF assignments */
	    {0xc0000200, 24}, /* TEST-NET-1 */
	    {0xc0a80000, 16}, /* 192.168/16 */
	    {0xc6120000, 15}, /* 198.18/15 benchmarking */
	    {0xc6336400, 24}, /* TEST-NET-2 */
	    {0xcb007100, 24}, /* TEST-NET-3 */
	    {0xe0000000, 4},  /* multicast */
	    {0xf0000000, 4},  /* reserved and broadcast */
	};
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		uint32_t mask = nets[i].bits ? ~0u << (32 - nets[i].bits) : 0;
		if ((a & mask) == nets[i].net)
			return 1;
	}
	return 0;
}

static uint32_t v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int blocked_v6(const unsigned char *b)
{
	static const unsigned char zero[16];
	if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
		return 1;
	if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local (fd00:ec2::254 too) */
		return 1;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
		return 1;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local */
		return 1;
	if (b[0] == 0xff) /* multicast */
		return 1;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* documentation */
		return 1;
	/* IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d */
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(b, mapped, 12) || !memcmp(b, zero, 12))
		return blocked_v4(v4_at(b + 12));
	/* NAT64 64:ff9b::/96 */
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	if (!memcmp(b, nat64, 12))
		return blocked_v4(v4_at(b + 12));
	if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 2002:a.b.c.d::/48 */
		return blocked_v4(v4_at(b + 2));
	return 0;
}

int netguard_blocked(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return blocked_v4(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return blocked_v6(in6->sin6_addr.s6_addr);
	}
	return 1; /* Unix sockets and the like: never */
}

int netguard_blocked_literal(const char *host)
{
	char buf[64];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, host, n);
	buf[n] = '\0';
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return blocked_v4(ntohl(a4.s_addr));
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		return blocked_v6(a6.s6_addr);
	/* Forms inet_pton refuses but resolvers accept: 2130706433, 0x7f.1,
	 * 127.1. Treat an all-numeric host as an address to refuse. */
	if (strspn(buf, "0123456789.xXabcdefABCDEF") == n && strchr("0123456789", buf[0]))
		return 1;
	return -1;
}
