/* programme.c - GET /v1/visits/{id}/programme: a visit's programme as a
 * clean printable HTML page, or the same data as JSON (Accept:
 * application/json). Titles given in several languages are shown in the
 * visit's languages, or in the one ?lang= asks for. The JSON is built
 * first and the page from it, so both say the same; every text on the
 * page is escaped, and the page loads nothing and runs nothing (its
 * Content-Security-Policy allows only its own inline style). What the
 * caller may not see (delegates, who an item names, its notes, for an
 * org not party to the visit) is not in the visit it starts from. */
#include "api/jsonv.h"
#include "api/visit_op.h"
#include "api/visits.h"
#include "api/visits_sql.h"
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

/* A string literal, without its NUL. */
#define ADD(b, lit) evbuffer_add(b, lit, sizeof(lit) - 1)

struct progreq {
	struct req *r;
	char lang[36];
	int json;
};

/* ---- the data ------------------------------------------------------------------- */

/* Title t (text or {lang: text}) as [{"lang", "text"}] in the languages
 * of shown, or when it has none of them in the first of all that it has. */
static json_t *texts(json_t *t, json_t *shown, json_t *all)
{
	json_t *out = json_array();
	if (!out)
		return NULL;
	if (json_is_string(t)) {
		json_t *one = json_pack("{s:n, s:O}", "lang", "text", t);
		if (!one || json_array_append_new(out, one)) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	for (int pass = 0; pass < 2 && !json_array_size(out); pass++) {
		json_t *langs = pass ? all : shown;
		size_t i;
		json_t *l;
		json_array_foreach(langs, i, l)
		{
			json_t *s = json_object_get(t, json_string_value(l));
			json_t *one = json_is_string(s)
			                  ? json_pack("{s:O, s:O}", "lang", l, "text", s)
			                  : NULL;
			if (json_is_string(s) && (!one || json_array_append_new(out, one))) {
				json_decref(out);
				return NULL;
			}
			if (pass && json_array_size(out))
				break;
		}
	}
	return out;
}

static int set(json_t *obj, const char *key, json_t *v)
{
	return !v || json_object_set_new(obj, key, v);
}

/* The printable programme's data from the visit's representation: its
 * items by day, titles in the languages shown. */
static json_t *programme_json(json_t *visit, json_t *names, const char *lang)
{
	json_t *all = json_object_get(visit, "languages");
	json_t *shown = lang[0] ? json_pack("[s]", lang) : json_incref(all);
	json_t *out = json_object(), *v = json_deep_copy(visit), *days = json_array();
	int bad = !shown || !out || !v || !days;
	if (!bad) {
		json_object_del(v, "programme");
		json_object_del(v, "delegates");
		bad |= set(v, "title", texts(json_object_get(visit, "title"), shown, all));
		json_t *orgs = json_array();
		bad |= set(v, "partners", orgs);
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(visit, "partners"), i, p)
		{
			json_t *o = json_pack("{s:O, s:O?}", "slug", p, "name",
			                      json_object_get(names, json_string_value(p)));
			bad |= !o || json_array_append_new(orgs, o);
		}
		const char *owner = json_string_value(json_object_get(visit, "org"));
		bad |= set(v, "host",
		           json_pack("{s:s?, s:O?}", "slug", owner, "name",
		                     json_object_get(names, owner ? owner : "")));
	}
	size_t i;
	json_t *item;
	json_array_foreach(bad ? NULL : json_object_get(visit, "programme"), i, item)
	{
		const char *start = json_string_value(json_object_get(item, "start"));
		char date[11] = "";
		if (start)
			snprintf(date, sizeof(date), "%.10s", start);
		json_t *day = json_array_get(days, json_array_size(days) - 1);
		if (!day || strcmp(json_string_value(json_object_get(day, "date")), date)) {
			day = json_pack("{s:s, s:[]}", "date", date, "items");
			bad |= !day || json_array_append_new(days, day);
			if (bad)
				break;
		}
		json_t *x = json_deep_copy(item);
		bad |= !x || set(x, "title", texts(json_object_get(item, "title"), shown, all)) ||
		       json_array_append_new(json_object_get(day, "items"), x);
	}
	if (!bad) {
		json_t *delegates = json_object_get(visit, "delegates");
		bad |= set(out, "visit", json_incref(v)) ||
		       set(out, "languages", json_incref(shown)) ||
		       set(out, "days", json_incref(days)) ||
		       (delegates && set(out, "delegates", json_incref(delegates)));
	}
	json_decref(shown);
	json_decref(v);
	json_decref(days);
	if (bad) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* ---- the page ---------------------------------------------------------------------- */

/* s with &, <, >, " and ' as entities, and newlines as <br> when breaks. */
static void esc(struct evbuffer *b, const char *s, int breaks)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': ADD(b, "&amp;"); break;
		case '<': ADD(b, "&lt;"); break;
		case '>': ADD(b, "&gt;"); break;
		case '"': ADD(b, "&quot;"); break;
		case '\'': ADD(b, "&#39;"); break;
		case '\n':
			if (breaks)
				ADD(b, "<br>");
			else
				ADD(b, " ");
			break;
		default: evbuffer_add(b, s, 1);
		}
	}
}

