/* reports.c - GET /v1/reports/cooperation?from=&to=: what the caller's
 * org did with each partner org, each country and in all over a period,
 * so that an office can paste its quarterly report: agreements by stage
 * at the period's end, signed in it, dormant and expiring; visits in and
 * out and programme items held in it (reports_sql.h). JSON, or CSV (RFC
 * 4180) by Accept: text/csv or ?format=csv, one row a group, with cells
 * that a spreadsheet would run as a formula defused. */
#include "api/reports.h"

#include "api/jsonv.h"
#include "api/reports_sql.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "macros.h"
#include "tz.h"
#include "validate.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const stage_cols[] = {"intent",  "drafting", "signed",
                                         "renewal", "expired",  "terminated"};

/* ---- CSV ------------------------------------------------------------------------ */

/* One cell (RFC 4180): quoted when it holds a comma, a quote or a line
 * break; one a spreadsheet would read as a formula (= + - @, or a tab or
 * CR first) is quoted with a ' before it, so it stays text. */
static void csv_cell(struct evbuffer *b, const char *s, int first)
{
	if (!first)
		evbuffer_add(b, ",", 1);
	if (!s)
		return;
	int formula = s[0] && strchr("=+-@\t\r", s[0]) != NULL;
	int quoted = formula || strpbrk(s, ",\"\r\n") != NULL;
	if (quoted)
		evbuffer_add(b, "\"", 1);
	if (formula)
		evbuffer_add(b, "'", 1);
	for (const char *c = s; *c; c++) {
		if (*c == '"')
			evbuffer_add(b, "\"\"", 2);
		else
			evbuffer_add(b, c, 1);
	}
	if (quoted)
		evbuffer_add(b, "\"", 1);
}

static void csv_number(struct evbuffer *b, json_t *v)
{
	if (json_is_integer(v))
		evbuffer_add_printf(b, ",%lld", (long long)json_integer_value(v));
	else
		evbuffer_add(b, ",", 1); /* not reached: every count is a number */
}

/* One row: the group's scope (partner, country, total), org, name and
 * country, then its counts. */
static void csv_row(struct evbuffer *b, const char *scope, json_t *g)
{
	json_t *ag = json_object_get(g, "agreements"), *by = json_object_get(ag, "by_stage");
	json_t *visits = json_object_get(g, "visits");
	csv_cell(b, scope, 1);
	csv_cell(b, json_string_value(json_object_get(g, "org")), 0);
	csv_cell(b, json_string_value(json_object_get(g, "name")), 0);
	csv_cell(b, json_string_value(json_object_get(g, "country")), 0);
	csv_number(b, json_object_get(ag, "total"));
	for (size_t i = 0; i < ARRAY_LEN(stage_cols); i++)
		csv_number(b, json_object_get(by, stage_cols[i]));
	csv_number(b, json_object_get(ag, "signed_in_period"));
	csv_number(b, json_object_get(ag, "dormant"));
	csv_number(b, json_object_get(ag, "expiring"));
	csv_number(b, json_object_get(visits, "inbound"));
	csv_number(b, json_object_get(visits, "outbound"));
	csv_number(b, json_object_get(g, "items_held"));
	evbuffer_add(b, "\r\n", 2);
}

static int reply_csv(struct req *r, json_t *report)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return -1;
	evbuffer_add_printf(b, "scope,org,name,country,agreements");
	for (size_t i = 0; i < ARRAY_LEN(stage_cols); i++)
		evbuffer_add_printf(b, ",%s", stage_cols[i]);
	evbuffer_add_printf(b, ",signed_in_period,dormant,expiring,visits_in,visits_out,"
	                       "items_held\r\n");
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(report, "partners"), i, g)
	{
		csv_row(b, "partner", g);
	}
	json_array_foreach(json_object_get(report, "countries"), i, g)
	{
		csv_row(b, "country", g);
	}
	csv_row(b, "total", json_object_get(report, "total"));
	char disposition[96];
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"cooperation-%s-%s.csv\"",
	         json_string_value(json_object_get(report, "from")),
	         json_string_value(json_object_get(report, "to")));
	req_add_header(r, "Content-Disposition", disposition);
	size_t len = evbuffer_get_length(b);
	reply_raw(r, 200, "text/csv; charset=utf-8; header=present", evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
	return 0;
}

