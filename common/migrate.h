/* migrate.h - the numbered SQL migrations in sql/, embedded at build time. */
#ifndef LIAISON_MIGRATE_H
#define LIAISON_MIGRATE_H

#include "macros.h"

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* Generated from the files in sql/ by the Makefile, in version order. */
extern const struct migration migrations[];
extern const size_t migrations_count;

/* Version of the newest embedded migration: what /readyz expects. */
int migrate_latest_version(void);
/* Applies pending migrations on a blocking connection, under an advisory
 * lock; *applied gets how many. err gets the reason on failure. */
int migrate_apply(PGconn *conn, int *applied, char *err, size_t errlen) WUR;

#endif
