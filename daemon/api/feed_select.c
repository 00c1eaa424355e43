/* feed_select.c - see feed_select.h. */
#include "api/feed_select.h"

#include "api/feed_rows_sql.h"
#include "api/feeds_sql.h"
#include "api/filters.h"
#include "macros.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int feed_token_hash(const char *token, char hash[TOKEN_HASH_HEX + 1])
{
	if (!token || !token_well_formed(token) || token_hash(token, TOKEN_LEN, hash))
		return -1;
	return 0;
}

enum select_how { SELECT_F, SELECT_IDS, SELECT_LIST };

/* feed_select_sql, or with ids (feed_select_ids_sql) m without its
 * stamps, order and f, or the list's m (feed_select_list_sql), with its
 * ends and no f, kept to the roots splice names when it is given. */
static int select_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup,
                      enum select_how how, const struct feed_splice *splice)
{
	json_t *filter = json_loads(PQgetvalue(lookup, 0, FL_FILTER), 0, NULL);
	const char *language =
	    PQgetisnull(lookup, 0, FL_LANGUAGE) ? NULL : PQgetvalue(lookup, 0, FL_LANGUAGE);
	int rc = 0;
	/* The roots a splice reads again come first: m keeps to them. */
	int snap = 0, near = 0, ahead = 0;
	if (splice) {
		snap = listq_param(q, splice->snapshot);
		near = listq_param(q, splice->near);
		rc |= evbuffer_add_printf(sql, "WITH " SQL_FEED_TOUCHED, snap, snap, snap, snap,
		                          near) < 0;
	}
	/* The language is the stamps' only. */
	int lang = how == SELECT_IDS ? 0 : listq_param(q, language),
	    me = listq_param(q, PQgetvalue(lookup, 0, FL_ORG)),
	    slug = listq_param(q, PQgetvalue(lookup, 0, FL_SLUG)),
	    past = listq_param(q, PQgetvalue(lookup, 0, FL_PAST));
	int future = PQgetisnull(lookup, 0, FL_FUTURE)
	                 ? 0
	                 : listq_param(q, PQgetvalue(lookup, 0, FL_FUTURE));
	if (splice && future && splice->ahead) {
		ahead = listq_param(q, splice->ahead);
		rc |= evbuffer_add_printf(sql, SQL_FEED_ENTERED, ahead, future) < 0;
	}
	if (splice)
		rc |= evbuffer_add_printf(sql, "), ") < 0;
	if (how == SELECT_IDS)
		rc |= evbuffer_add_printf(sql, SQL_FEED_IDS_SHOWN, me, slug, past) < 0;
	else if (how == SELECT_LIST)
		rc |= evbuffer_add_printf(sql, "%s" SQL_FEED_EVENTS_LISTED, splice ? "" : "WITH ",
		                          lang, past, me, slug, past) < 0;
	else
		rc |= evbuffer_add_printf(sql, SQL_FEED_EVENTS_SHOWN, lang, me, slug, past) < 0;
	if (future)
		rc |= evbuffer_add_printf(sql, SQL_FEED_AHEAD("e"), future) < 0;
	rc |= evbuffer_add_printf(sql, SQL_FEED_EVENTS_OVERRIDDEN, past) < 0;
	if (future)
		rc |= evbuffer_add_printf(sql, SQL_FEED_AHEAD("x"), future) < 0;
	if (splice)
		rc |= evbuffer_add_printf(sql, SQL_FEED_IN_TOUCHED("x.series_id")) < 0;
	rc |= evbuffer_add_printf(sql, "))") < 0;
	filters_feed_sql(sql, q, filter, me);
	if (splice)
		rc |= evbuffer_add_printf(sql, SQL_FEED_IN_TOUCHED("e.id")) < 0;
	if (how == SELECT_LIST) {
		rc |= evbuffer_add_printf(sql,
		                          splice ? SQL_FEED_M_END SQL_FEED_ROWS(FEED_SPLICE_IN_M)
		                                 : SQL_FEED_M_END SQL_FEED_ROWS(FEED_ROWS_IN_M),
		                          past) < 0;
		rc |= (future ? evbuffer_add_printf(sql, FEED_LIST_AHEAD ", ", future)
		              : evbuffer_add_printf(sql, "NULL, ")) < 0;
		rc |= (splice ? evbuffer_add_printf(sql, SQL_FEED_SPLICE_ROOTS, snap)
		              : evbuffer_add_printf(sql, "NULL")) < 0;
	} else {
		rc |= evbuffer_add_printf(sql, how == SELECT_IDS ? SQL_FEED_IDS_LIMITED
		                                                 : SQL_FEED_EVENTS_ORDERED) < 0;
	}
	json_decref(filter);
	/* At most a dozen parameters: far from LIST_MAX_PARAMS, whose excess
	 * listq_param answers with -1. */
	return rc || lang < 0 || me < 0 || slug < 0 || past < 0 || future < 0 || snap < 0 ||
	               near < 0 || ahead < 0
	           ? -1
	           : 0;
}

int feed_select_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup)
{
	return select_sql(sql, q, lookup, SELECT_F, NULL);
}

int feed_select_ids_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup)
{
	return select_sql(sql, q, lookup, SELECT_IDS, NULL);
}

int feed_select_list_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup,
                         const struct feed_splice *splice)
{
	return select_sql(sql, q, lookup, SELECT_LIST, splice);
}
