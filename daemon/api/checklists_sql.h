/* checklists_sql.h - the statements of /v1/checklists (api/checklists.c):
 * an org's templates of protocol tasks (sql/016). c is checklists. A
 * checklist is its org's alone: no other org reads it. */
#ifndef LIAISON_CHECKLISTS_SQL_H
#define LIAISON_CHECKLISTS_SQL_H

#include "core/event_sql.h"

/* clang-format off */

#define CHECKLIST_JSON \
	"jsonb_build_object(" \
	"  'id', c.id," \
	"  'name', c.name," \
	"  'direction', c.direction," \
	"  'tasks', c.tasks," \
	"  'created_at', " EV_UTC("c.created_at") "," \
	"  'updated_at', " EV_UTC("c.updated_at") ")"

/* A checklist of org $1: name $2, direction $3, tasks $4 (checked). */
#define SQL_CHECKLIST_CREATE \
	"INSERT INTO checklists AS c (org_id, name, direction, tasks)" \
	"     VALUES ($1::uuid, $2::text, $3::text, $4::jsonb)" \
	"  RETURNING " CHECKLIST_JSON "::text, c.version"

/* The checklists of org $1, oldest first (the order visits take their
 * tasks in). */
#define SQL_CHECKLIST_LIST \
	"SELECT " CHECKLIST_JSON "::text" \
	"  FROM checklists c" \
	" WHERE c.org_id = $1::uuid" \
	"   AND c.deleted_at IS NULL" \
	" ORDER BY c.created_at, c.id"

/* Checklist $1 of org $2. */
#define SQL_CHECKLIST_GET \
	"SELECT " CHECKLIST_JSON "::text, c.version" \
	"  FROM checklists c" \
	" WHERE c.id = $1::uuid" \
	"   AND c.org_id = $2::uuid" \
	"   AND c.deleted_at IS NULL"

/* Checklist $1 of org $2 at version $3 rewritten (name $4, direction $5,
 * tasks $6); no row when it changed meanwhile. */
#define SQL_CHECKLIST_UPDATE \
	"UPDATE checklists c" \
	"   SET name = $4::text, direction = $5::text, tasks = $6::jsonb," \
	"       version = c.version + 1, updated_at = now()" \
	" WHERE c.id = $1::uuid" \
	"   AND c.org_id = $2::uuid" \
	"   AND c.version = $3::integer" \
	"   AND c.deleted_at IS NULL" \
	" RETURNING " CHECKLIST_JSON "::text, c.version"

/* Checklist $1 of org $2 deleted: visits made from it keep their tasks. */
#define SQL_CHECKLIST_DELETE \
	"UPDATE checklists c" \
	"   SET deleted_at = now(), updated_at = now()" \
	" WHERE c.id = $1::uuid" \
	"   AND c.org_id = $2::uuid" \
	"   AND c.deleted_at IS NULL" \
	" RETURNING c.id"

/* clang-format on */

#endif
