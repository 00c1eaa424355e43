/* filters.c - see filters.h. */
#include "api/filters.h"

#include "http/http.h"
#include "api/jsonv.h"
#include "tz.h"
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct listq *listq_new(void)
{
	struct listq *q = calloc(1, sizeof(*q));
	if (q && !(q->sql = evbuffer_new())) {
		free(q);
		return NULL;
	}
	return q;
}

void listq_free(struct listq *q)
{
	if (!q)
		return;
	if (q->sql)
		evbuffer_free(q->sql);
	for (int i = 0; i < q->n; i++)
		free(q->owned[i]);
	free(q);
}

/* Adds a parameter (copied) and returns its number. */
int listq_param(struct listq *q, const char *value)
{
	if (q->n == LIST_MAX_PARAMS)
		return -1;
	q->owned[q->n] = value ? strdup(value) : NULL;
	if (value && !q->owned[q->n])
		return -1; /* never a NULL in its place */
	q->params[q->n] = q->owned[q->n];
	return ++q->n;
}

json_t *filters_values(struct req *r, const char *name)
{
	json_t *out = NULL;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &r->query, next)
	{
		if (strcmp(kv->key, name) != 0)
			continue;
		if (!out)
			out = json_array();
		char *copy = strdup(kv->value), *save = NULL;
		for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
		     tok = strtok_r(NULL, ",", &save))
			json_array_append_new(out, json_string(tok));
		free(copy);
	}
	return out;
}

int filters_check_values(json_t *values, const char *name, json_t *errors)
{
	static const char *const kinds[] = {"visit", "festival", "deadline", "meeting"};
	size_t i;
	json_t *v;
	int ok = 1;
	json_array_foreach(values, i, v)
	{
		const char *s = json_string_value(v);
		int good = s && valid_text(s, 200, 0);
		if (good && !strcmp(name, "kind")) {
			good = 0;
			for (size_t k = 0; k < ARRAY_LEN(kinds); k++)
				good |= !strcmp(s, kinds[k]);
		} else if (good && (!strcmp(name, "org") || !strcmp(name, "partner"))) {
			good = valid_slug(s);
		} else if (good && !strcmp(name, "country")) {
			good = valid_country(s);
		} else if (good && !strcmp(name, "visit")) {
			good = valid_uuid(s);
		}
		if (!good) {
			char field[64];
			snprintf(field, sizeof(field), "%s[%zu]", name, i);
			jv_error(errors, field,
			         !json_string_value(v) ? "must be text" : "not a valid value");
			ok = 0;
		}
	}
	return ok && (!values || json_array_size(values) > 0);
}

/* Events' filters: the condition of each, before and after its parameter. */
static const struct filter_sql event_values[] = {
    {"kind", "e.kind = ANY(ARRAY(SELECT jsonb_array_elements_text(", "::jsonb)))"},
    /* by id: a statement needs no join with orgs for it */
    {"org",
     "e.org_id = ANY(ARRAY(SELECT f.id FROM orgs f"
     " WHERE f.slug = ANY(ARRAY(SELECT jsonb_array_elements_text(",
     "::jsonb)))))"},
    {"partner", "e.partners && ARRAY(SELECT jsonb_array_elements_text(", "::jsonb))"},
    {"tag", "e.tags && ARRAY(SELECT jsonb_array_elements_text(", "::jsonb))"},
    {"city", "lower(e.city) = ANY(ARRAY(SELECT lower(jsonb_array_elements_text(", "::jsonb))))"},
    {"country", "e.country = ANY(ARRAY(SELECT jsonb_array_elements_text(", "::jsonb)))"},
    {"visit", "e.visit_id = ANY(ARRAY(SELECT jsonb_array_elements_text(", "::jsonb)::uuid))"},
    /* written by target_condition: it needs the viewer's org */
    {"person", NULL, NULL},
    {NULL, NULL, NULL}};
static const char *const event_search[] = {"e.title", "e.description", "e.location", NULL};
const struct filter_target filter_events = {event_values, event_search, "e.first_utc"};

