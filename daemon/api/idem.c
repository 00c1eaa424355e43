/* idem.c - see idem.h. A retry with the same key and the same body gets
 * the first answer, another body a 409: the hash is what tells them
 * apart. Each resource keeps its own keys (sql/002, sql/017). */
#include "api/idem.h"

#include "http/http.h"
#include "validate.h"

#include <event2/buffer.h>
#include <stdio.h>

int idem_read(struct req *r, char key[IDEM_KEY_SIZE], char hash[TOKEN_HASH_HEX + 1])
{
	const char *k = req_header(r, "Idempotency-Key");
	key[0] = '\0';
	if (!k)
		return 0;
	if (!valid_text(k, IDEM_KEY_SIZE - 1, 0))
		return -1;
	snprintf(key, IDEM_KEY_SIZE, "%s", k);
	size_t len;
	const char *body = req_body(r, &len);
	if (!body || token_hash(body, len, hash))
		return -2;
	return 0;
}
