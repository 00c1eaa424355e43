/* feed_page_html.c - the subscribe page of a feed in HTML (see
 * api/feed_page.h), in Vietnamese or English. Every text that comes from
 * the feed (names, titles, places, descriptions) is escaped
 * (common/html.c), in the page and in each item's Schema.org Event
 * (JSON-LD); the page runs one script of its own, for the copy button,
 * and works without it. Its Content-Security-Policy allows that script
 * and its style by their digests and nothing else. */
#include "api/feed_page.h"

#include "html.h"
#include "tz.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- style, script, policy -------------------------------------------- */

static const char style[] =
    "body{font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif;"
    "margin:0 auto;max-width:46rem;padding:1rem;color:#1b1b1b;background:#fff}"
    "body.embed{max-width:none;padding:.5rem}"
    "h1{font-size:1.6rem;margin:.2rem 0}"
    ".owner{color:#555;margin:0 0 1rem}"
    ".subscribe{border:1px solid #d0d7de;border-radius:8px;padding:1rem;margin:1rem 0}"
    "h2{font-size:1.15rem;margin:0 0 .6rem}"
    ".apps{list-style:none;padding:0;margin:0 0 .8rem;display:flex;flex-wrap:wrap;gap:.5rem}"
    ".apps a{display:inline-block;padding:.45rem .8rem;border-radius:6px;background:#0b57d0;"
    "color:#fff;text-decoration:none}"
    ".apps a:focus,.apps a:hover{background:#0842a0}"
    ".url{display:flex;gap:.5rem}"
    ".url input{flex:1;min-width:0;font:inherit;font-size:.9rem;padding:.35rem}"
    ".url button{font:inherit;padding:.35rem .8rem}"
    ".note{font-size:.85rem;color:#555}"
    ".day h3{font-size:1rem;margin:1.2rem 0 .4rem;border-bottom:1px solid #e5e5e5}"
    ".items{list-style:none;padding:0;margin:0}"
    ".item{padding:.4rem 0}"
    ".when{font-variant-numeric:tabular-nums;color:#333;margin:0}"
    ".what{margin:0;font-weight:600}"
    ".where,.who{margin:0;color:#555;font-size:.9rem}"
    ".cancelled .title{text-decoration:line-through;color:#777}"
    ".badge{display:inline-block;font-size:.75rem;font-weight:400;padding:0 .4rem;"
    "border-radius:4px;background:#e8eefc;margin-left:.3rem}"
    ".cancelled .status{background:#fde7e9;color:#a4000f}"
    "details{font-size:.9rem;color:#333}"
    ".desc{white-space:pre-line;margin:.2rem 0}"
    "footer{margin-top:2rem;font-size:.85rem;color:#555}";

/* The copy button: hidden until this runs, so without scripts the page
 * shows the address to select by hand and no button that does nothing. */
static const char script[] =
    "(function(){var b=document.getElementById(\"copy\"),i=document.getElementById(\"feed-url\");"
    "if(!b||!i)return;b.hidden=false;b.addEventListener(\"click\",function(){i.select();"
    "var done=function(){b.textContent=b.getAttribute(\"data-done\");};"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(i.value)"
    ".then(done,function(){});}else{try{if(document.execCommand(\"copy\"))done();}catch(e){}}"
    "});})();";

static char csp_page[512], csp_embed[512];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

/* The page may frame nothing and be framed by nobody; the embedded agenda
 * (no script) may be framed by any site: whoever has its URL has the key
 * already. img-src data: is for the empty icon, which spares a request
 * for /favicon.ico. */