/* A person is named on an item only for orgs party to its visit ($me, the
 * viewer's org: sql/013, liaison_event_has_people). */
static void target_condition(struct evbuffer *sql, const struct filter_target *t, const char *name,
                             int param, int me)
{
	if (!strcmp(name, "person")) {
		evbuffer_add_printf(
		    sql, " AND liaison_event_has_people(e.id, $%d::uuid, $%d::jsonb)", me, param);
		return;
	}
	for (const struct filter_sql *f = t->values; f->name; f++)
		if (!strcmp(f->name, name))
			evbuffer_add_printf(sql, " AND %s$%d%s", f->before, param, f->after);
}

/* The SQL condition for one filter: before and after its parameter. */
void filters_sql_condition(struct evbuffer *sql, const char *name, int param, int me)
{
	target_condition(sql, &filter_events, name, param, me);
}

int parse_instant(const char *s, int64_t *out)
{
	struct civil c;
	if (strlen(s) == 10)
		return civil_parse(s, 1, &c) ? -1 : (*out = civil_to_epoch(&c), 0);
	char head[20];
	if (strlen(s) < 20)
		return -1;
	memcpy(head, s, 19);
	head[19] = '\0';
	if (head[10] == 't')
		head[10] = 'T';
	if (civil_parse(head, 0, &c))
		return -1;
	/* RFC 3339 (5.6): time-secfrac = "." 1*DIGIT, time-numoffset =
	 * ("+" / "-") 2DIGIT ":" 2DIGIT, digits and nothing else. */
	const char *z = s + 19;
	if (*z == '.') {
		if (!isdigit((unsigned char)z[1]))
			return -1;
		for (z++; isdigit((unsigned char)*z); z++)
			;
	}
	int64_t t = civil_to_epoch(&c);
	if ((z[0] == 'Z' || z[0] == 'z') && !z[1]) {
		*out = t;
		return 0;
	}
	if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':' &&
	    isdigit((unsigned char)z[1]) && isdigit((unsigned char)z[2]) &&
	    isdigit((unsigned char)z[4]) && isdigit((unsigned char)z[5])) {
		int hh = (z[1] - '0') * 10 + (z[2] - '0'), mm = (z[4] - '0') * 10 + (z[5] - '0');
		if (hh > 23 || mm > 59)
			return -1;
		int64_t off = hh * 3600 + mm * 60;
		*out = z[0] == '+' ? t - off : t + off;
		return 0;
	}
	return -1;
}

static void window_param(struct req *r, struct listq *q, const struct filter_target *target,
                         const char *name, json_t *errors)
{
	const char *v = req_query(r, name);
	int64_t t;
	if (!v)
		return;
	if (parse_instant(v, &t)) {
		jv_error(errors, name, "must be an RFC 3339 instant or a date");
		return;
	}
	char num[24];
	snprintf(num, sizeof(num), "%lld", (long long)t);
	int n = listq_param(q, num);
	if (!strcmp(name, "from")) {
		q->has_from = 1;
		q->from = t;
	} else {
		q->has_to = 1;
		q->to = t;
	}
	if (!strcmp(name, "from"))
		q->from_param = n; /* its two halves: filters_lower_bound */
	else
		evbuffer_add_printf(q->sql, " AND %s < to_timestamp($%d::bigint)", target->starts,
		                    n);
}

void filters_lower_bound(const struct listq *q, int half, struct evbuffer *out)
{
	if (!q->has_from)
		return;
	/* Half 0 holds a series whose early RDATE is before from and whose
	 * start is not: a point in time at from itself counts, as it does in
	 * half 1. */
	if (half == 0)
		evbuffer_add_printf(
		    out,
		    " AND e.first_utc < to_timestamp($%d::bigint) AND "
		    "tstzrange(e.first_utc, e.last_end_utc, '[]') @> "
		    "to_timestamp($%d::bigint) AND (e.last_end_utc > "
		    "to_timestamp($%d::bigint) OR e.start_utc >= to_timestamp($%d::bigint))",
		    q->from_param, q->from_param, q->from_param, q->from_param);
	else
		evbuffer_add_printf(out,
		                    " AND e.first_utc >= to_timestamp($%d::bigint)"
		                    " AND e.start_utc >= to_timestamp($%d::bigint)",
		                    q->from_param, q->from_param);
}