static const char *str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* open, text escaped, close; nothing when there is no text. */
static void wrap(struct evbuffer *b, const char *open, const char *text, const char *close,
                 int breaks)
{
	if (!text)
		return;
	evbuffer_add(b, open, strlen(open));
	esc(b, text, breaks);
	evbuffer_add(b, close, strlen(close));
}

/* A text element per language: <tag lang="vi">...</tag>. */
static void titles(struct evbuffer *b, json_t *list, const char *tag)
{
	size_t i;
	json_t *t;
	json_array_foreach(list, i, t)
	{
		const char *lang = str(t, "lang");
		evbuffer_add_printf(b, "<%s class=\"%s\"", tag, i ? "alt" : "main");
		if (lang) {
			ADD(b, " lang=\"");
			esc(b, lang, 0);
			ADD(b, "\"");
		}
		ADD(b, ">");
		esc(b, str(t, "text"), 0);
		evbuffer_add_printf(b, "</%s>", tag);
	}
}

static const char *weekday(const char *date)
{
	static const char *const names[] = {"Thursday", "Friday",  "Saturday", "Sunday",
	                                    "Monday",   "Tuesday", "Wednesday"};
	struct civil c;
	if (!date || civil_parse(date, 1, &c))
		return "";
	int64_t days = civil_to_epoch(&c) / 86400;
	return names[((days % 7) + 7) % 7]; /* 1970-01-01 was a Thursday */
}

/* "14:00" of a local date-time. */
static void hhmm(struct evbuffer *b, const char *t)
{
	if (t && strlen(t) >= 16)
		evbuffer_add(b, t + 11, 5);
}

static void human(struct evbuffer *b, const char *t)
{
	if (!t || strlen(t) < 16)
		return;
	evbuffer_add(b, t, 10);
	ADD(b, " ");
	hhmm(b, t);
}

static void org_names(struct evbuffer *b, json_t *orgs)
{
	size_t i;
	json_t *o;
	json_array_foreach(orgs, i, o)
	{
		if (i)
			ADD(b, ", ");
		esc(b, str(o, "name") ? str(o, "name") : str(o, "slug"), 0);
	}
}

static void kind_label(struct evbuffer *b, const char *kind)
{
	for (; kind && *kind; kind++)
		evbuffer_add(b, *kind == '_' ? " " : kind, 1);
}

static const char style[] =
    "body{font-family:'Noto Sans','Segoe UI',Arial,sans-serif;color:#111;margin:2em auto;"
    "max-width:60em;padding:0 1em;line-height:1.4}"
    "h1{font-size:1.6em;margin:0 0 .3em}h1 .alt{display:block;font-size:.7em;color:#444;"
    "font-weight:normal}h2{font-size:1.2em;border-bottom:2px solid #333;margin-top:1.6em}"
    "h3{font-size:1em;margin:1.2em 0 .4em}.meta{color:#333;margin:.2em 0}"
    "table{border-collapse:collapse;width:100%;table-layout:fixed}th,td{border-bottom:1px solid "
    "#ccc;"
    "padding:.35em .5em;text-align:left;vertical-align:top}th{font-size:.85em;color:#444}"
    ".time{white-space:nowrap;width:7em}.role{text-transform:capitalize}.kind{font-size:.8em;color:"
    "#555;text-transform:"
    "capitalize}.alt{color:#444;display:block;font-size:.9em}.notes{font-size:.9em;"
    "color:#333;margin-top:.2em}.cancelled{color:#888;text-decoration:line-through}"
    "footer{margin-top:2em;font-size:.8em;color:#555}"
    "@page{size:A4;margin:15mm}@media print{body{margin:0;max-width:none}"
    "tr{page-break-inside:avoid}h2,h3{page-break-after:avoid}}";

