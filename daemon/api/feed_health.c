/* feed_health.c - GET /v1/feeds/{id}: a feed as the list gives it (its
 * size, who fetched it, how often), and one warning more, which needs to
 * know when what the feed shows last changed: changed more than 24 hours
 * ago and fetched by nobody since. That looks at the items the feed
 * selects, through the feed's own selection (api/feed_select.c): the feed
 * is read first, then its items' last change with the answer. Fetches are
 * recorded by api/feed_fetches.c. */
#include "api/feeds.h"

#include "api/feed_select.h"
#include "api/feeds_sql.h"
#include "api/filters.h"
#include "dbpool.h"
#include "http/context.h"
#include "http/http.h"
#include "validate.h"

#include <event2/buffer.h>
#include <stdlib.h>

static void on_health(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		reply_query_failed(r, res);
	else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		reply_problem(r, 404, "no such feed"); /* revoked meanwhile */
	else
		reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
		          (size_t)PQgetlength(res, 0, 0));
}

static void on_feed(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_query_failed(r, res);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such feed");
		return;
	}
	struct listq *q = listq_new();
	struct evbuffer *sql = evbuffer_new();
	int rc = !q || !sql || feed_select_sql(sql, q, res) != 0;
	int id = rc ? -1 : listq_param(q, PQgetvalue(res, 0, FL_ID));
	rc = rc || id < 0 || evbuffer_add_printf(sql, SQL_FEED_HEALTH_ANSWER, id) < 0 ||
	     evbuffer_add(sql, "", 1) != 0;
	if (rc)
		reply_problem(r, 500, "out of memory");
	else if (dbpool_query_text(r->cx->db, (const char *)evbuffer_pullup(sql, -1), q->n,
	                           q->params, on_health, r) != 0)
		reply_unavailable(r);
	listq_free(q);
	if (sql)
		evbuffer_free(sql);
}

void feeds_get(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such feed");
		return;
	}
	const char *p[] = {id, r->who.org_id};
	if (dbpool_query(r->cx->db, SQL_FEED_HEALTH_LOOKUP, 2, p, on_feed, r) != 0)
		reply_unavailable(r);
}
