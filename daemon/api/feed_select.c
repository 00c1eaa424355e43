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

/* feed_select_sql, or with ids (feed_select_ids_sql) m without its
 * stamps, order and f. */
static int select_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup, int ids)
{
	json_t *filter = json_loads(PQgetvalue(lookup, 0, FL_FILTER), 0, NULL);
	const char *language =
	    PQgetisnull(lookup, 0, FL_LANGUAGE) ? NULL : PQgetvalue(lookup, 0, FL_LANGUAGE);
	/* The language is the stamps' only. */
	int lang = ids ? 0 : listq_param(q, language),
	    me = listq_param(q, PQgetvalue(lookup, 0, FL_ORG)),
	    slug = listq_param(q, PQgetvalue(lookup, 0, FL_SLUG)),
	    past = listq_param(q, PQgetvalue(lookup, 0, FL_PAST));
	int future = PQgetisnull(lookup, 0, FL_FUTURE)
	                 ? 0
	                 : listq_param(q, PQgetvalue(lookup, 0, FL_FUTURE));
	int rc = (ids ? evbuffer_add_printf(sql, SQL_FEED_IDS_SHOWN, me, slug, past)
	              : evbuffer_add_printf(sql, SQL_FEED_EVENTS_SHOWN, lang, me, slug, past)) < 0;
	if (future)
		rc |= evbuffer_add_printf(sql, SQL_FEED_AHEAD("e"), future) < 0;
	rc |= evbuffer_add_printf(sql, SQL_FEED_EVENTS_OVERRIDDEN, past) < 0;
	if (future)
		rc |= evbuffer_add_printf(sql, SQL_FEED_AHEAD("x"), future) < 0;
	rc |= evbuffer_add_printf(sql, "))") < 0;
	filters_feed_sql(sql, q, filter, me);
	rc |= evbuffer_add_printf(sql, ids ? SQL_FEED_IDS_LIMITED : SQL_FEED_EVENTS_ORDERED) < 0;
	json_decref(filter);
	/* At most a dozen parameters: far from LIST_MAX_PARAMS, whose excess
	 * listq_param answers with -1. */
	return rc || lang < 0 || me < 0 || slug < 0 || past < 0 || future < 0 ? -1 : 0;
}

int feed_select_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup)
{
	return select_sql(sql, q, lookup, 0);
}

int feed_select_ids_sql(struct evbuffer *sql, struct listq *q, const PGresult *lookup)
{
	return select_sql(sql, q, lookup, 1);
}
