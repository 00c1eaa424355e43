/* html.h - text made safe for an HTML page: escaped as text or attribute
 * value, JSON made safe inside a <script type="application/ld+json"> data
 * block, and the Content-Security-Policy source that allows one inline
 * <style> or <script> by its digest. Nothing here makes markup of text. */
#ifndef LIAISON_HTML_H
#define LIAISON_HTML_H

#include "macros.h"

#include <stddef.h>

struct evbuffer;

/* Appends s with & < > " ' as character references: safe as text and in a
 * quoted attribute value. 0, or -1 when out of memory. */
int html_escape(struct evbuffer *b, const char *s) WUR;
/* Appends the JSON text json with <, >, & and U+2028/U+2029 as \u escapes:
 * still the same JSON (they only occur inside strings), and no "</script",
 * "<!--" or "]]>" can end or change the block it sits in. 0, or -1. */
int html_json_script(struct evbuffer *b, const char *json) WUR;
/* "'sha256-BASE64'" of text, for script-src or style-src. */
#define HTML_CSP_HASH_LEN 56
int html_csp_hash(const char *text, char out[HTML_CSP_HASH_LEN]) WUR;

#endif