void filters_halves(struct evbuffer *sql, const struct listq *q, int me, int slug, int limit,
                    filters_half_fn half)
{
	if (!q->has_from) {
		half(sql, q, me, slug, limit, -1);
		return;
	}
	evbuffer_add_printf(sql, "SELECT * FROM (");
	half(sql, q, me, slug, limit, 0);
	evbuffer_add_printf(sql, " UNION ALL ");
	half(sql, q, me, slug, limit, 1);
	evbuffer_add_printf(sql, ") x ORDER BY t, id LIMIT $%d::integer", limit);
}

static void text_search(struct req *r, struct listq *q, const struct filter_target *t,
                        json_t *errors)
{
	const char *s = req_query(r, "q");
	if (!s)
		return;
	if (!valid_text(s, 200, 0)) {
		jv_error(errors, "q", "must be 1-200 bytes of text");
		return;
	}
	/* LIKE's own metacharacters in the words are matched literally. */
	char pat[420];
	size_t o = 0;
	pat[o++] = '%';
	for (const char *c = s; *c && o < sizeof(pat) - 3; c++) {
		if (*c == '%' || *c == '_' || *c == '\\')
			pat[o++] = '\\';
		pat[o++] = *c;
	}
	pat[o++] = '%';
	pat[o] = '\0';
	int n = listq_param(q, pat);
	for (const char *const *c = t->search; *c; c++)
		evbuffer_add_printf(q->sql, "%s%s ILIKE $%d", c == t->search ? " AND (" : " OR ",
		                    *c, n);
	evbuffer_add(q->sql, ")", 1);
}

static int known_params(struct req *r, const struct filter_target *t, const char *const *extra,
                        json_t *errors)
{
	static const char *const known[] = {"from", "to", "q", "limit", "cursor"};
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &r->query, next)
	{
		int ok = 0;
		for (size_t i = 0; i < ARRAY_LEN(known); i++)
			ok |= !strcmp(kv->key, known[i]);
		for (const struct filter_sql *f = t->values; f->name; f++)
			ok |= !strcmp(kv->key, f->name);
		for (const char *const *x = extra; x && *x; x++)
			ok |= !strcmp(kv->key, *x);
		if (!ok) {
			char field[80];
			snprintf(field, sizeof(field), "%.60s", kv->key);
			jv_error(errors, valid_text(field, 79, 0) ? field : "query",
			         "unknown query parameter");
		}
	}
	/* These take one value: given twice, which one was meant is unknown. */
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		int seen = 0;
		TAILQ_FOREACH(kv, &r->query, next)
		seen += !strcmp(kv->key, known[i]);
		if (seen > 1)
			jv_error(errors, known[i], "given more than once");
	}
	return json_array_size(errors) == 0;
}

int filters_int_param(struct req *r, const char *name, int min, int max, int dflt, json_t *errors)
{
	const char *v = req_query(r, name);
	if (!v)
		return dflt;
	char *end;
	errno = 0;
	/* Digits only: strtol would also take "+5", " 5" and "-0". */
	long x = strtol(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno || x < min || x > max) {
		char msg[64];
		snprintf(msg, sizeof(msg), "must be an integer from %d to %d", min, max);
		if (errors)
			jv_error(errors, name, msg);
		return dflt;
	}
	return (int)x;
}

static void limit_param(struct req *r, struct listq *q, json_t *errors)
{
	q->limit = filters_int_param(r, "limit", 1, 1000, 100, errors);
}