static void csp_make(void)
{
	char st[HTML_CSP_HASH_LEN], sc[HTML_CSP_HASH_LEN];
	if (html_csp_hash(style, st) || html_csp_hash(script, sc)) {
		snprintf(csp_page, sizeof(csp_page), "default-src 'none'; frame-ancestors 'none'");
		snprintf(csp_embed, sizeof(csp_embed), "default-src 'none'");
		return;
	}
	snprintf(csp_page, sizeof(csp_page),
	         "default-src 'none'; style-src %s; script-src %s; img-src data:; "
	         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	         st, sc);
	snprintf(csp_embed, sizeof(csp_embed),
	         "default-src 'none'; style-src %s; img-src data:; base-uri 'none'; "
	         "form-action 'none'; frame-ancestors *",
	         st);
}

const char *feed_page_csp(int embed)
{
	pthread_once(&csp_once, csp_make);
	return embed ? csp_embed : csp_page;
}

/* ---- dates ------------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date. */
static int64_t day_number(const struct civil *c)
{
	struct civil d = {c->year, c->month, c->day, 0, 0, 0};
	int64_t t = civil_to_epoch(&d);
	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

static void day_civil(int64_t day, struct civil *c)
{
	civil_from_epoch(day * 86400, c);
}

/* "Thứ Tư, ngày 10 tháng 3 năm 2027" / "Wednesday, 10 March 2027". */
static int long_date(struct evbuffer *b, const struct page_words *w, int64_t day)
{
	struct civil c;
	day_civil(day, &c);
	const char *wd = w->weekdays[((day % 7) + 11) % 7]; /* 1970-01-01 was a Thursday */
	if (w->day_first_numeric)
		return evbuffer_add_printf(b, "%s, ngày %d tháng %s năm %d", wd, c.day,
		                           w->months[c.month - 1], c.year) < 0;
	return evbuffer_add_printf(b, "%s, %d %s %d", wd, c.day, w->months[c.month - 1], c.year) <
	       0;
}

/* "12/3" / "12 Mar". */
static int short_date(struct evbuffer *b, const struct page_words *w, const struct civil *c)
{
	if (w->day_first_numeric)
		return evbuffer_add_printf(b, "%d/%d", c->day, c->month) < 0;
	return evbuffer_add_printf(b, "%d %.3s", c->day, w->months[c->month - 1]) < 0;
}

/* An instant as "2027-03-10T14:00:00+07:00": local, the wall time local
 * (civil_format's form) and its offset from utc. A date alone for all-day. */
static void iso_offset(const char *local, int64_t utc, int all_day, char out[32])
{
	struct civil c;
	if (all_day || civil_parse(local, 0, &c)) {
		snprintf(out, 32, "%.10s", local);
		return;
	}
	int64_t off = civil_to_epoch(&c) - utc;
	int64_t a = off < 0 ? -off : off;
	snprintf(out, 32, "%.19s%c%02d:%02d", local, off < 0 ? '-' : '+', (int)(a / 3600),
	         (int)(a % 3600 / 60));
}

/* ---- one item ---------------------------------------------------------- */

/* An occurrence as the page lays it out: the day it goes under, and its
 * place in the feed's order. */
struct shown {
	const struct occ *o;
	int64_t day;
	int all_day;
	size_t index;
};

static const char *col(const struct feed_page *p, int row, int c)
{
	const PGresult *res = p->set->res;
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static int nonempty(const char *s)
{
	return s && *s;
}

enum item_status { IS_SCHEDULED, IS_CANCELLED, IS_RESCHEDULED };

/* Cancelled (the item, its series, or this occurrence), moved (an override
 * whose start is not the occurrence it replaces), or as planned. */
static enum item_status status_of(const struct feed_page *p, const struct occ *o)
{
	if (!strcmp(col(p, o->row, OCC_STATUS), "cancelled"))
		return IS_CANCELLED;
	if (o->row == o->series_row)
		return IS_SCHEDULED;
	struct civil rid;
	int64_t rid_utc;
	int all_day = col(p, o->row, OCC_ALLDAY)[0] == 't';
	if (all_day)
		return strcmp(o->rid, o->start) ? IS_RESCHEDULED : IS_SCHEDULED;
	if (civil_parse(o->rid, 0, &rid) ||
	    tz_to_utc(col(p, o->series_row, OCC_TZ), &rid, &rid_utc) == TZ_UNKNOWN)
		return IS_SCHEDULED;
	return rid_utc != o->start_utc ? IS_RESCHEDULED : IS_SCHEDULED;
}

/* The item's Schema.org Event, as JSON-LD. */
static json_t *event_ld(const struct feed_page *p, const struct shown *s, enum item_status st)
{
	const struct occ *o = s->o;
	int row = o->row;
	char start[32], end[32];
	iso_offset(o->start, o->start_utc, s->all_day, start);
	if (s->all_day) {
		/* Schema.org's endDate is the last day; iCalendar's end is the day after. */
		struct civil e;
		if (civil_parse(o->end, 1, &e) == 0 && strcmp(o->end, o->start) > 0)
			civil_add_days(&e, -1);
		else if (civil_parse(o->start, 1, &e) != 0)
			memset(&e, 0, sizeof(e));
		char d[CIVIL_LEN];
		civil_format(&e, 1, d);
		snprintf(end, sizeof(end), "%s", d);
	} else {
		iso_offset(o->end, o->end_utc, 0, end);
	}
	static const char *const statuses[] = {"https://schema.org/EventScheduled",
	                                       "https://schema.org/EventCancelled",
	                                       "https://schema.org/EventRescheduled"};
	json_t *ev =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "@context",
	              "https://schema.org", "@type", "Event", "name", col(p, row, OCC_TITLE),
	              "startDate", start, "endDate", end, "eventStatus", statuses[st], "organizer",
	              "@type", "Organization", "name", col(p, row, PC_ORG_NAME));
	if (!ev)
		return NULL;
	const char *where = col(p, row, PC_LOCATION), *city = col(p, row, PC_CITY),
	           *country = col(p, row, PC_COUNTRY);
	if (nonempty(where) || nonempty(city) || nonempty(country)) {
		json_t *addr = json_pack("{s:s}", "@type", "PostalAddress");
		if (addr && nonempty(city))
			json_object_set_new(addr, "addressLocality", json_string(city));
		if (addr && nonempty(country))
			json_object_set_new(addr, "addressCountry", json_string(country));
		json_t *place = json_pack("{s:s, s:s, s:o}", "@type", "Place", "name",
		                          nonempty(where)  ? where
		                          : nonempty(city) ? city
		                                           : country,
		                          "address", addr);
		if (place)
			json_object_set_new(ev, "location", place);
	}
	if (nonempty(col(p, row, PC_DESCRIPTION)))
		json_object_set_new(ev, "description", json_string(col(p, row, PC_DESCRIPTION)));
	if (nonempty(col(p, row, PC_URL)))
		json_object_set_new(ev, "url", json_string(col(p, row, PC_URL)));
	if (st == IS_RESCHEDULED) {
		char before[32];
		struct civil rid;
		int64_t rid_utc = o->start_utc;
		if (!civil_parse(o->rid, 0, &rid) &&
		    tz_to_utc(col(p, o->series_row, OCC_TZ), &rid, &rid_utc) != TZ_UNKNOWN) {
			iso_offset(o->rid, rid_utc, s->all_day, before);
			json_object_set_new(ev, "previousStartDate", json_string(before));
		}
	}
	return ev;
}

/* "HH:MM" of an instant in the page's zone, with the date before it when
 * it is not on day. */
static int clock_in(struct evbuffer *b, const struct feed_page *p, int64_t utc, int64_t day)
{
	struct civil c;
	if (tz_from_utc(p->zone, utc, &c) == TZ_UNKNOWN)
		civil_from_epoch(utc, &c);
	int rc = 0;
	if (day_number(&c) != day) {
		rc |= short_date(b, p->words, &c);
		rc |= evbuffer_add(b, " ", 1);
	}
	return rc | (evbuffer_add_printf(b, "%02d:%02d", c.hour, c.minute) < 0);
}

static int item_when(struct evbuffer *b, const struct feed_page *p, const struct shown *s)
{
	const struct occ *o = s->o;
	const struct page_words *w = p->words;
	int rc = evbuffer_add_printf(b, "<p class=\"when\">") < 0;
	if (s->all_day) {
		rc |= html_escape(b, w->all_day);
		struct civil first, last;
		if (!civil_parse(o->start, 1, &first) && !civil_parse(o->end, 1, &last) &&
		    day_number(&last) - day_number(&first) > 1) {
			civil_add_days(&last, -1);
			rc |= evbuffer_add_printf(b, ", %s ", w->until) < 0;
			rc |= short_date(b, w, &last);
		}
	} else {
		char iso[32];
		iso_offset(o->start, o->start_utc, 0, iso);
		rc |= evbuffer_add_printf(b, "<time datetime=\"%s\">", iso) < 0;
		rc |= clock_in(b, p, o->start_utc, s->day);
		rc |= evbuffer_add_printf(b, "</time>") < 0;
		if (o->end_utc > o->start_utc) {
			iso_offset(o->end, o->end_utc, 0, iso);
			rc |= evbuffer_add_printf(b, "–<time datetime=\"%s\">", iso) < 0;
			rc |= clock_in(b, p, o->end_utc, s->day);
			rc |= evbuffer_add_printf(b, "</time>") < 0;
		}
		/* Its own zone's time too, when that is not the page's. */
		const char *tz = col(p, o->row, OCC_TZ);
		if (strcmp(tz, p->zone)) {
			rc |= evbuffer_add_printf(b, " <span class=\"zone\">(%.5s ",
			                          o->start + 11) < 0;
			rc |= html_escape(b, tz);
			rc |= evbuffer_add(b, ")</span>", 8);
		}
	}
	return rc | evbuffer_add(b, "</p>", 4);
}

/* " · with Busan Metropolitan City, CABC": the partners by their names
 * (names, a JSON array from VEVENT_ORG_NAMES, or ""), as feeds name them. */
static int partner_names(struct evbuffer *b, const struct page_words *w, const char *names)
{
	json_t *list = nonempty(names) ? json_loads(names, 0, NULL) : NULL;
	size_t i;
	json_t *v;
	int rc = 0;
	json_array_foreach(list, i, v)
	{
		rc |= evbuffer_add_printf(b, "%s", i ? ", " : " · ") < 0;
		if (i == 0)
			rc |= evbuffer_add_printf(b, "%s", w->with) < 0;
		rc |= html_escape(b, json_string_value(v) ? json_string_value(v) : "");
	}
	json_decref(list);
	return rc;
}

static int item(struct evbuffer *b, const struct feed_page *p, const struct shown *s)
{
	const struct occ *o = s->o;
	const struct page_words *w = p->words;
	int row = o->row;
	enum item_status st = status_of(p, o);
	int tentative = !strcmp(col(p, row, OCC_STATUS), "tentative");
	int rc = evbuffer_add_printf(b, "<li class=\"item%s\">",
	                             st == IS_CANCELLED     ? " cancelled"
	                             : st == IS_RESCHEDULED ? " rescheduled"
	                                                    : "") < 0;
	rc |= item_when(b, p, s);
	rc |= evbuffer_add_printf(b, "<p class=\"what\"><span class=\"title\">") < 0;
	rc |= html_escape(b, col(p, row, OCC_TITLE));
	rc |= evbuffer_add_printf(b, "</span>") < 0;
	for (int k = 0; k < PAGE_KINDS; k++)
		if (!strcmp(col(p, row, OCC_KIND), page_kind_names[k]))
			rc |= evbuffer_add_printf(b, " <span class=\"badge kind\">%s</span>",
			                          w->kinds[k]) < 0;
	const char *badge = st == IS_CANCELLED     ? w->cancelled
	                    : st == IS_RESCHEDULED ? w->rescheduled
	                    : tentative            ? w->tentative
	                                           : NULL;
	if (badge)
		rc |= evbuffer_add_printf(b, " <span class=\"badge status\">%s</span>", badge) < 0;
	rc |= evbuffer_add_printf(b, "</p>") < 0;
	const char *where = col(p, row, PC_LOCATION), *city = col(p, row, PC_CITY);
	if (nonempty(where) || nonempty(city)) {
		rc |= evbuffer_add_printf(b, "<p class=\"where\">") < 0;
		rc |= html_escape(b, nonempty(where) ? where : city);
		if (nonempty(where) && nonempty(city) && !strcasestr(where, city)) {
			rc |= evbuffer_add(b, ", ", 2);
			rc |= html_escape(b, city);
		}
		rc |= evbuffer_add_printf(b, "</p>") < 0;
	}
	rc |= evbuffer_add_printf(b, "<p class=\"who\">") < 0;
	rc |= html_escape(b, col(p, row, PC_ORG_NAME));
	rc |= partner_names(b, w, col(p, row, PC_PARTNERS));
	rc |= evbuffer_add_printf(b, "</p>") < 0;
	if (nonempty(col(p, row, PC_DESCRIPTION))) {
		rc |= evbuffer_add_printf(b, "<details><summary>%s</summary><p class=\"desc\">",
		                          w->details) < 0;
		rc |= html_escape(b, col(p, row, PC_DESCRIPTION));
		rc |= evbuffer_add_printf(b, "</p></details>") < 0;
	}
	json_t *ld = event_ld(p, s, st);
	char *text = ld ? json_dumps(ld, JSON_COMPACT) : NULL;
	rc |= !text;
	if (text) {
		rc |= evbuffer_add_printf(b, "<script type=\"application/ld+json\">") < 0;
		rc |= html_json_script(b, text);
		rc |= evbuffer_add_printf(b, "</script>") < 0;
	}
	free(text);
	json_decref(ld);
	return rc | (evbuffer_add_printf(b, "</li>") < 0);
}

/* ---- the agenda -------------------------------------------------------- */

/* At most this many items on a page; past it, a line says there are more. */
#define PAGE_MAX_SHOWN 500

static int shown_cmp(const void *pa, const void *pb)
{
	const struct shown *a = pa, *b = pb;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	if (a->all_day != b->all_day)
		return a->all_day ? -1 : 1; /* all-day items first in their day */
	return a->index < b->index ? -1 : a->index > b->index;
}

static int agenda(struct evbuffer *b, const struct feed_page *p)
{
	const struct page_words *w = p->words;
	const struct occset *set = p->set;
	struct civil today;
	if (tz_from_utc(p->zone, p->from, &today) == TZ_UNKNOWN)
		civil_from_epoch(p->from, &today);
	int64_t first = day_number(&today);
	size_t n = set->n < PAGE_MAX_SHOWN ? set->n : PAGE_MAX_SHOWN;
	struct shown *items = calloc(n + 1, sizeof(*items));
	if (!items)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct occ *o = &set->items[i];
		struct civil c;
		items[i].o = o;
		items[i].index = i;
		items[i].all_day = col(p, o->row, OCC_ALLDAY)[0] == 't';
		if (items[i].all_day ? civil_parse(o->start, 1, &c) != 0
		                     : tz_from_utc(p->zone, o->start_utc, &c) == TZ_UNKNOWN)
			civil_from_epoch(o->start_utc, &c);
		int64_t day = day_number(&c);
		items[i].day = day < first ? first : day; /* under way: today */
	}
	qsort(items, n, sizeof(*items), shown_cmp);
	int rc = evbuffer_add_printf(b, "<main class=\"agenda\"><h2>%s</h2>", w->agenda) < 0;
	if (!n && !p->overflow)
		rc |= evbuffer_add_printf(b, "<p>%s</p>", w->nothing) < 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i == 0 || items[i].day != items[i - 1].day) {
			struct civil d;
			day_civil(items[i].day, &d);
			char iso[CIVIL_LEN];
			civil_format(&d, 1, iso);
			rc |= evbuffer_add_printf(
			          b, "%s<section class=\"day\"><h3><time datetime=\"%s\">",
			          i ? "</ul></section>" : "", iso) < 0;
			rc |= long_date(b, w, items[i].day);
			rc |= evbuffer_add_printf(b, "</time></h3><ul class=\"items\">") < 0;
		}
		rc |= item(b, p, &items[i]);
	}
	if (n)
		rc |= evbuffer_add_printf(b, "</ul></section>") < 0;
	if (p->overflow || set->n > n || json_array_size(set->incomplete))
		rc |= evbuffer_add_printf(b, "<p class=\"note\">%s</p>", w->more) < 0;
	free(items);
	return rc | (evbuffer_add_printf(b, "</main>") < 0);
}

