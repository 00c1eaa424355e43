/* http1.c - see http1.h. */
#include "http1.h"

#include "hex.h"

#include <string.h>

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int http1_span_is(const char *buf, struct http1_span s, const char *lname)
{
	size_t n = strlen(lname);
	if (s.len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)buf[s.off + i]) != lname[i])
			return 0;
	return 1;
}

static const char *crlf(const char *p, const char *end)
{
	return end - p >= 2 ? memmem(p, (size_t)(end - p), "\r\n", 2) : NULL;
}

size_t http1_skip_blank(const char *buf, size_t len)
{
	size_t n = 0;
	while (n + 1 < len && buf[n] == '\r' && buf[n + 1] == '\n')
		n += 2;
	return n;
}

int http1_head_scan(const char *buf, size_t len, struct http1_scan *s, size_t max_line,
                    size_t max_head, size_t *head_len)
{
	size_t i = s->scanned;
	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return 400;
		if (!s->line_end)
			s->line_end = i + 1;
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			s->scanned = i + 1;
			*head_len = i + 1;
			return (s->line_end - 2 > max_line) ? 414 : (i + 1 > max_head) ? 431 : 1;
		}
	}
	s->scanned = len;
	if ((!s->line_end && len > max_line + 1) || (s->line_end && s->line_end - 2 > max_line))
		return 414;
	return len > max_head ? 431 : 0;
}

static int fail(const char **why, const char *text, int status)
{
	*why = text;
	return status;
}

/* The comma-separated elements of a field value, one by one, each without
 * surrounding whitespace (empty ones included). */
struct elements {
	const char *p, *end;
};

static int next_element(struct elements *e, struct http1_span *out, const char *base)
{
	if (!e->p)
		return 0;
	const char *comma = memchr(e->p, ',', (size_t)(e->end - e->p));
	const char *stop = comma ? comma : e->end, *a = e->p, *z = stop;
	while (a < z && (*a == ' ' || *a == '\t'))
		a++;
	while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
		z--;
	out->off = (size_t)(a - base);
	out->len = (size_t)(z - a);
	e->p = comma ? comma + 1 : NULL;
	return 1;
}

static int content_length(const char *buf, const struct http1_field *f, struct http1_head *h,
                          const char **why)
{
	struct elements e = {buf + f->value.off, buf + f->value.off + f->value.len};
	struct http1_span el;
	while (next_element(&e, &el, buf)) {
		if (el.len == 0 || strspn(buf + el.off, "0123456789") < el.len)
			return fail(why, "Content-Length must be digits alone", 400);
		int64_t v = 0;
		for (size_t i = 0; i < el.len; i++) {
			int d = buf[el.off + i] - '0';
			v = v > (INT64_MAX - d) / 10 ? INT64_MAX : v * 10 + d;
		}
		if (h->content_length >= 0 && h->content_length != v)
			return fail(why, "two different Content-Length values", 400);
		h->content_length = v;
	}
	return 0;
}

static int framing(const char *buf, struct http1_head *h, const char **why)
{
	int hosts = 0, auths = 0, codings = 0, closing = 0, keep = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http1_field *f = &h->fields[i];
		struct elements e = {buf + f->value.off, buf + f->value.off + f->value.len};
		struct http1_span el;
		if (http1_span_is(buf, f->name, "content-length")) {
			int rc = content_length(buf, f, h, why);
			if (rc)
				return rc;
		} else if (http1_span_is(buf, f->name, "transfer-encoding")) {
			while (next_element(&e, &el, buf)) {
				if (!http1_span_is(buf, el, "chunked") || ++codings > 1)
					return fail(why, "Transfer-Encoding must be chunked alone",
					            400);
			}
			if (codings == 0)
				return fail(why, "Transfer-Encoding must be chunked alone", 400);
		} else if (http1_span_is(buf, f->name, "connection")) {
			while (next_element(&e, &el, buf)) {
				closing |= http1_span_is(buf, el, "close");
				keep |= http1_span_is(buf, el, "keep-alive");
			}
		} else if (http1_span_is(buf, f->name, "host")) {
			hosts++;
		} else if (http1_span_is(buf, f->name, "authorization")) {
			auths++;
		} else if (http1_span_is(buf, f->name, "expect")) {
			h->expect_continue = http1_span_is(buf, f->value, "100-continue") ? 1 : -1;
		}
	}
	if (hosts > 1 || (hosts == 0 && h->minor >= 1))
		return fail(why, "an HTTP/1.1 request has one Host header", 400);
	if (auths > 1)
		return fail(why, "more than one Authorization header", 400);
	if (codings) {
		if (h->content_length >= 0)
			return fail(why, "both Transfer-Encoding and Content-Length", 400);
		if (h->minor == 0)
			return fail(why, "Transfer-Encoding in an HTTP/1.0 request", 400);
		h->chunked = 1;
	}
	h->keep_alive = h->minor >= 1 ? !closing : keep && !closing;
	return 0;
}