void filters_apply_to(struct req *r, struct listq *q, const struct filter_target *t,
                      const char *const *extra, json_t *errors)
{
	if (!known_params(r, t, extra, errors))
		return;
	for (const struct filter_sql *f = t->values; f->name; f++) {
		json_t *vals = filters_values(r, f->name);
		if (vals && filters_check_values(vals, f->name, errors)) {
			char *text = json_dumps(vals, JSON_COMPACT);
			int me = strcmp(f->name, "person") ? 0 : listq_param(q, r->who.org_id);
			target_condition(q->sql, t, f->name, listq_param(q, text), me);
			free(text);
		} else if (vals && json_array_size(vals) == 0) {
			jv_error(errors, f->name, "must not be empty");
		}
		json_decref(vals);
	}
	window_param(r, q, t, "from", errors);
	window_param(r, q, t, "to", errors);
	/* [from, to) with to at or before from holds no instant: a client
	 * that swapped them would read "nothing there" from a 200. Refused
	 * as /v1/occurrences always did, for every list alike. */
	if (q->has_from && q->has_to && q->to <= q->from)
		jv_error(errors, "to", "must be after from");
	text_search(r, q, t, errors);
	limit_param(r, q, errors);
}

void filters_apply(struct req *r, struct listq *q, const char *const *extra, json_t *errors)
{
	filters_apply_to(r, q, &filter_events, extra, errors);
}

void filters_cursor(struct req *r, struct listq *q, const char *key, const char *id, json_t *errors)
{
	const char *cur = req_query(r, "cursor");
	if (!cur)
		return;
	/* Digits as we write them, within the years PostgreSQL's to_timestamp
	 * takes (0001-9999): a crafted 10000000000000 was a 500. */
	const char *us = strchr(cur, '_');
	size_t nd = us ? (size_t)(us - cur) : 0, neg = cur[0] == '-';
	long long t = nd > neg && nd <= 13 && strspn(cur + neg, "0123456789") == nd - neg
	                  ? strtoll(cur, NULL, 10)
	                  : LLONG_MIN;
	char ident[40];
	if (strlen(cur) > 80 || t < -62135596800LL || t > 253402300799LL ||
	    strlen(us + 1) >= sizeof(ident) || !valid_uuid(strcpy(ident, us + 1))) {
		jv_error(errors, "cursor", "not a cursor this server gave out");
		return;
	}
	char num[24];
	snprintf(num, sizeof(num), "%lld", t);
	int a = listq_param(q, num), b = listq_param(q, ident);
	evbuffer_add_printf(q->sql, " AND (%s, %s) > (to_timestamp($%d::bigint), $%d::uuid)", key,
	                    id, a, b);
}

/* Members only feeds' filters have (not lists, not webhooks), whose
 * names are never listing parameters: each its condition before and after
 * its parameter, a JSON array of text. One line a member. */
static const struct {
	const char *member, *before, *after;
} feed_members[] = {
    /* a venue: places compare as conflicts compare them (sql/010) */
    {"locations",
     "liaison_place(e.location) = ANY(ARRAY(SELECT liaison_place(jsonb_array_elements_text(",
     "::jsonb))))"},
};

static int feed_member(const char *key)
{
	for (size_t i = 0; i < ARRAY_LEN(feed_members); i++)
		if (!strcmp(key, feed_members[i].member))
			return (int)i;
	return -1;
}

json_t *filters_check_feed_json(json_t *filter, json_t *errors)
{
	if (!json_is_object(filter))
		return filters_check_json(filter, errors);
	json_t *shared = json_copy(filter);
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(shared, tmp, key, v)
	{
		if (feed_member(key) < 0)
			continue;
		char field[96];
		snprintf(field, sizeof(field), "filter.%s", key);
		size_t i;
		json_t *x;
		if (!json_is_array(v) || json_array_size(v) > 50)
			jv_error(errors, field, "must be an array of at most 50 values");
		else
			json_array_foreach(v, i, x)
			{
				if (json_is_string(x) && valid_text(json_string_value(x), 200, 0))
					continue;
				snprintf(field, sizeof(field), "filter.%s[%zu]", key, i);
				jv_error(errors, field, "must be 1-200 bytes of text");
			}
		json_object_del(shared, key);
	}
	json_t *checked = filters_check_json(shared, errors);
	json_decref(shared);
	json_decref(checked);
	return json_incref(filter);
}