/* ---- the page ---------------------------------------------------------- */

/* The feed's URLs: https (or whatever public_url says) and webcal. */
static int urls(const struct feed_page *p, char *https, size_t hlen, char *webcal, size_t wlen)
{
	const char *rest = strstr(p->base, "://");
	rest = rest ? rest + 3 : p->base;
	int a = snprintf(https, hlen, "%s/feeds/%s.ics", p->base, p->token);
	int b = snprintf(webcal, wlen, "webcal://%s/feeds/%s.ics", rest, p->token);
	return a < 0 || (size_t)a >= hlen || b < 0 || (size_t)b >= wlen ? -1 : 0;
}

/* <li><a href="prefix ENCODED(a) [&name=ENCODED(name)]">label</a></li> */
static int app_link(struct evbuffer *b, const char *prefix, const char *a, const char *name,
                    const char *label)
{
	char *ea = evhttp_uriencode(a, -1, 0);
	char *en_ = name ? evhttp_uriencode(name, -1, 0) : NULL;
	int rc = !ea || (name && !en_);
	struct evbuffer *href = evbuffer_new();
	rc |= !href;
	if (!rc) {
		rc |= evbuffer_add_printf(href, "%s%s", prefix, ea) < 0;
		if (name)
			rc |= evbuffer_add_printf(href, "&name=%s", en_) < 0;
		rc |= evbuffer_add(href, "", 1);
	}
	if (!rc) {
		rc |= evbuffer_add_printf(b, "<li><a rel=\"noreferrer\" href=\"") < 0;
		rc |= html_escape(b, (const char *)evbuffer_pullup(href, -1));
		rc |= evbuffer_add_printf(b, "\">") < 0;
		rc |= html_escape(b, label);
		rc |= evbuffer_add_printf(b, "</a></li>") < 0;
	}
	if (href)
		evbuffer_free(href);
	free(ea);
	free(en_);
	return rc;
}

