/* visit_text.c - the texts of a visit being checked: titles given as
 * text or in several languages, the visit's languages, names as people
 * are compared, and the descriptions its events carry. */
#include "api/jsonv.h"
#include "api/visit_op.h"
#include "macros.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void visit_put(struct vcheck *c, json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v))
		c->oom = 1;
}

void visit_put_text(struct vcheck *c, json_t *obj, const char *key, const char *s)
{
	visit_put(c, obj, key, s ? json_string(s) : json_null());
}

const char *visit_pick(json_t *obj, const char *key, const char *field, const char *const *values,
                       const char *dflt, json_t *errors)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return dflt;
	const char *s = json_string_value(v);
	for (const char *const *x = values; s && *x; x++)
		if (!strcmp(*x, s))
			return *x;
	char m[200] = "must be one of";
	for (const char *const *x = values; *x; x++) {
		strncat(m, x == values ? " " : ", ", sizeof(m) - strlen(m) - 1);
		strncat(m, *x, sizeof(m) - strlen(m) - 1);
	}
	jv_error(errors, field, m);
	return NULL;
}

/* "Kim  Min-jun" is "kim min-jun" here, in people conflicts and in
 * filters alike. */
void visit_person_key(const char *name, char *out, size_t size)
{
	size_t o = 0;
	int space = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && o + 2 < size; p++) {
		if (isspace(*p)) {
			space = o > 0;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = 0;
		out[o++] = (char)tolower(*p);
	}
	out[o] = '\0';
}

void visit_add_lang(struct vcheck *c, const char *lang)
{
	if (jv_index_of(c->langs, lang) >= 0)
		return;
	if (json_array_size(c->langs) >= VISIT_MAX_LANGUAGES) {
		jv_error(c->errors, "languages", "a visit's titles use at most 10 languages");
		return;
	}
	if (json_array_append_new(c->langs, json_string(lang)))
		c->oom = 1;
}

int visit_title_check(struct vcheck *c, json_t *obj, const char *field)
{
	json_t *t = json_object_get(obj, "title");
	if (!json_is_object(t))
		return jv_string_at(obj, "title", field, 1, 500, 0, c->errors) ? 0 : -1;
	if (json_object_size(t) == 0 || json_object_size(t) > VISIT_MAX_LANGUAGES) {
		jv_error(c->errors, field,
		         "must be text, or an object of 1 to 10 language tags and texts");
		return -1;
	}
	int bad = 0;
	const char *lang;
	json_t *v;
	json_object_foreach(t, lang, v)
	{
		char f[160];
		snprintf(f, sizeof(f), "%s.%.60s", field, lang);
		if (!valid_lang_tag(lang)) {
			jv_error(c->errors, f, "must be a language tag such as vi, en or ko");
			bad = 1;
		} else if (!jv_string_at(t, lang, f, 1, 500, 0, c->errors)) {
			bad = 1;
		} else {
			visit_add_lang(c, lang);
		}
	}
	return bad ? -1 : 0;
}

const char *visit_title_first(json_t *t, json_t *langs)
{
	if (json_is_string(t))
		return json_string_value(t);
	size_t i;
	json_t *l;
	json_array_foreach(langs, i, l)
	{
		json_t *v = json_object_get(t, json_string_value(l));
		if (json_is_string(v))
			return json_string_value(v);
	}
	return NULL;
}

void visit_titles_other(struct evbuffer *b, json_t *t, json_t *langs, const char *first)
{
	size_t i;
	json_t *l;
	json_array_foreach(langs, i, l)
	{
		const char *s = json_string_value(json_object_get(t, json_string_value(l)));
		if (s && s != first)
			evbuffer_add_printf(b, "%s: %s\n", json_string_value(l), s);
	}
}

json_t *visit_description(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	if (!s) {
		evbuffer_free(b);
		return NULL;
	}
	evbuffer_remove(b, s, n);
	evbuffer_free(b);
	if (n > VISIT_MAX_DESCRIPTION) {
		n = VISIT_MAX_DESCRIPTION;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	while (n > 0 && s[n - 1] == '\n')
		n--;
	s[n] = '\0';
	json_t *j = n ? json_string(s) : json_null();
	free(s);
	return j;
}
