/* filters.h - the query parameters every listing shares (lists,
 * occurrences; feeds and webhooks use the same names): kind, org, partner,
 * tag, city, country, visit, person (repeated or comma-separated: ORed;
 * different ones: ANDed), q, from/to, limit, cursor. They become SQL
 * conditions on events e (org by the orgs' ids: no join needed), with
 * every value passed as a parameter. */
#ifndef LIAISON_FILTERS_H
#define LIAISON_FILTERS_H

#include "macros.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

struct req;

#define LIST_MAX_PARAMS 64

/* A statement being built, with its parameters. */
struct listq {
	struct evbuffer *sql;
	const char *params[LIST_MAX_PARAMS];
	char *owned[LIST_MAX_PARAMS];
	int n;
	int limit;
	int has_from, has_to;
	int64_t from, to; /* epoch seconds */
	int from_param;   /* $n of from */
};

struct listq *listq_new(void) WUR;
void listq_free(struct listq *q);
/* Adds a parameter (copied) and returns its number ($n). */
int listq_param(struct listq *q, const char *value);

/* What the filters of one kind of list become in SQL: the value filters it
 * takes (of kind, org, partner, tag, city, country, visit, person) with
 * the condition of each, before and after its parameter; the columns q
 * searches; and the time `to` bounds (items begin before it). Events' is
 * filter_events; agreements give their own (agreement_list.c). */
struct filter_sql {
	const char *name, *before, *after;
};
struct filter_target {
	const struct filter_sql *values; /* up to a NULL name */
	const char *const *search;       /* NULL-terminated */
	const char *starts;
};
extern const struct filter_target filter_events;

/* Checks r's query parameters (extra: more names the route accepts) and
 * appends " AND ..." conditions for them to q->sql. Faults go to errors. */
void filters_apply(struct req *r, struct listq *q, const char *const *extra, json_t *errors);
/* The same for the list t describes. */
void filters_apply_to(struct req *r, struct listq *q, const struct filter_target *t,
                      const char *const *extra, json_t *errors);
/* Every value of query parameter name, repeated or comma-separated, as a
 * JSON array; NULL when it is absent. */
json_t *filters_values(struct req *r, const char *name) WUR;
/* The cursor of a list ordered by key (an expression of whole seconds),
 * then id: the "<epoch seconds>_<id>" of the last item a page sent
 * (FILTERS_CURSOR), as " AND (key, id) > (...)". */
void filters_cursor(struct req *r, struct listq *q, const char *key, const char *id,
                    json_t *errors);
/* Answers a page of a list: {"items", "next_cursor"}, the items column 0
 * of res's rows (up to limit of them; keep, when given, says which are
 * listed: the cursor moves past the others), next_cursor the cursor of
 * row limit-1 (its time in column 1, its id in column 2) when res has
 * more rows, else null. */
void filters_reply_page(struct req *r, const PGresult *res, int limit,
                        int (*keep)(const void *arg, const PGresult *res, int i), const void *arg);
/* Items overlap [from, to) when their first instant (first_utc: an RDATE
 * may come before the start, sql/027) is before to (a condition
 * filters_apply adds) and either came before from and they still run
 * (half 0), or is at from or later (half 1). Split so that each half can
 * use an index: the GiST span index for the first, (start_utc, id) for the
 * second, which also yields rows in list order. Nothing without from. */
void filters_lower_bound(const struct listq *q, int half, struct evbuffer *out);
/* A list's statement into sql: with from, the two halves (half 0, then
 * 1), each LIMIT $limit in list order, merged in list order; without, one
 * (half -1). half() writes one half:
 * its SELECT with q's conditions and filters_lower_bound, ORDER BY and
 * LIMIT. me and slug are the caller's $n. */
typedef void (*filters_half_fn)(struct evbuffer *out, const struct listq *q, int me, int slug,
                                int limit, int half);
void filters_halves(struct evbuffer *sql, const struct listq *q, int me, int slug, int limit,
                    filters_half_fn half);
/* The same filters given as JSON arrays (feeds, webhooks): checks the
 * values of one (name "kind", "org", ...) into errors as name[i]; appends
 * its " AND ..." condition with the values as parameter $param. */
int filters_check_values(json_t *values, const char *name, json_t *errors);
/* me: the $n of the viewer's org id, which "person" needs (0 otherwise):
 * a person is named on an item only for orgs party to its visit. */
void filters_sql_condition(struct evbuffer *sql, const char *name, int param, int me);
/* The JSON form of the filters, as feeds and webhooks store them: member
 * name ("kinds") and the listing parameter it stands for ("kind"). */
#define FILTER_JSON_KEYS 8
struct filter_json_key {
	const char *member, *param;
};
extern const struct filter_json_key filter_json_keys[FILTER_JSON_KEYS];
/* Checks a filter object ({"kinds": [...], ...}; null or absent: {}) into
 * errors as filter.kinds[2]; returns a new reference, or NULL if not an
 * object. */
json_t *filters_check_json(json_t *filter, json_t *errors) WUR;
/* A feed's filter: the members above and those only feeds have
 * ("locations": a venue, compared as conflicts compare places). Checked
 * into errors as filters_check_json does; its conditions, with their
 * parameters added to q, appended to sql. */
json_t *filters_check_feed_json(json_t *filter, json_t *errors) WUR;
void filters_feed_sql(struct evbuffer *sql, struct listq *q, json_t *filter, int me);
/* A CTE "missing" whose k names the first filter member (orgs, partners)
 * that lists an org slug that does not exist; param is the filter's $n. */
#define FILTER_MISSING_ORGS(param)                                                                 \
	"missing AS (SELECT min(k) AS k FROM (SELECT 'orgs' AS k, s FROM "                         \
	"jsonb_array_elements_text(coalesce(" param "::jsonb -> 'orgs', '[]')) s UNION ALL "       \
	"SELECT 'partners', s FROM jsonb_array_elements_text(coalesce(" param                      \
	"::jsonb -> 'partners', '[]')) s) x WHERE s NOT IN (SELECT slug FROM orgs))"
/* An integer query parameter in [min, max]; dflt when absent or bad (a
 * bad one is named in errors, which may be NULL once it was checked). */
int filters_int_param(struct req *r, const char *name, int min, int max, int dflt, json_t *errors);
/* RFC 3339 instant ("2024-08-21T07:00:00Z", "...+07:00") or a date (UTC). */
int parse_instant(const char *s, int64_t *out) WUR;

#endif
