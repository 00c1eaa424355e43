/* routes.c - every HTTP route of liaisond, in one table: method, path,
 * handler, and who may call it. To find the code behind a URL, find its
 * line here; its handler's file names its SQL (*_sql.h beside it) and
 * tests/integration/test_<resource>.py tests it.
 *
 * Access is enforced once, by the pipeline (http/pipeline.c): PUBLIC needs
 * no token; AUTH needs a key of at least the role given; HOST also needs
 * the key's org to be the host org. What depends on a row (the owner org
 * of an event, say) is the handler's to check. */
#include "api/routes.h"

#include "api/agreements.h"
#include "api/checklists.h"
#include "api/events.h"
#include "api/feeds.h"
#include "api/occurrences.h"
#include "api/ops.h"
#include "api/orgs.h"
#include "api/reminders.h"
#include "api/reports.h"
#include "api/visits.h"
#include "api/webhooks.h"
#include "core/vevents.h"
#include "http/auth.h"
#include "macros.h"

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PATCH  EVHTTP_REQ_PATCH
#define PUT    EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE

#define PUBLIC ROUTE_PUBLIC, ROLE_NONE
#define VIEWER ROUTE_AUTH, ROLE_VIEWER
#define EDITOR ROUTE_AUTH, ROLE_EDITOR
#define ADMIN  ROUTE_AUTH, ROLE_ADMIN
#define HOST   ROUTE_HOST, ROLE_ADMIN

