/* html.c - see html.h. */
#include "html.h"

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

int html_escape(struct evbuffer *b, const char *s)
{
	int rc = 0;
	if (!s)
		return 0;
	while (*s && rc == 0) {
		size_t plain = strcspn(s, "&<>\"'");
		if (plain)
			rc = evbuffer_add(b, s, plain);
		s += plain;
		if (!*s || rc)
			break;
		switch (*s++) {
		case '&': rc = evbuffer_add(b, "&amp;", 5); break;
		case '<': rc = evbuffer_add(b, "&lt;", 4); break;
		case '>': rc = evbuffer_add(b, "&gt;", 4); break;
		case '"': rc = evbuffer_add(b, "&quot;", 6); break;
		default: rc = evbuffer_add(b, "&#39;", 5); break;
		}
	}
	return rc ? -1 : 0;
}

int html_json_script(struct evbuffer *b, const char *json)
{
	int rc = 0;
	if (!json)
		return 0;
	for (const char *s = json; *s && rc == 0;) {
		/* U+2028 and U+2029 are E2 80 A8 and E2 80 A9. */
		size_t plain = strcspn(s, "<>&\xe2");
		if (plain)
			rc = evbuffer_add(b, s, plain);
		s += plain;
		if (!*s || rc)
			break;
		if (*s == '\xe2' && s[1] == '\x80' && (s[2] == '\xa8' || s[2] == '\xa9')) {
			rc = evbuffer_add_printf(b, "\\u%s", s[2] == '\xa8' ? "2028" : "2029") < 0;
			s += 3;
		} else if (*s == '\xe2') {
			rc = evbuffer_add(b, s++, 1);
		} else {
			rc = evbuffer_add_printf(b, "\\u%04x", (unsigned)(unsigned char)*s++) < 0;
		}
	}
	return rc ? -1 : 0;
}

int html_csp_hash(const char *text, char out[HTML_CSP_HASH_LEN])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
	if (!EVP_Digest(text, strlen(text), digest, NULL, EVP_sha256(), NULL))
		return -1;
	EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
	snprintf(out, HTML_CSP_HASH_LEN, "'sha256-%s'", (const char *)b64);
	return 0;
}
