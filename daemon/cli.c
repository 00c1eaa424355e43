/* cli.c - migrate, org create, key create. These run outside any event
 * loop, so plain blocking libpq calls are the right tool. */
#include "cli.h"

#include "config.h"
#include "keys_sql.h"
#include "log.h"
#include "migrate.h"
#include "token.h"
#include "tz.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Server notices ("relation already exists, skipping") are not errors. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("database notice: %.*s", (int)strcspn(message, "\n"), message);
}

static PGconn *connect_once(const struct config *cfg)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {cfg->database ? cfg->database : "", "liaisond", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, on_notice, NULL);
		PQclear(PQexec(c, "SET TIME ZONE 'UTC'"));
		return c;
	}
	return c;
}

PGconn *cli_connect_migrated(const struct config *cfg, int retry, volatile int *stop)
{
	unsigned delay_ms = 250;
	for (;;) {
		PGconn *c = connect_once(cfg);
		if (c && PQstatus(c) == CONNECTION_OK) {
			int applied = 0;
			char err[512];
			if (migrate_apply(c, &applied, err, sizeof(err)) != 0) {
				log_error("%s", err);
				PQfinish(c);
				return NULL;
			}
			if (applied)
				log_info("applied %d migration%s; schema version %d", applied,
				         applied == 1 ? "" : "s", migrate_latest_version());
			return c;
		}
		char why[256];
		snprintf(why, sizeof(why), "%s", c ? PQerrorMessage(c) : "out of memory");
		why[strcspn(why, "\n")] = '\0';
		PQfinish(c);
		if (!retry || (stop && *stop)) {
			log_error("cannot connect to the database: %s", why);
			return NULL;
		}
		log_warn("database not reachable (%s); retrying in %u ms", why, delay_ms);
		usleep(delay_ms * 1000);
		if (stop && *stop)
			return NULL;
		delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
	}
}

char *cli_database_identity(PGconn *c)
{
	/* The timeline is the current WAL file's: a promoted standby's or a
	 * restored cluster's moves on at once, its last checkpoint's later. */
	PGresult *res = PQexec(c, "SELECT s.system_identifier || '.'"
	                          "       || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"
	                          "       || '.' || d.oid"
	                          "  FROM pg_control_system() s, pg_database d"
	                          " WHERE d.datname = current_database()");
	char *id = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
	               ? strdup(PQgetvalue(res, 0, 0))
	               : NULL;
	if (!id)
		log_warn(
		    "cannot tell which database this is (%s): rendered feeds are not kept across "
		    "restarts",
		    PQresultStatus(res) == PGRES_TUPLES_OK ? "no answer" : PQerrorMessage(c));
	PQclear(res);
	return id;
}

int cli_migrate(const struct config *cfg)
{
	PGconn *c = cli_connect_migrated(cfg, 0, NULL);
	if (!c)
		return 1;
	printf("schema version %d\n", migrate_latest_version());
	PQfinish(c);
	return 0;
}

static int org_invalid(const struct cli_org *o)
{
	if (!valid_slug(o->slug))
		return fprintf(stderr,
		               "org create: SLUG must be lower-case letters, digits and '-'\n"),
		       1;
	if (!o->name || !valid_text(o->name, 200, 0))
		return fprintf(stderr,
		               "org create: --name NAME is required (1-200 bytes of UTF-8)\n"),
		       1;
	if (o->timezone && !tz_valid(o->timezone))
		return fprintf(stderr, "org create: unknown time zone %s\n", o->timezone), 1;
	if (o->country && !valid_country(o->country))
		return fprintf(stderr,
		               "org create: --country must be two capital letters, e.g. VN\n"),
		       1;
	return 0;
}

int cli_org_create(const struct config *cfg, const struct cli_org *o)
{
	if (org_invalid(o))
		return 2;
	PGconn *c = cli_connect_migrated(cfg, 0, NULL);
	if (!c)
		return 1;
	const char *params[] = {o->slug, o->name, o->timezone ? tz_canonical(o->timezone) : "UTC",
	                        o->country, o->host ? "true" : "false"};
	PGresult *r = PQexecParams(c, SQL_ORG_INSERT, 5, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "org create: %s", PQresultErrorMessage(r));
		rc = 1;
	} else if (PQntuples(r) != 1) {
		fprintf(stderr, "org create: an org with slug %s exists\n", o->slug);
		rc = 1;
	} else {
		printf("%s\n", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

int cli_key_create(const struct config *cfg, const char *slug, const char *role, const char *name)
{
	if (!valid_role(role)) {
		fprintf(stderr, "key create: --role must be admin, editor or viewer\n");
		return 2;
	}
	if (name && *name && !valid_text(name, 200, 0)) {
		fprintf(stderr, "key create: --name must be 1-200 bytes of UTF-8\n");
		return 2;
	}
	char token[TOKEN_LEN + 1], hash[TOKEN_HASH_HEX + 1];
	if (token_generate(token) || token_hash(token, TOKEN_LEN, hash)) {
		fprintf(stderr, "key create: no random bytes\n");
		return 1;
	}
	PGconn *c = cli_connect_migrated(cfg, 0, NULL);
	if (!c)
		return 1;
	const char *params[] = {slug, name ? name : "", role, hash};
	PGresult *r = PQexecParams(c, SQL_KEY_INSERT, 4, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "key create: %s", PQresultErrorMessage(r));
		rc = 1;
	} else if (PQntuples(r) != 1) {
		fprintf(stderr, "key create: no org with slug %s\n", slug);
		rc = 1;
	} else {
		printf("%s\n", token);
	}
	memset(token, 0, sizeof(token));
	PQclear(r);
	PQfinish(c);
	return rc;
}
