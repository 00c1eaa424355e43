/* ops_sql.h - the statement of /readyz (api/ops.c). */
#ifndef LIAISON_OPS_SQL_H
#define LIAISON_OPS_SQL_H

/* clang-format off */
/* The schema version the database is at. */
#define SQL_SCHEMA_VERSION \
	"SELECT coalesce(max(version), 0)" \
	"  FROM schema_migrations"
/* clang-format on */

#endif
