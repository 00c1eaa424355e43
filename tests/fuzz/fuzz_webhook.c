/* fuzz_webhook.c - libFuzzer target: the outside input of webhooks that
 * common/ parses: URL hosts for the private-address guard (and the same
 * bytes as a raw address), and secrets for signing. Nothing may crash, and
 * a secret that signs must give a well-formed v1 signature. */
#include "netguard.h"
#include "whsig.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int v = netguard_blocked_literal(s);
	if (v < -1 || v > 1)
		__builtin_trap();
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	memcpy(&a6.sin6_addr, data, size < 16 ? size : 16);
	(void)netguard_blocked((const struct sockaddr *)&a6);
	char sig[WHSIG_V1_LEN + 1];
	if (whsig_sign(s, "msg_fuzz", 1674087231, s, size, sig) == 0 &&
	    (strlen(sig) != WHSIG_V1_LEN || strncmp(sig, "v1,", 3) != 0))
		__builtin_trap();
	free(s);
	return 0;
}