static void page_head(struct evbuffer *b, json_t *p)
{
	json_t *v = json_object_get(p, "visit");
	const char *lang = str(json_array_get(json_object_get(v, "title"), 0), "lang");
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"");
	esc(b, lang ? lang : "en", 0);
	evbuffer_add_printf(b, "\">\n<head>\n<meta charset=\"utf-8\">\n"
	                       "<meta name=\"viewport\" content=\"width=device-width, "
	                       "initial-scale=1\">\n<title>Programme: ");
	esc(b, str(json_array_get(json_object_get(v, "title"), 0), "text"), 0);
	evbuffer_add_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>",
	                    style);
	titles(b, json_object_get(v, "title"), "span");
	ADD(b, "</h1>\n<p class=\"meta\">");
	evbuffer_add_printf(b, "%s delegation visit",
	                    str(v, "direction") && !strcmp(str(v, "direction"), "outbound")
	                        ? "Outbound"
	                        : "Inbound");
	wrap(b, " &middot; ", str(v, "city"), "", 0);
	wrap(b, ", ", str(v, "country"), "", 0);
	ADD(b, " &middot; ");
	human(b, str(v, "arrive"));
	ADD(b, " &ndash; ");
	human(b, str(v, "depart"));
	ADD(b, " (");
	esc(b, str(v, "timezone"), 0);
	ADD(b, ")</p>\n<p class=\"meta\">Host: ");
	esc(b,
	    str(json_object_get(v, "host"), "name") ? str(json_object_get(v, "host"), "name")
	                                            : str(json_object_get(v, "host"), "slug"),
	    0);
	if (json_array_size(json_object_get(v, "partners"))) {
		ADD(b, " &middot; Partners: ");
		org_names(b, json_object_get(v, "partners"));
	}
	ADD(b, " &middot; Status: ");
	kind_label(b, str(v, "status"));
	ADD(b, "</p>\n");
	wrap(b, "<p class=\"purpose\">", str(v, "purpose"), "</p>\n", 1);
	ADD(b, "</header>\n");
}

static void page_item(struct evbuffer *b, json_t *x, int party)
{
	int cancelled = str(x, "status") && !strcmp(str(x, "status"), "cancelled");
	evbuffer_add_printf(b, "<tr%s><td class=\"time\">",
	                    cancelled ? " class=\"cancelled\"" : "");
	hhmm(b, str(x, "start"));
	if (str(x, "end")) {
		ADD(b, "&ndash;");
		hhmm(b, str(x, "end"));
	}
	ADD(b, "</td><td>");
	titles(b, json_object_get(x, "title"), "strong");
	ADD(b, "<div class=\"kind\">");
	kind_label(b, str(x, "kind"));
	ADD(b, "</div>");
	wrap(b, "<div class=\"notes\">", str(x, "notes"), "</div>", 1);
	ADD(b, "</td><td>");
	esc(b, str(x, "location"), 0);
	wrap(b, "<div class=\"notes\">", str(x, "address"), "</div>", 0);
	ADD(b, "</td>");
	if (party) {
		ADD(b, "<td>");
		size_t i;
		json_t *n;
		json_array_foreach(json_object_get(x, "people"), i, n)
		{
			if (i)
				ADD(b, ", ");
			esc(b, json_string_value(n), 0);
		}
		wrap(b, "<div class=\"notes\">Interpreter: ", str(x, "interpreter"), "</div>", 0);
		ADD(b, "</td>");
	}
	ADD(b, "</tr>\n");
}

static void page_delegates(struct evbuffer *b, json_t *delegates)
{
	evbuffer_add_printf(b, "<section id=\"delegates\">\n<h2>Delegates</h2>\n<table>\n"
	                       "<thead><tr><th>Name</th><th>Title</th><th>Organisation</th>"
	                       "<th>Role</th><th>Language</th></tr></thead>\n<tbody>\n");
	size_t i;
	json_t *d;
	json_array_foreach(delegates, i, d)
	{
		static const char *const cols[] = {"name", "title", "organisation"};
		ADD(b, "<tr>");
		for (size_t k = 0; k < ARRAY_LEN(cols); k++) {
			ADD(b, "<td>");
			esc(b, str(d, cols[k]), 0);
			ADD(b, "</td>");
		}
		ADD(b, "<td class=\"role\">");
		kind_label(b, str(d, "role"));
		ADD(b, "</td><td>");
		esc(b, str(d, "language"), 0);
		ADD(b, "</td></tr>\n");
	}
	evbuffer_add_printf(b, "</tbody>\n</table>\n</section>\n");
}

