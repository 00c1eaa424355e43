/* netguard.h - which addresses a webhook may not reach unless the
 * operator allows private targets: loopback, private (RFC 1918, ULA),
 * link-local (and so cloud metadata), CGNAT, unspecified, multicast,
 * reserved, and IPv6 forms that embed such an IPv4 address. */
#ifndef LIAISON_NETGUARD_H
#define LIAISON_NETGUARD_H

#include <sys/socket.h>

/* True for an address a webhook must not reach by default. */
int netguard_blocked(const struct sockaddr *sa);
/* For a URL host (an IP literal, IPv6 in brackets or not): 1 blocked,
 * 0 a public address, -1 not an IP literal (a name: checked on connect). */
int netguard_blocked_literal(const char *host);

#endif
