/* validate.c - identifier and text checks. Text from outside must be
 * valid UTF-8 before PostgreSQL sees it (it would refuse it with an error
 * that says nothing about the field). */
#include "validate.h"

#include <string.h>

int valid_slug(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int valid_country(const char *s)
{
	return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
			return 0;
		return 4;
	}
	return 0;
}

int valid_text(const char *s, size_t max, int allow_newlines)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		if (*p < 0x20 && !(allow_newlines && (*p == '\n' || *p == '\t' || *p == '\r')))
			return 0;
		if (*p == 0x7F)
			return 0;
		size_t k = utf8_seq(p);
		if (!k)
			return 0;
		p += k;
	}
	return 1;
}

int valid_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdef", s[i]) || !s[i]) {
			return 0;
		}
	}
	return 1;
}

int valid_role(const char *s)
{
	return !strcmp(s, "admin") || !strcmp(s, "editor") || !strcmp(s, "viewer");
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int valid_lang_tag(const char *s)
{
	size_t n = 0;
	while (is_alpha(s[n]))
		n++;
	if (n < 2 || n > 3 || strlen(s) > 35)
		return 0;
	for (const char *p = s + n; *p;) {
		if (*p++ != '-')
			return 0;
		size_t k = 0;
		while (is_alpha(p[k]) || (p[k] >= '0' && p[k] <= '9'))
			k++;
		if (k < 1 || k > 8)
			return 0;
		p += k;
	}
	return 1;
}
