/* migrate.c - applies sql/NNN_name.sql in order, each in its own
 * transaction, recorded in schema_migrations. A session-level advisory
 * lock serialises instances that start together: the second waits, then
 * finds nothing left to do. This runs before any event loop starts (or
 * from the command line), so a blocking connection is right here. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "liaison" packed into a bigint: our advisory lock's key. */
#define MIGRATE_LOCK_KEY "7811882627272558"

int migrate_latest_version(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}

static int exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static int is_applied(const PGresult *r, int version)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (atoi(PQgetvalue(r, i, 0)) == version)
			return 1;
	return 0;
}

static int apply_one(PGconn *conn, const struct migration *m, char *err, size_t errlen)
{
	char reason[400];
	if (exec_ok(conn, "BEGIN", reason, sizeof(reason)) ||
	    exec_ok(conn, m->sql, reason, sizeof(reason))) {
		snprintf(err, errlen, "migration %s failed: %s", m->name, reason);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	char version[16];
	snprintf(version, sizeof(version), "%d", m->version);
	const char *params[] = {version, m->name};
	PGresult *r =
	    PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
	                 NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "recording %s failed: %s", m->name, PQresultErrorMessage(r));
	PQclear(r);
	if (!ok || exec_ok(conn, "COMMIT", reason, sizeof(reason))) {
		if (ok)
			snprintf(err, errlen, "migration %s failed at commit: %s", m->name, reason);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	return 0;
}

static int apply_pending(PGconn *conn, int *applied, char *err, size_t errlen)
{
	if (exec_ok(conn,
	            "CREATE TABLE IF NOT EXISTS schema_migrations ("
	            " version integer PRIMARY KEY, name text NOT NULL,"
	            " applied_at timestamptz NOT NULL DEFAULT now())",
	            err, errlen))
		return -1;
	PGresult *done = PQexec(conn, "SELECT version FROM schema_migrations");
	if (PQresultStatus(done) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(done));
		PQclear(done);
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < PQntuples(done); i++) {
		if (atoi(PQgetvalue(done, i, 0)) > migrate_latest_version()) {
			snprintf(err, errlen,
			         "the database has migration %s, newer than this liaisond knows",
			         PQgetvalue(done, i, 0));
			rc = -1;
		}
	}
	for (size_t i = 0; rc == 0 && i < migrations_count; i++) {
		if (is_applied(done, migrations[i].version))
			continue;
		rc = apply_one(conn, &migrations[i], err, errlen);
		if (rc == 0)
			(*applied)++;
	}
	PQclear(done);
	return rc;
}

int migrate_apply(PGconn *conn, int *applied, char *err, size_t errlen)
{
	*applied = 0;
	if (exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen))
		return -1;
	int rc = apply_pending(conn, applied, err, errlen);
	char ignored[64];
	if (exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignored,
	            sizeof(ignored)) &&
	    rc == 0) {
		snprintf(err, errlen, "cannot release the migration lock");
		rc = -1;
	}
	return rc;
}
