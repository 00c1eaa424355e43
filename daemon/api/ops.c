/* ops.c - /healthz (this loop answers), /readyz (the database answers and
 * its schema is the one this binary expects), /metrics (Prometheus). */
#include "api/ops.h"

#include "api/ops_sql.h"

#include "dbpool.h"
#include "http/http.h"
#include "core/metrics.h"
#include "http/context.h"
#include "migrate.h"
#include "http/context.h"

#include <event2/buffer.h>
#include <stdlib.h>

void ops_healthz(struct req *r)
{
	reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void on_schema(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		reply_unavailable(r);
		return;
	}
	int have = atoi(PQgetvalue(res, 0, 0));
	int want = migrate_latest_version();
	if (have != want) {
		reply_retry_after(r, 503, 5,
		                  have < want ? "database schema is behind this liaisond"
		                              : "database schema is ahead of this liaisond");
		return;
	}
	reply_json(r, 200, json_pack("{s:s, s:i}", "status", "ready", "schema", have));
}

void ops_readyz(struct req *r)
{
	if (dbpool_query(r->cx->db, SQL_SCHEMA_VERSION, 0, NULL, on_schema, r) != 0)
		reply_unavailable(r);
}

void ops_metrics(struct req *r)
{
	struct evbuffer *b = evbuffer_new();
	if (!b || metrics_render(b) != 0) {
		if (b)
			evbuffer_free(b);
		reply_problem(r, 500, "cannot render metrics");
		return;
	}
	size_t n = evbuffer_get_length(b);
	reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", evbuffer_pullup(b, -1), n);
	evbuffer_free(b);
}

/* The OpenAPI description, embedded from daemon/openapi.json at build time. */
extern const char openapi_json[];
extern const size_t openapi_json_len;

void ops_openapi(struct req *r)
{
	reply_raw(r, 200, "application/json", openapi_json, openapi_json_len);
}

/* Crawlers may fetch feeds and their subscribe pages (Google Calendar's
 * fetcher obeys robots.txt, and a festival's page is meant to be found),
 * never the API. */
static const char robots_txt[] = "User-agent: *\n"
                                 "Allow: /feeds/\n"
                                 "Disallow: /v1/\n";

void ops_robots(struct req *r)
{
	req_add_header(r, "Cache-Control", "max-age=86400");
	reply_raw(r, 200, "text/plain; charset=utf-8", robots_txt, sizeof(robots_txt) - 1);
}
