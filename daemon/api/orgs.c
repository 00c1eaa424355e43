/* orgs.c - organisations and API keys over HTTP. Any key reads the org
 * directory; an org's admin manages its keys; the host org's admin
 * creates orgs and hands each its first admin key. Tokens are shown once,
 * at creation, and stored only as SHA-256. */
#include "api/orgs.h"

#include "dbpool.h"
#include "http/http.h"
#include "api/jsonv.h"
#include "api/orgs_sql.h"
#include "api/row_read.h"
#include "http/context.h"
#include "token.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *org_json(const PGresult *res, int row, int col)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:o, s:b, s:s}", "slug", PQgetvalue(res, row, col), "name",
	    PQgetvalue(res, row, col + 1), "timezone", PQgetvalue(res, row, col + 2), "country",
	    PQgetisnull(res, row, col + 3) ? json_null()
	                                   : json_string(PQgetvalue(res, row, col + 3)),
	    "is_host", PQgetvalue(res, row, col + 4)[0] == 't', "created_at",
	    PQgetvalue(res, row, col + 5));
}

/* Common start of every result callback: 503 or 500 answered here. */
static int result_ok(struct req *r, PGresult *res)
{
	if (!res) {
		reply_unavailable(r);
		return 0;
	}
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		reply_db_error(r, res);
		return 0;
	}
	return 1;
}

static void submit_to(struct dbpool *db, struct req *r, const char *sql, int n,
                      const char *const *params, db_result_cb cb)
{
	if (dbpool_query(db, sql, n, params, cb, r) != 0)
		reply_unavailable(r);
}

static void submit(struct req *r, const char *sql, int n, const char *const *params,
                   db_result_cb cb)
{
	submit_to(r->cx->db, r, sql, n, params, cb);
}

/* A list: where lists are read (a standby, when there is one). */
static void submit_list(struct req *r, const char *sql, int n, const char *const *params,
                        db_result_cb cb)
{
	submit_to(r->cx->db_read, r, sql, n, params, cb);
}

/* ---- orgs ---------------------------------------------------------------- */

static void on_org_list(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!result_ok(r, res))
		return;
	json_t *items = json_array();
	for (int i = 0; items && i < PQntuples(res); i++)
		json_array_append_new(items, org_json(res, i, 0));
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}

void orgs_list(struct req *r)
{
	submit_list(r, SQL_ORG_LIST, 0, NULL, on_org_list);
}

static void on_org_hit(struct req *r, const struct row *row)
{
	reply_raw(r, 200, "application/json", row->body, row->len);
}

static void on_org_get(PGresult *res, void *arg)
{
	struct rowwait *w = arg;
	struct req *r = w->r;
	if (!result_ok(r, res)) {
		row_read_done(w, NULL);
		return;
	}
	if (PQntuples(res) != 1) {
		row_read_done(w, NULL);
		reply_problem(r, 404, "no such org");
		return;
	}
	size_t len;
	char *text = reply_json_text(org_json(res, 0, 0), &len);
	if (!text) {
		row_read_done(w, NULL);
		reply_problem(r, 500, "out of memory");
		return;
	}
	/* Any key reads any org, and only a change reaching everything (the
	 * orgs table's NOTIFY) touches one: no owner, no partners. */
	struct row row = {.body = text,
	                  .len = len,
	                  .tag = "",
	                  .org = "",
	                  .slug = "",
	                  .partners = "",
	                  .network = 1};
	row_read_done(w, &row);
	reply_raw(r, 200, "application/json", text, row.len);
	free(text);
}

/* A quick statement of the pools (api/routes.c): one row by key, read
 * again from this thread's row cache. */
const char orgs_get_sql[] = SQL_ORG_GET;

void orgs_get(struct req *r)
{
	const char *slug = req_param(r, "slug");
	if (!valid_slug(slug)) {
		reply_problem(r, 404, "no such org");
		return;
	}
	char key[96];
	snprintf(key, sizeof(key), "org:%s", slug);
	const char *params[] = {slug};
	row_read(r, key, on_org_hit, orgs_get_sql, 1, params, on_org_get);
}

static void on_org_created(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!result_ok(r, res))
		return;
	if (PQntuples(res) != 1) {
		reply_problem_field(r, 409, "an org with this slug exists", "slug",
		                    "an org with this slug exists");
		return;
	}
	char loc[128];
	snprintf(loc, sizeof(loc), "/v1/orgs/%s", PQgetvalue(res, 0, 1));
	req_add_header(r, "Location", loc);
	reply_json(r, 201, org_json(res, 0, 1));
}

void orgs_create(struct req *r)
{
	json_t *body = req_json_body(r, 0);
	if (!body)
		return;
	json_t *errors = json_array();
	static const char *const allowed[] = {"slug", "name", "timezone", "country", NULL};
	static const char *const ignored[] = {"created_at", "is_host", NULL};
	jv_known(body, allowed, ignored, errors);
	const char *slug = jv_string(body, "slug", 1, 63, 0, errors);
	const char *name = jv_string(body, "name", 1, 200, 0, errors);
	const char *tz = jv_string(body, "timezone", 0, 64, 0, errors);
	const char *country = jv_string(body, "country", 0, 2, 0, errors);
	if (slug && !valid_slug(slug))
		jv_error(errors, "slug", "must be lower-case letters, digits and '-'");
	if (tz && !(tz = tz_canonical(tz)))
		jv_error(errors, "timezone", "unknown IANA time zone");
	if (country && !valid_country(country))
		jv_error(errors, "country", "must be an ISO 3166-1 alpha-2 code such as VN");
	if (json_array_size(errors)) {
		json_decref(body);
		reply_problem_fields(r, 422, "the org is not valid", errors);
		return;
	}
	json_decref(errors);
	const char *params[] = {slug, name, tz ? tz : "UTC", country, "false"};
	if (dbpool_query(r->cx->db, SQL_ORG_INSERT, 5, params, on_org_created, r) != 0)
		reply_unavailable(r);
	json_decref(body); /* the pool copied the parameters */
}

