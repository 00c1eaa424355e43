/* token.c - API and feed tokens. Tokens are 256 random bits from the
 * kernel's CSPRNG (through OpenSSL); the database only ever sees their
 * SHA-256, so a leaked table does not leak working credentials. */
#include "token.h"

#include "hex.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

size_t base64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

int token_generate(char out[TOKEN_LEN + 1])
{
	unsigned char raw[TOKEN_BYTES];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	base64url_encode(raw, sizeof(raw), out);
	return 0;
}

/* SHA-256 fetched once: EVP_sha256() has each digest look it up again,
 * which doubled the cost of hashing a 500-byte VEVENT (a feed hashes each
 * of its texts once). Kept for the process's life. Each thread keeps one
 * context too: EVP_Digest makes and frees one per call, a fifth of the
 * time of 10,000 such digests (5.0 against 6.3 ms, a microbenchmark). */
static EVP_MD *sha256_md;
static pthread_key_t sha256_ctx_key;
static int sha256_ctx_ok;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha256_ctx_ok = pthread_key_create(&sha256_ctx_key, sha256_ctx_free) == 0;
}

/* This thread's context, or NULL (then a digest makes its own). */
static EVP_MD_CTX *sha256_ctx(void)
{
	if (!sha256_ctx_ok || !sha256_md)
		return NULL;
	EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key);
	if (!ctx && (ctx = EVP_MD_CTX_new()) && pthread_setspecific(sha256_ctx_key, ctx) != 0) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

int digest_sha256(const void *s, size_t len, unsigned char out[DIGEST_BYTES])
{
	pthread_once(&sha256_once, sha256_fetch);
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = sha256_ctx();
	if (ctx)
		return EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
		               EVP_DigestUpdate(ctx, s, len) == 1 &&
		               EVP_DigestFinal_ex(ctx, out, &mdlen) == 1 && mdlen == DIGEST_BYTES
		           ? 0
		           : -1;
	const EVP_MD *md = sha256_md ? sha256_md : EVP_sha256();
	return EVP_Digest(s, len, out, &mdlen, md, NULL) == 1 && mdlen == DIGEST_BYTES ? 0 : -1;
}

void digest_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[in[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int digest_unhex(const char *s, size_t len, unsigned char out[DIGEST_BYTES])
{
	if (len != 2 * DIGEST_BYTES)
		return -1;
	int bad = 0;
	for (size_t i = 0; i < DIGEST_BYTES; i++) {
		int hi = hex_value((unsigned char)s[2 * i]),
		    lo = hex_value((unsigned char)s[2 * i + 1]);
		bad |= hi | lo;
		out[i] = (unsigned char)((unsigned)hi << 4 | (unsigned)lo);
	}
	return bad < 0 ? -1 : 0;
}

int token_hash(const char *s, size_t len, char out[TOKEN_HASH_HEX + 1])
{
	unsigned char md[DIGEST_BYTES];
	if (digest_sha256(s, len, md) != 0)
		return -1;
	digest_hex(md, sizeof(md), out);
	return 0;
}

int random_hex(char *out, size_t n)
{
	unsigned char raw[64];
	if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
		return -1;
	digest_hex(raw, n, out);
	return 0;
}

int token_well_formed(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	return n == TOKEN_LEN && s[n] == '\0';
}
