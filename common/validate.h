/* validate.h - checks of identifiers shared by the API and the CLI. */
#ifndef LIAISON_VALIDATE_H
#define LIAISON_VALIDATE_H

#include <stddef.h>

/* [a-z0-9][a-z0-9-]{0,62}, as the orgs table's CHECK says. */
int valid_slug(const char *s);
/* ISO 3166-1 alpha-2 shape: two upper-case letters. */
int valid_country(const char *s);
/* Length of the UTF-8 sequence at p (1..4), or 0 if it is not well formed
 * (overlong forms, surrogates and values past U+10FFFF included). Reads no
 * further than a NUL byte, so p must be NUL-terminated. */
size_t utf8_seq(const unsigned char *p);
/* Valid UTF-8, no control characters but tab/newline, 1..max bytes. */
int valid_text(const char *s, size_t max, int allow_newlines);
/* Canonical lower-case UUID text. */
int valid_uuid(const char *s);
/* "admin", "editor" or "viewer". */
int valid_role(const char *s);
/* A language tag as far as titles and feeds use them (BCP 47's language
 * and subtags): "vi", "en-GB", "zh-Hant-TW"; at most 35 bytes. The same
 * shape as the CHECK of visit_delegates.language (sql/013). */
int valid_lang_tag(const char *s);

#endif