int http1_parse_head(const char *buf, size_t len, size_t max_line, struct http1_head *h,
                     const char **why)
{
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	const char *end = buf + len, *eol = crlf(buf, end);
	if (!eol)
		return fail(why, "the request head is not complete", 400);
	if ((size_t)(eol - buf) > max_line)
		return fail(why, "the request line is too long", 414);
	const char *p = buf;
	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	if (p == buf || p - buf > 32 || p >= eol || *p != ' ')
		return fail(why, "malformed request line", 400);
	h->method.len = (size_t)(p - buf);
	const char *t = ++p;
	while (p < eol && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
		p++;
	if (p == t || p >= eol || *p != ' ')
		return fail(why, "malformed request target", 400);
	h->target.off = (size_t)(t - buf);
	h->target.len = (size_t)(p - t);
	p++;
	if (eol - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
	    p[7] < '0' || p[7] > '9')
		return fail(why, "malformed HTTP version", 400);
	if (p[5] != '1')
		return fail(why, "only HTTP/1.0 and HTTP/1.1 are served", 505);
	h->minor = p[7] - '0';
	for (p = eol + 2;; p = eol + 2) {
		eol = crlf(p, end);
		if (!eol)
			return fail(why, "the request head is not complete", 400);
		if (eol == p)
			break;
		if (*p == ' ' || *p == '\t')
			return fail(why, "folded header lines are not accepted", 400);
		if (h->nfields == HTTP1_MAX_FIELDS)
			return fail(why, "too many header fields", 431);
		const char *q = p;
		while (q < eol && is_tchar((unsigned char)*q))
			q++;
		if (q == p || q >= eol || *q != ':')
			return fail(why, "malformed header field name", 400);
		const char *v = q + 1, *ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		/* NUL, CR and LF are refused (RFC 9110 §5.5: they end a C string
		 * or a line); other control characters are kept, as it allows,
		 * for the handler to judge (Idempotency-Key names its fault). */
		for (const char *x = v; x < ve; x++)
			if (*x == '\0' || *x == '\r' || *x == '\n')
				return fail(why, "NUL, CR or LF in a header field", 400);
		struct http1_field *f = &h->fields[h->nfields++];
		f->name.off = (size_t)(p - buf);
		f->name.len = (size_t)(q - p);
		f->value.off = (size_t)(v - buf);
		f->value.len = (size_t)(ve - v);
	}
	return framing(buf, h, why);
}

/* ---- chunked bodies ------------------------------------------------------- */

enum {
	S_SIZE,
	S_EXT_SEMI,   /* BWS, then ';' (or the line ends after a value) */
	S_EXT_NAME0,  /* BWS, then a chunk-ext-name */
	S_EXT_NAME,   /* in the name */
	S_EXT_EQ,     /* BWS after the name: ';' or '=' */
	S_EXT_VAL0,   /* BWS, then a token or a quoted-string */
	S_EXT_TOKEN,  /* in a token value */
	S_EXT_QUOTED, /* in a quoted-string */
	S_EXT_QPAIR,  /* after its backslash */
	S_EXT_QEND,   /* after its closing quote */
	S_SIZE_LF,
	S_DATA,
	S_DATA_CR,
	S_DATA_LF,
	S_TRAILER_START,
	S_TRAILER,
	S_TRAILER_LF,
	S_END_LF,
	S_DONE
};

#define CHUNK_LINE_MAX 4096
#define TRAILER_MAX    8192

static int is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* A chunk-size line past its digits (RFC 9112 7.1.1):
 *   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * with a token name and a token or quoted-string value. Whitespace stands
 * only before ';' or '=' or after them, never before the CRLF: "5 \r\n"
 * and the like are what parsers in front of us may read otherwise (the
 * request smuggling of llhttp's lenient chunk lines), so they are refused.
 * The next state, S_SIZE_LF at the line's CR, or -1. */
static int chunk_ext_next(int state, unsigned char ch)
{
	switch (state) {
	case S_EXT_SEMI: return is_ws(ch) ? state : ch == ';' ? S_EXT_NAME0 : -1;
	case S_EXT_NAME0: return is_ws(ch) ? state : is_tchar(ch) ? S_EXT_NAME : -1;
	case S_EXT_NAME:
		if (is_tchar(ch))
			return state;
		/* fall through - what may follow a name */
	case S_EXT_EQ:
		if (ch == '\r' && state == S_EXT_NAME)
			return S_SIZE_LF;
		return is_ws(ch) ? S_EXT_EQ : ch == ';' ? S_EXT_NAME0 : ch == '=' ? S_EXT_VAL0 : -1;
	case S_EXT_VAL0:
		return is_ws(ch)      ? state
		       : ch == '"'    ? S_EXT_QUOTED
		       : is_tchar(ch) ? S_EXT_TOKEN
		                      : -1;
	case S_EXT_TOKEN:
		if (is_tchar(ch))
			return state;
		/* fall through - what may follow a value */
	case S_EXT_QEND:
		return ch == '\r'  ? S_SIZE_LF
		       : is_ws(ch) ? S_EXT_SEMI
		       : ch == ';' ? S_EXT_NAME0
		                   : -1;
	case S_EXT_QUOTED:
		/* qdtext: HTAB, SP, VCHAR but '"' and '\\', obs-text */
		return ch == '"' ? S_EXT_QEND : ch == '\\' ? S_EXT_QPAIR : is_ctl(ch) ? -1 : state;
	case S_EXT_QPAIR:
		/* quoted-pair: HTAB, SP, VCHAR, obs-text */
		return is_ctl(ch) ? -1 : S_EXT_QUOTED;
	default: return -1;
	}
}

int http1_chunked_next(struct http1_chunked *c, const char *in, size_t len, size_t *consumed,
                       const char **data, size_t *datalen)
{
	*data = NULL;
	*datalen = 0;
	*consumed = 0;
	if (c->state == S_DONE)
		return HTTP1_CHUNK_END;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		int v;
		switch (c->state) {
		case S_SIZE:
			if ((v = hex_value(ch)) >= 0) {
				if (++c->digits > 16)
					return HTTP1_CHUNK_BAD;
				c->left = c->left << 4 | (uint64_t)v;
			} else if (c->digits && ch == '\r') {
				c->state = S_SIZE_LF;
			} else if (c->digits && (ch == ';' || is_ws(ch))) {
				c->state = ch == ';' ? S_EXT_NAME0 : S_EXT_SEMI;
			} else {
				return HTTP1_CHUNK_BAD;
			}
			break;
		case S_EXT_SEMI:
		case S_EXT_NAME0:
		case S_EXT_NAME:
		case S_EXT_EQ:
		case S_EXT_VAL0:
		case S_EXT_TOKEN:
		case S_EXT_QUOTED:
		case S_EXT_QPAIR:
		case S_EXT_QEND:
			if (++c->line > CHUNK_LINE_MAX ||
			    (c->state = chunk_ext_next(c->state, ch)) < 0)
				return HTTP1_CHUNK_BAD;
			break;
		case S_SIZE_LF:
			if (ch != '\n')
				return HTTP1_CHUNK_BAD;
			c->state = c->left ? S_DATA : S_TRAILER_START;
			c->digits = 0;
			c->line = 0;
			break;
		case S_DATA: {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			*data = in + i;
			*datalen = n;
			c->left -= n;
			if (c->left == 0)
				c->state = S_DATA_CR;
			*consumed = i + n;
			return HTTP1_CHUNK_DATA;
		}
		case S_DATA_CR:
			if (ch != '\r')
				return HTTP1_CHUNK_BAD;
			c->state = S_DATA_LF;
			break;
		case S_DATA_LF:
			if (ch != '\n')
				return HTTP1_CHUNK_BAD;
			c->state = S_SIZE;
			break;
		case S_TRAILER_START:
			if (ch == '\r') {
				c->state = S_END_LF;
				break;
			}
			c->state = S_TRAILER;
			/* fall through */
		case S_TRAILER:
			if (ch == '\r')
				c->state = S_TRAILER_LF;
			else if (is_ctl(ch) || ++c->trailer > TRAILER_MAX)
				return HTTP1_CHUNK_BAD;
			break;
		case S_TRAILER_LF:
			if (ch != '\n')
				return HTTP1_CHUNK_BAD;
			c->state = S_TRAILER_START;
			break;
		case S_END_LF:
			if (ch != '\n')
				return HTTP1_CHUNK_BAD;
			c->state = S_DONE;
			*consumed = i + 1;
			return HTTP1_CHUNK_END;
		default: return HTTP1_CHUNK_BAD;
		}
	}
	*consumed = len;
	return HTTP1_CHUNK_MORE;
}
