/* feed_select.h - what a feed (api/feed_serve.c), its subscribe page
 * (api/feed_page.c) and its health (api/feed_health.c) share, so that all
 * three show the same items: the token's hash, and the statement that
 * selects the feed's events. */
#ifndef LIAISON_FEED_SELECT_H
#define LIAISON_FEED_SELECT_H

#include "macros.h"
#include "token.h"

#include <libpq-fe.h>

struct evbuffer;
struct listq;

/* The columns of FEED_LOOKUP_COLS (api/feeds_sql.h). */
enum {
	FL_ID,
	FL_NAME,
	FL_FILTER,
	FL_ALARMS,
	FL_ORG,
	FL_SLUG,
	FL_UPDATED,
	FL_PAST,
	FL_FUTURE,
	FL_DIGEST,
	FL_CHANGED,
	FL_MODE,
	FL_ORG_NAME,
	FL_LANGUAGE,
	FL_NCOLS
};

/* The hash of a feed token (43 base64url characters, nothing else); 0, or
 * -1 when it is not one. */
int feed_token_hash(const char *token, char hash[TOKEN_HASH_HEX + 1]) WUR;

/* Appends to sql the common table expressions m (the single events and
 * series the feed in row 0 of lookup shows: what its org may see, through
 * its filter, in its window) and f (m with the live overrides of its
 * series, numbered in feed order), their parameters added to q. The
 * statement goes on after "f AS (...) ": a SELECT, or ", more AS (...)".
 * 0, or -1 when out of memory. */
int feed_select_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup) WUR;
/* The same m with NULL for its stamps, in no order, and no f: for a
 * statement that only needs which events the feed shows (the statement
 * goes on after "m AS (...) "). */
int feed_select_ids_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup) WUR;

/* What a splice reads again (api/feed_list.h): the families written by
 * transactions the last list's snapshot did not see, those of the roots
 * near (a uuid array literal), and, for a window that reaches ahead, those
 * whose start it reached since ahead (the last list's bound). */
struct feed_splice {
	const char *snapshot, *near, *ahead;
};
/* The whole statement of a feed's list (api/feed_rows_sql.h's
 * SQL_FEED_ROWS: a first row, then the rows in feed order), or with splice
 * of the families it names only. 0, or -1 when out of memory. */
int feed_select_list_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup,
                         const struct feed_splice *splice) WUR;

#endif
