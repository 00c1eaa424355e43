/* idem.h - the Idempotency-Key of a create (events.c, agreements.c). */
#ifndef LIAISON_IDEM_H
#define LIAISON_IDEM_H

#include "token.h"

#include <stddef.h>

struct req;

#define IDEM_KEY_SIZE 256
#define IDEM_BAD_KEY  "must be 1-255 printable characters"

/* Reads r's Idempotency-Key into key (empty when there is none) and the
 * hash of the body it came with into hash. 0 when read or absent; -1 when
 * the key is not 1-255 printable characters (answer 400, field
 * Idempotency-Key); -2 when the body could not be hashed (500). */
int idem_read(struct req *r, char key[IDEM_KEY_SIZE], char hash[TOKEN_HASH_HEX + 1]);

#endif
