/* cidr.c - see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
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
