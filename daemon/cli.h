/* cli.h - the administrative commands: migrate, org create, key create.
 * They run before or instead of the server, on a blocking connection. */
#ifndef LIAISON_CLI_H
#define LIAISON_CLI_H

#include <libpq-fe.h>

struct config;

struct cli_org {
	const char *slug, *name, *timezone, *country;
	int host;
};

/* Connects and applies pending migrations. With retry, waits for the
 * database (backing off) until it answers or *stop becomes true. Returns
 * the connection, or NULL after logging why. */
PGconn *cli_connect_migrated(const struct config *cfg, int retry, volatile int *stop);
int cli_migrate(const struct config *cfg);
/* The database cluster, its timeline and the database c is connected to,
 * as "<system identifier>.<timeline>.<oid>" (malloc'd); NULL after logging
 * why it cannot be told (then feeds are not kept across restarts). */
char *cli_database_identity(PGconn *c);
int cli_org_create(const struct config *cfg, const struct cli_org *org);
int cli_key_create(const struct config *cfg, const char *slug, const char *role, const char *name);

#endif