static int subscribe(struct evbuffer *b, const struct feed_page *p, const char *https,
                     const char *webcal)
{
	const struct page_words *w = p->words;
	int rc =
	    evbuffer_add_printf(b, "<section class=\"subscribe\"><h2>%s</h2><ul class=\"apps\">",
	                        w->subscribe) < 0;
	rc |= app_link(b, "https://calendar.google.com/calendar/r?cid=", webcal, NULL, w->google);
	rc |= app_link(b, "https://outlook.live.com/calendar/0/addfromweb?url=", https, p->name,
	               w->outlook);
	rc |= app_link(b, "https://outlook.office.com/calendar/0/addfromweb?url=", https, p->name,
	               w->m365);
	rc |= evbuffer_add_printf(b, "<li><a id=\"apple\" href=\"") < 0;
	rc |= html_escape(b, webcal);
	rc |= evbuffer_add_printf(b, "\">%s</a></li></ul>", w->apple) < 0;
	rc |= evbuffer_add_printf(b,
	                          "<p><label for=\"feed-url\">%s</label></p>"
	                          "<p class=\"url\"><input id=\"feed-url\" readonly value=\"",
	                          w->or_copy) < 0;
	rc |= html_escape(b, https);
	rc |= evbuffer_add_printf(b,
	                          "\"><button type=\"button\" id=\"copy\" hidden data-done=\"%s\">"
	                          "%s</button></p>",
	                          w->copied, w->copy) < 0;
	rc |= evbuffer_add_printf(b, "<p class=\"note\">%s %s</p></section>", w->key_note,
	                          w->refresh_note) < 0;
	return rc;
}