/* clang-format off */
static const struct route routes[] = {
	/* operations: ops.c */
	{GET,    "/healthz",                     ops_healthz,              PUBLIC},
	{GET,    "/readyz",                      ops_readyz,               PUBLIC},
	{GET,    "/metrics",                     ops_metrics,              PUBLIC},
	{GET,    "/v1/openapi.json",             ops_openapi,              PUBLIC},
	{GET,    "/robots.txt",                  ops_robots,               PUBLIC},
	/* organisations and API keys: orgs.c, orgs_sql.h */
	{GET,    "/v1/orgs",                     orgs_list,                VIEWER},
	{POST,   "/v1/orgs",                     orgs_create,              HOST},
	{GET,    "/v1/orgs/{slug}",              orgs_get,                 VIEWER},
	{POST,   "/v1/orgs/{slug}/keys",         orgs_create_first_key,    HOST},
	{GET,    "/v1/keys",                     keys_list,                ADMIN},
	{POST,   "/v1/keys",                     keys_create,              ADMIN},
	{DELETE, "/v1/keys/{id}",                keys_delete,              ADMIN},
	/* events: events.c (writes), event_read.c (reads), events_sql.h;
	 * validation in common/event.c; iCalendar files in import.c */
	{GET,    "/v1/events",                   events_list,              VIEWER},
	{POST,   "/v1/events",                   events_create,            EDITOR},
	{GET,    "/v1/events/{id}",              events_get,               VIEWER},
	{PATCH,  "/v1/events/{id}",              events_patch,             EDITOR},
	{DELETE, "/v1/events/{id}",              events_cancel,            EDITOR},
	{DELETE, "/v1/events/{id}/occurrences/{recurrence_id}",
	                                         events_cancel_occurrence, EDITOR},
	/* occurrences: occurrences.c */
	{GET,    "/v1/occurrences",              occurrences_list,         VIEWER},
	/* agreements: agreements.c (writes, reads), agreement_list.c,
	 * agreement_check.c and agreement_stages.c (validation),
	 * agreements_sql.h; the follow-up template: follow_up.c */
	{GET,    "/v1/agreements",               agreements_list,          VIEWER},
	{POST,   "/v1/agreements",               agreements_create,        EDITOR},
	{GET,    "/v1/agreements/{id}",          agreements_get,           VIEWER},
	{PATCH,  "/v1/agreements/{id}",          agreements_patch,         EDITOR},
	{DELETE, "/v1/agreements/{id}",          agreements_cancel,        EDITOR},
	{GET,    "/v1/follow-up-template",       follow_up_get,            VIEWER},
	{PUT,    "/v1/follow-up-template",       follow_up_put,            ADMIN},
	/* reports: reports.c, reports_sql.h */
	{GET,    "/v1/reports/cooperation",      reports_cooperation,      VIEWER},
	/* visits: visits.c (writes, reads), visit_list.c, visits_sql.h; validation
	 * in visit_check.c, visit_items.c, visit_text.c; the printable
	 * programme: programme.c */
	{GET,    "/v1/visits",                   visits_list,              VIEWER},
	{POST,   "/v1/visits",                   visits_create,            EDITOR},
	{GET,    "/v1/visits/{id}",              visits_get,               VIEWER},
	{PATCH,  "/v1/visits/{id}",              visits_patch,             EDITOR},
	{DELETE, "/v1/visits/{id}",              visits_cancel,            EDITOR},
	{DELETE, "/v1/visits/{id}/delegates/{delegate_id}",
	                                         visits_delete_delegate,   EDITOR},
	{GET,    "/v1/visits/{id}/programme",    visits_programme,         VIEWER},
	/* protocol tasks: checklists.c (templates), visit_tasks.c; sql/016 */
	{GET,    "/v1/checklists",               checklists_list,          VIEWER},
	{POST,   "/v1/checklists",               checklists_create,        EDITOR},
	{GET,    "/v1/checklists/{id}",          checklists_get,           VIEWER},
	{PATCH,  "/v1/checklists/{id}",          checklists_patch,         EDITOR},
	{DELETE, "/v1/checklists/{id}",          checklists_delete,        EDITOR},
	{GET,    "/v1/visits/{id}/tasks",        visit_tasks_list,         VIEWER},
	{PATCH,  "/v1/visits/{id}/tasks/{task_id}",
	                                         visit_tasks_patch,        EDITOR},
	/* feeds: feeds.c (management), feed_health.c (one feed, with its
	 * health), feed_serve.c (the feed), feed_page.c (its subscribe page),
	 * feeds_sql.h, feed_health_sql.h, feed_page_sql.h */
	{GET,    "/v1/feeds",                    feeds_list,               ADMIN},
	{POST,   "/v1/feeds",                    feeds_create,             ADMIN},
	{GET,    "/v1/feeds/{id}",               feeds_get,                ADMIN},
	{PATCH,  "/v1/feeds/{id}",               feeds_patch,              ADMIN},
	{DELETE, "/v1/feeds/{id}",               feeds_delete,             ADMIN},
	{POST,   "/v1/feeds/{id}/rotate",        feeds_rotate,             ADMIN},
	{GET,    "/feeds/{token}.ics",           feeds_serve,              PUBLIC},
	{GET,    "/feeds/{token}",               feed_page_serve,          PUBLIC},
	/* webhooks: webhooks.c, webhooks_sql.h; delivery is jobs/delivery.c */
	{GET,    "/v1/webhooks",                 webhooks_list,            ADMIN},
	{POST,   "/v1/webhooks",                 webhooks_create,          ADMIN},
	{GET,    "/v1/webhooks/{id}",            webhooks_get,             ADMIN},
	{PATCH,  "/v1/webhooks/{id}",            webhooks_patch,           ADMIN},
	{DELETE, "/v1/webhooks/{id}",            webhooks_delete,          ADMIN},
	{POST,   "/v1/webhooks/{id}/rotate",     webhooks_rotate,          ADMIN},
	{POST,   "/v1/webhooks/{id}/test",       webhooks_test,            ADMIN},
	{POST,   "/v1/webhooks/{id}/recover",    webhooks_recover,         ADMIN},
	{GET,    "/v1/webhooks/{id}/deliveries", webhooks_deliveries,      ADMIN},
	{POST,   "/v1/deliveries/{id}/retry",    deliveries_retry,         ADMIN},
	/* an event's coming reminders: reminders.c */
	{GET,    "/v1/events/{id}/reminders",    events_reminders,         VIEWER},
};
/* clang-format on */

const struct route *api_routes(size_t *n)
{
	*n = ARRAY_LEN(routes);
	return routes;
}

const char *const api_prepared_statements[] = {
    auth_key_sql, events_get_sql, feeds_lookup_sql, vevents_load_sql, feeds_missing_sql, NULL};

const char *const api_quick_statements[] = {auth_key_sql, events_get_sql, feeds_lookup_sql,
                                            orgs_get_sql, NULL};

const char *const api_standby_statements[] = {vevents_load_sql, feeds_missing_sql, NULL};
