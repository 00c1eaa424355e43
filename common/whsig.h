/* whsig.h - Standard Webhooks secrets and signatures: "whsec_" + base64 of
 * 32 random bytes, and "v1," + base64(HMAC-SHA256(key, id.timestamp.body)). */
#ifndef LIAISON_WHSIG_H
#define LIAISON_WHSIG_H

#include "macros.h"

#include <stddef.h>
#include <stdint.h>

#define WHSEC_LEN    50 /* "whsec_" + 44 base64 characters */
#define WHSIG_V1_LEN 47 /* "v1," + 44 base64 characters */

/* A fresh secret, NUL-terminated. */
int whsig_secret_new(char out[WHSEC_LEN + 1]) WUR;
/* Signs id.timestamp.body with secret ("whsec_..." or bare base64) into
 * out as "v1,...". Fails on a secret that does not decode. */
int whsig_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
               size_t bodylen, char out[WHSIG_V1_LEN + 1]) WUR;

#endif