static int footer(struct evbuffer *b, const struct feed_page *p)
{
	int rc = evbuffer_add_printf(b, "<footer><p>%s", p->words->times_in) < 0;
	rc |= html_escape(b, p->zone);
	rc |= evbuffer_add_printf(b, ".</p><p>") < 0;
	for (size_t i = 0; i < page_nlanguages; i++) {
		const struct page_words *l = page_languages[i];
		if (l == p->words)
			rc |= evbuffer_add_printf(b, "%s<strong lang=\"%s\">%s</strong>",
			                          i ? " · " : "", l->tag, l->language) < 0;
		else
			rc |= evbuffer_add_printf(
			          b,
			          "%s<a lang=\"%s\" hreflang=\"%s\" href=\"?lang=%s\">"
			          "%s</a>",
			          i ? " · " : "", l->tag, l->tag, l->tag, l->language) < 0;
	}
	return rc | (evbuffer_add_printf(b, "</p></footer>") < 0);
}

int feed_page_html(struct evbuffer *b, const struct feed_page *p)
{
	const struct page_words *w = p->words;
	char https[512], webcal[512];
	int rc = urls(p, https, sizeof(https), webcal, sizeof(webcal));
	rc |=
	    evbuffer_add_printf(b,
	                        "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	                        "<meta name=\"viewport\" content=\"width=device-width, "
	                        "initial-scale=1\"><title>",
	                        w->tag) < 0;
	rc |= html_escape(b, p->name);
	rc |= evbuffer_add_printf(b, "</title><link rel=\"icon\" href=\"data:,\">") < 0;
	if (!p->embed) {
		rc |= evbuffer_add_printf(
		          b, "<link rel=\"alternate\" type=\"text/calendar\" href=\"") < 0;
		rc |= html_escape(b, https);
		rc |= evbuffer_add_printf(b, "\">") < 0;
	}
	rc |= evbuffer_add_printf(b, "<style>%s</style></head><body%s>", style,
	                          p->embed ? " class=\"embed\"" : "") < 0;
	if (!p->embed) {
		rc |= evbuffer_add_printf(b, "<header><h1>") < 0;
		rc |= html_escape(b, p->name);
		rc |= evbuffer_add_printf(b, "</h1><p class=\"owner\">%s", w->calendar_of) < 0;
		rc |= html_escape(b, p->owner);
		rc |= evbuffer_add_printf(b, "</p></header>") < 0;
		rc |= subscribe(b, p, https, webcal);
	}
	rc |= agenda(b, p);
	if (p->embed) {
		/* The full page, with the links, in a window of its own. */
		rc |= evbuffer_add_printf(b,
		                          "<p class=\"note\"><a target=\"_blank\" rel=\"noopener "
		                          "noreferrer\" href=\"?lang=%s\">%s</a> · ",
		                          w->tag, w->open_full) < 0;
		rc |= evbuffer_add_printf(b, "%s", w->times_in) < 0;
		rc |= html_escape(b, p->zone);
		rc |= evbuffer_add_printf(b, "</p>") < 0;
	} else {
		rc |= footer(b, p);
		rc |= evbuffer_add_printf(b, "<script>%s</script>", script) < 0;
	}
	rc |= evbuffer_add_printf(b, "</body></html>\n") < 0;
	return rc ? -1 : 0;
}