/* ---- keys ---------------------------------------------------------------- */

struct key_create {
	struct req *r;
	char token[TOKEN_LEN + 1];
};

static void on_key_created(PGresult *res, void *arg)
{
	struct key_create *kc = arg;
	struct req *r = kc->r;
	/* A first key made at once by another request (sql/025). */
	const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	int taken = constraint && !strcmp(constraint, "api_keys_first");
	if (taken || result_ok(r, res)) {
		if (!taken && PQntuples(res) != 1) {
			reply_problem(r, 404, "no such org");
		} else if (taken || PQgetisnull(res, 0, 0)) { /* a first key, and the org has one */
			reply_problem(r, 409,
			              "this org already has a key: its own admins make the others");
		} else {
			char loc[64];
			snprintf(loc, sizeof(loc), "/v1/keys/%s", PQgetvalue(res, 0, 0));
			req_add_header(r, "Location", loc);
			reply_json(r, 201,
			           json_pack("{s:s, s:s, s:s, s:s, s:s}", "id",
			                     PQgetvalue(res, 0, 0), "name", PQgetvalue(res, 0, 1),
			                     "role", PQgetvalue(res, 0, 2), "created_at",
			                     PQgetvalue(res, 0, 3), "token", kc->token));
		}
	}
	memset(kc->token, 0, sizeof(kc->token));
	free(kc);
}

/* Makes a token and inserts its hash; the SQL's $1 is the org slug. */
static void key_insert(struct req *r, const char *sql, const char *slug, const char *name,
                       const char *role)
{
	struct key_create *kc = calloc(1, sizeof(*kc));
	char hash[TOKEN_HASH_HEX + 1];
	if (!kc || token_generate(kc->token) || token_hash(kc->token, TOKEN_LEN, hash)) {
		free(kc);
		reply_problem(r, 500, "cannot make a token");
		return;
	}
	kc->r = r;
	const char *params[] = {slug, name, role, hash};
	if (dbpool_query(r->cx->db, sql, 4, params, on_key_created, kc) != 0) {
		free(kc);
		reply_unavailable(r);
	}
}

/* Reads {"name", "role"}; role defaults to fixed_role or "viewer". */
static int key_body(struct req *r, const char **name, const char **role, json_t **body,
                    int role_allowed)
{
	*body = req_json_body(r, 0);
	if (!*body)
		return 0;
	json_t *errors = json_array();
	static const char *const with_role[] = {"name", "role", NULL};
	static const char *const without_role[] = {"name", NULL};
	static const char *const ignored[] = {"id", "created_at", "revoked_at", NULL};
	jv_known(*body, role_allowed ? with_role : without_role, ignored, errors);
	*name = jv_string(*body, "name", 0, 200, 0, errors);
	*role = role_allowed ? jv_string(*body, "role", 0, 16, 0, errors) : NULL;
	if (*role && !valid_role(*role))
		jv_error(errors, "role", "must be admin, editor or viewer");
	if (json_array_size(errors)) {
		json_decref(*body);
		reply_problem_fields(r, 422, "the key is not valid", errors);
		return 0;
	}
	json_decref(errors);
	return 1;
}

void keys_create(struct req *r)
{
	const char *name, *role;
	json_t *body;
	if (!key_body(r, &name, &role, &body, 1))
		return;
	key_insert(r, SQL_KEY_INSERT, r->who.org_slug, name ? name : "", role ? role : "viewer");
	json_decref(body);
}

/* The first admin key of an org, made by the host: refused (409) once the
 * org has a key of its own, so the host cannot take over a partner. */
void orgs_create_first_key(struct req *r)
{
	const char *slug = req_param(r, "slug");
	if (!valid_slug(slug)) {
		reply_problem(r, 404, "no such org");
		return;
	}
	const char *name, *role;
	json_t *body;
	if (!key_body(r, &name, &role, &body, 0))
		return;
	key_insert(r, SQL_ORG_FIRST_KEY, slug, name ? name : "", "admin");
	json_decref(body);
}

static void on_key_list(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!result_ok(r, res))
		return;
	json_t *items = json_array();
	for (int i = 0; items && i < PQntuples(res); i++)
		json_array_append_new(
		    items, json_pack("{s:s, s:s, s:s, s:s}", "id", PQgetvalue(res, i, 0), "name",
		                     PQgetvalue(res, i, 1), "role", PQgetvalue(res, i, 2),
		                     "created_at", PQgetvalue(res, i, 3)));
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}

void keys_list(struct req *r)
{
	const char *params[] = {r->who.org_id};
	submit_list(r, SQL_KEY_LIST, 1, params, on_key_list);
}

static void on_key_deleted(PGresult *res, void *arg)
{
	struct req *r = arg;
	if (!result_ok(r, res))
		return;
	if (PQntuples(res) != 1) {
		reply_problem(r, 404, "no such key");
		return;
	}
	/* This instance's threads drop the key at once (read your writes);
	 * the others hear of it through NOTIFY. */
	atomic_fetch_add(r->cx->auth_generation, 1);
	reply_empty(r, 204);
}

void keys_delete(struct req *r)
{
	const char *id = req_param(r, "id");
	if (!valid_uuid(id)) {
		reply_problem(r, 404, "no such key");
		return;
	}
	const char *params[] = {id, r->who.org_id};
	submit(r, SQL_KEY_DELETE, 2, params, on_key_deleted);
}