/* The parameter of filter member key, or 0 when it has no values. */
static int member_param(struct listq *q, json_t *filter, const char *key)
{
	json_t *v = json_object_get(filter, key);
	if (!json_array_size(v))
		return 0;
	char *text = json_dumps(v, JSON_COMPACT);
	int n = text ? listq_param(q, text) : -1;
	free(text);
	return n;
}

void filters_feed_sql(struct evbuffer *sql, struct listq *q, json_t *filter, int me)
{
	for (size_t i = 0; i < ARRAY_LEN(filter_json_keys); i++) {
		int n = member_param(q, filter, filter_json_keys[i].member);
		if (n)
			filters_sql_condition(sql, filter_json_keys[i].param, n, me);
	}
	for (size_t i = 0; i < ARRAY_LEN(feed_members); i++) {
		int n = member_param(q, filter, feed_members[i].member);
		if (n)
			evbuffer_add_printf(sql, " AND %s$%d%s", feed_members[i].before, n,
			                    feed_members[i].after);
	}
}

/* filter member -> the listing parameter with the same meaning */
const struct filter_json_key filter_json_keys[FILTER_JSON_KEYS] = {
    {"kinds", "kind"},  {"orgs", "org"},          {"partners", "partner"}, {"tags", "tag"},
    {"cities", "city"}, {"countries", "country"}, {"visits", "visit"},     {"people", "person"}};

json_t *filters_check_json(json_t *filter, json_t *errors)
{
	if (!filter || json_is_null(filter))
		return json_object();
	if (!json_is_object(filter)) {
		jv_error(errors, "filter", "must be an object");
		return NULL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(filter, key, v)
	{
		const char *param = NULL;
		for (size_t i = 0; i < ARRAY_LEN(filter_json_keys); i++)
			if (!strcmp(key, filter_json_keys[i].member))
				param = filter_json_keys[i].param;
		char field[96];
		snprintf(field, sizeof(field), "filter.%.60s", key);
		if (!param) {
			jv_error(errors, field, "unknown filter");
			continue;
		}
		if (!json_is_array(v) || json_array_size(v) > 50) {
			jv_error(errors, field, "must be an array of at most 50 values");
			continue;
		}
		json_t *errs = json_array();
		filters_check_values(v, param, errs);
		size_t i;
		json_t *e;
		json_array_foreach(errs, i, e)
		{
			/* "kind[2]" -> "filter.kinds[2]" */
			const char *f = json_string_value(json_object_get(e, "field"));
			const char *idx = f ? strchr(f, '[') : NULL;
			snprintf(field, sizeof(field), "filter.%s%s", key, idx ? idx : "");
			jv_error(errors, field, json_string_value(json_object_get(e, "message")));
		}
		json_decref(errs);
	}
	return json_incref(filter);
}

void filters_reply_page(struct req *r, const PGresult *res, int limit,
                        int (*keep)(const void *arg, const PGresult *res, int i), const void *arg)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	int n = PQntuples(res), sent = 0;
	evbuffer_add(b, "{\"items\":[", 10);
	for (int i = 0; i < n && i < limit; i++) {
		if (keep && !keep(arg, res, i))
			continue; /* the cursor still moves past it */
		if (sent++)
			evbuffer_add(b, ",", 1);
		evbuffer_add(b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	}
	evbuffer_add(b, "],\"next_cursor\":", 16);
	if (n > limit)
		evbuffer_add_printf(b, "\"%s_%s\"}\n", PQgetvalue(res, limit - 1, 1),
		                    PQgetvalue(res, limit - 1, 2));
	else
		evbuffer_add(b, "null}\n", 6);
	size_t len = evbuffer_get_length(b);
	reply_raw(r, 200, "application/json", evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
}
