/* whsig.c - Standard Webhooks signing with OpenSSL (HMAC-SHA256, base64).
 * The key is the base64-decoded part after "whsec_"; keys of any length
 * from 1 to 64 bytes are accepted, as receivers' libraries do. */
#include "whsig.h"

#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define KEY_BYTES 32
#define KEY_MAX   64

int whsig_secret_new(char out[WHSEC_LEN + 1])
{
	unsigned char raw[KEY_BYTES];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memcpy(out, "whsec_", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* Strict base64 with padding; returns the decoded length or -1. */
static int key_decode(const char *b64, unsigned char out[KEY_MAX])
{
	size_t n = strlen(b64);
	if (n == 0 || n % 4 || n > (size_t)KEY_MAX / 3 * 4 + 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = b64[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		         (c >= '0' && c <= '9') || c == '+' || c == '/' || (c == '=' && i >= n - 2);
		if (!ok || (c != '=' && i > 0 && b64[i - 1] == '='))
			return -1;
	}
	unsigned char buf[KEY_MAX + 3];
	int len = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	/* EVP_DecodeBlock counts padding as zero bytes. */
	len -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
	if (len <= 0 || len > KEY_MAX)
		return -1;
	memcpy(out, buf, (size_t)len);
	OPENSSL_cleanse(buf, sizeof(buf));
	return len;
}

int whsig_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
               size_t bodylen, char out[WHSIG_V1_LEN + 1])
{
	if (!strncmp(secret, "whsec_", 6))
		secret += 6;
	unsigned char key[KEY_MAX];
	int keylen = key_decode(secret, key);
	if (keylen < 0)
		return -1;
	char head[160];
	int hl = snprintf(head, sizeof(head), "%s.%lld.", msg_id, (long long)timestamp);
	if (hl < 0 || (size_t)hl >= sizeof(head)) {
		OPENSSL_cleanse(key, sizeof(key));
		return -1;
	}
	unsigned char mac[EVP_MAX_MD_SIZE];
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	size_t outl = 0;
	int ok = ctx && EVP_MAC_init(ctx, key, (size_t)keylen, params) == 1 &&
	         EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)hl) == 1 &&
	         EVP_MAC_update(ctx, (const unsigned char *)body, bodylen) == 1 &&
	         EVP_MAC_final(ctx, mac, &outl, sizeof(mac)) == 1 && outl == 32;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		return -1;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)outl);
	return 0;
}
