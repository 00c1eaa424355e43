/* feed_page.h - a feed's subscribe page, between the request
 * (api/feed_page.c: the feed, its items, their occurrences) and the HTML
 * (api/feed_page_html.c: the page in the viewer's language). */
#ifndef LIAISON_FEED_PAGE_H
#define LIAISON_FEED_PAGE_H

#include "api/occ_expand.h"
#include "macros.h"

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct pagecache;

/* The page's columns after OCC_COLUMNS (FEED_PAGE_COLUMNS). */
enum {
	PC_DESCRIPTION = OCC_NCOLS,
	PC_LOCATION,
	PC_CITY,
	PC_COUNTRY,
	PC_ORG_NAME,
	PC_URL,
	PC_PARTNERS
};

/* The days the page shows, from now. */
#define FEED_PAGE_DAYS 60

/* The words of one language (feed_page_words.c). */
#define PAGE_KINDS 4
struct page_words {
	const char *tag, *language;
	const char *calendar_of, *subscribe, *google, *outlook, *m365, *apple;
	const char *or_copy, *copy, *copied, *key_note, *refresh_note;
	const char *agenda, *nothing, *more, *all_day, *until, *times_in;
	const char *cancelled, *rescheduled, *tentative, *details, *open_full, *with;
	const char *kinds[PAGE_KINDS]; /* page_kind_names' */
	const char *weekdays[7];
	const char *months[12];
	int day_first_numeric; /* short dates as 12/3 (vi) or 12 Mar (en) */
};

extern const char *const page_kind_names[PAGE_KINDS];
/* Every language the page speaks, in the order its footer names them. */
extern const struct page_words *const page_languages[];
extern const size_t page_nlanguages;

/* The language asked for by ?lang= (NULL: none) or else Accept-Language
 * (NULL: none); English when neither names one the page speaks. *bad is
 * set when ?lang= is not a language tag at all. */
const struct page_words *feed_page_language(const char *query_lang, const char *accept, int *bad);
/* Its tag ("vi", "en"), for Content-Language. */
const char *feed_page_lang_tag(const struct page_words *w);

struct feed_page {
	const struct page_words *words;
	int embed;                /* the agenda alone, for an <iframe> */
	const char *name;         /* the feed's */
	const char *owner;        /* the name of the org that owns the feed */
	const char *zone;         /* the owner's zone: days and times are its */
	const char *token;        /* the feed's token: the key in its URLs */
	const char *base;         /* public_url */
	int64_t from, to;         /* the window, Unix seconds */
	const struct occset *set; /* the occurrences, rows of FEED_PAGE_COLUMNS */
	int overflow;             /* more than the page can show */
};

/* The rendered pages of one worker thread (api/feed_page.c), in its
 * context (http/context.h). */
struct pagecache *pagecache_new(void) WUR;
void pagecache_free(struct pagecache *c);

/* The page into b. 0, or -1 when out of memory. */
int feed_page_html(struct evbuffer *b, const struct feed_page *p) WUR;
/* Its Content-Security-Policy: only its own inline style and script (by
 * digest), framed by nobody, or by any site for the embedded agenda. */
const char *feed_page_csp(int embed);

#endif