static void page(struct evbuffer *b, json_t *p)
{
	json_t *delegates = json_object_get(p, "delegates");
	int party = delegates != NULL;
	page_head(b, p);
	evbuffer_add_printf(b, "<section id=\"programme\">\n<h2>Programme</h2>\n");
	if (!json_array_size(json_object_get(p, "days")))
		evbuffer_add_printf(b, "<p>No items yet.</p>\n");
	size_t i;
	json_t *day;
	json_array_foreach(json_object_get(p, "days"), i, day)
	{
		evbuffer_add_printf(b, "<h3>%s ", weekday(str(day, "date")));
		esc(b, str(day, "date"), 0);
		evbuffer_add_printf(
		    b,
		    "</h3>\n<table>\n<thead><tr><th class=\"time\">Time</th><th>Item</th>"
		    "<th>Place</th>%s</tr></thead>\n<tbody>\n",
		    party ? "<th>People</th>" : "");
		size_t k;
		json_t *x;
		json_array_foreach(json_object_get(day, "items"), k, x)
		{
			page_item(b, x, party);
		}
		evbuffer_add_printf(b, "</tbody>\n</table>\n");
	}
	evbuffer_add_printf(b, "</section>\n");
	if (party)
		page_delegates(b, delegates);
	evbuffer_add_printf(b, "<footer>Times are local to the visit (");
	esc(b, str(json_object_get(p, "visit"), "timezone"), 0);
	evbuffer_add_printf(b, "). Printed from liaison.</footer>\n</body>\n</html>\n");
}

/* ---- the route --------------------------------------------------------------------- */

static void on_visit(PGresult *res, void *arg)
{
	struct progreq *pr = arg;
	struct req *r = pr->r;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		free(pr);
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		free(pr);
		reply_problem(r, 404, "no such visit");
		return;
	}
	json_t *visit = json_loads(PQgetvalue(res, 0, VG_JSON), 0, NULL);
	json_t *names = json_loads(PQgetvalue(res, 0, VG_ORG_NAMES), 0, NULL);
	json_t *p = visit ? programme_json(visit, names, pr->lang) : NULL;
	int as_json = pr->json;
	free(pr);
	json_decref(visit);
	json_decref(names);
	if (!p) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	/* One entity tag per representation (HTML, JSON) of a version. */
	char etag[32];
	snprintf(etag, sizeof(etag), "%s.%s", PQgetvalue(res, 0, VG_VERSION),
	         as_json ? "json" : "html");
	req_add_header(r, "Vary", "Accept");
	req_set_etag(r, etag);
	if (as_json) {
		reply_json(r, 200, p);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		json_decref(p);
		reply_problem(r, 500, "out of memory");
		return;
	}
	page(b, p);
	json_decref(p);
	req_add_header(r, "Content-Security-Policy",
	               "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
	               "form-action 'none'; frame-ancestors 'none'");
	req_add_header(r, "X-Content-Type-Options", "nosniff");
	size_t len = evbuffer_get_length(b);
	unsigned char *html = evbuffer_pullup(b, -1);
	if (len && !html)
		reply_problem(r, 500, "out of memory");
	else
		reply_raw(r, 200, "text/html; charset=utf-8", html, len);
	evbuffer_free(b);
}

/* JSON when the client asks for it and not for HTML (a browser asks for
 * both, with HTML first). */
static int wants_json(const char *accept)
{
	if (!accept)
		return 0;
	const char *j = strstr(accept, "application/json"), *h = strstr(accept, "text/html");
	return j && (!h || j < h);
}

void visits_programme(struct req *r)
{
	const char *id = visits_id(r);
	if (!id)
		return;
	const char *lang = req_query(r, "lang");
	json_t *errors = json_array();
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &r->query, next)
	{
		if (strcmp(kv->key, "lang"))
			jv_error(errors, "query", "unknown query parameter (only lang)");
	}
	if (lang && !valid_lang_tag(lang))
		jv_error(errors, "lang", "must be a language tag such as vi, en or ko");
	if (!errors || json_array_size(errors)) {
		if (!errors)
			reply_problem(r, 500, "out of memory");
		else
			reply_problem_fields(r, 422, "the query is not valid", errors);
		return;
	}
	json_decref(errors);
	struct progreq *pr = calloc(1, sizeof(*pr));
	if (!pr) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	pr->r = r;
	pr->json = wants_json(req_header(r, "Accept"));
	snprintf(pr->lang, sizeof(pr->lang), "%s", lang ? lang : "");
	const char *p[] = {id, r->who.org_id, r->who.org_slug, "false"};
	if (dbpool_query(r->cx->db, visits_get_sql, 4, p, on_visit, pr) != 0) {
		free(pr);
		reply_unavailable(r);
	}
}
