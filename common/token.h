/* token.h - secrets: random tokens in base64url, their SHA-256 for storage. */
#ifndef LIAISON_TOKEN_H
#define LIAISON_TOKEN_H

#include "macros.h"

#include <stddef.h>

#define TOKEN_BYTES    32
#define TOKEN_LEN      43 /* base64url of 32 bytes, unpadded */
#define TOKEN_HASH_HEX 64

/* 32 random bytes as unpadded base64url, NUL-terminated. */
int token_generate(char out[TOKEN_LEN + 1]) WUR;
/* Lower-case hex SHA-256 of s: the form tokens are stored in. */
int token_hash(const char *s, size_t len, char out[TOKEN_HASH_HEX + 1]) WUR;
/* The SHA-256 of s, raw (32 bytes). */
#define DIGEST_BYTES 32
int digest_sha256(const void *s, size_t len, unsigned char out[DIGEST_BYTES]) WUR;
/* n bytes as lower-case hex; out needs 2*n+1. */
void digest_hex(const unsigned char *in, size_t n, char *out);
/* A digest back from exactly 64 hex digits (either case) of s: 0, or -1
 * when s is anything else. */
int digest_unhex(const char *s, size_t len, unsigned char out[DIGEST_BYTES]) WUR;
/* Unpadded base64url; out needs 4*ceil(n/3)+1 bytes. Returns the length. */
size_t base64url_encode(const unsigned char *in, size_t n, char *out);
/* Random hex string of 2*n characters (request ids). */
int random_hex(char *out, size_t n) WUR;
/* Accepts only what token_generate makes: 43 base64url characters. */
int token_well_formed(const char *s);

#endif