/* ---- the request --------------------------------------------------------------------- */

/* The q of media type want (e.g. "text/csv") in an Accept header: the
 * most specific range that matches it, 0 when none does. */
static double accept_q(const char *accept, const char *want)
{
	double best = 0;
	int best_rank = -1;
	const char *slash = strchr(want, '/');
	for (const char *p = accept; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char range[128];
		snprintf(range, sizeof(range), "%.*s",
		         (int)(n < sizeof(range) ? n : sizeof(range) - 1), p);
		double q = 1;
		char *semi = strchr(range, ';');
		for (char *par = semi; par; par = strchr(par + 1, ';')) {
			const char *v = par + 1 + strspn(par + 1, " ");
			if (!strncasecmp(v, "q=", 2))
				q = atof(v + 2);
		}
		if (semi)
			*semi = '\0';
		char *t = range + strspn(range, " ");
		t[strcspn(t, " ")] = '\0';
		int rank = !strcasecmp(t, want) ? 2
		           : (slash && !strncasecmp(t, want, (size_t)(slash - want) + 1) &&
		              !strcmp(t + (slash - want) + 1, "*"))
		               ? 1
		           : !strcmp(t, "*/*") ? 0
		                               : -1;
		if (rank > best_rank) {
			best_rank = rank;
			best = q;
		}
		p = end ? end + 1 : NULL;
	}
	return best;
}

/* Whether the answer is CSV: ?format= says so, else Accept prefers it to
 * JSON. -1 (answered 422) for another format. */
static int wants_csv(struct req *r)
{
	const char *f = req_query(r, "format");
	if (f && (!strcmp(f, "csv") || !strcmp(f, "json")))
		return !strcmp(f, "csv");
	if (f) {
		reply_problem_field(r, 422, "the query is not valid", "format",
		                    "must be json or csv");
		return -1;
	}
	const char *accept = req_header(r, "Accept");
	return accept && accept_q(accept, "text/csv") > accept_q(accept, "application/json");
}

struct reportwait {
	struct req *r;
	int csv;
};

static void on_report(PGresult *res, void *arg)
{
	struct reportwait *w = arg;
	struct req *r = w->r;
	int csv = w->csv;
	free(w);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		reply_query_failed(r, res);
		return;
	}
	req_add_header(r, "Vary", "Accept");
	if (!csv) {
		reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
		          (size_t)PQgetlength(res, 0, 0));
		return;
	}
	json_t *report = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!report || reply_csv(r, report) != 0)
		reply_problem(r, 500, "out of memory");
	json_decref(report);
}

/* A date query parameter, required. */
static const char *date_param(struct req *r, const char *name, json_t *errors)
{
	const char *v = req_query(r, name);
	struct civil c;
	if (!v)
		jv_error(errors, name, "is required");
	else if (strlen(v) != 10 || civil_parse(v, 1, &c))
		jv_error(errors, name, "must be a date, YYYY-MM-DD");
	else
		return v;
	return NULL;
}

void reports_cooperation(struct req *r)
{
	static const char *const known[] = {"from", "to", "format"};
	json_t *errors = json_array();
	if (!errors) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &r->query, next)
	{
		int ok = 0;
		for (size_t i = 0; i < ARRAY_LEN(known); i++)
			ok |= !strcmp(kv->key, known[i]);
		char field[80];
		snprintf(field, sizeof(field), "%.60s", kv->key);
		if (!ok)
			jv_error(errors, valid_text(field, 79, 0) ? field : "query",
			         "unknown query parameter");
	}
	const char *from = date_param(r, "from", errors), *to = date_param(r, "to", errors);
	if (from && to && strcmp(to, from) <= 0)
		jv_error(errors, "to", "must be after from");
	if (json_array_size(errors)) {
		reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	int csv = wants_csv(r);
	if (csv < 0)
		return;
	struct reportwait *w = malloc(sizeof(*w));
	if (!w) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	w->r = r;
	w->csv = csv;
	const char *p[] = {r->who.org_id, r->who.org_slug, from, to};
	if (dbpool_query(r->cx->db_read, SQL_REPORT_COOPERATION, 4, p, on_report, w) != 0) {
		free(w);
		reply_unavailable(r);
	}
}
