/* visit_tasks_sql.h - the statements of /v1/visits/{id}/tasks
 * (api/visit_tasks.c): the protocol tasks a visit got from its org's
 * checklists (sql/016). v is visits, t visit_tasks, e a task's deadline
 * event. Tasks are the owner org's work: only it reads or changes them. */
#ifndef LIAISON_VISIT_TASKS_SQL_H
#define LIAISON_VISIT_TASKS_SQL_H

#include "core/visit_sql.h"

/* clang-format off */

/* Visit $1 as org $2 (slug $3) sees it: whether it owns it, and the
 * tasks, by deadline. No row: no such visit for the caller. */
#define SQL_VISIT_TASKS_LIST \
	"SELECT v.org_id = $2::uuid," \
	"       (SELECT coalesce(jsonb_agg(" VISIT_TASK_JSON " ORDER BY t.due, t.position), '[]')" \
	"          FROM visit_tasks t" \
	"          JOIN events e ON e.id = t.event_id" \
	"         WHERE t.visit_id = v.id)::text" \
	"  FROM visits v" \
	" WHERE v.id = $1::uuid" \
	"   AND " VISIT_VISIBLE("$2::uuid", "$3::text")

/* Task $4 of visit $1, as org $2 (slug $3) sees it: whether it owns the
 * visit, the task's version, state and owner, and its JSON (NULL: no such
 * task). */
#define SQL_VISIT_TASK_LOAD \
	"SELECT v.org_id = $2::uuid, t.version, t.state, t.owner, (" VISIT_TASK_JSON ")::text" \
	"  FROM visits v" \
	"  LEFT JOIN visit_tasks t ON t.visit_id = v.id" \
	"                         AND t.id = $4::uuid" \
	"  LEFT JOIN events e ON e.id = t.event_id" \
	" WHERE v.id = $1::uuid" \
	"   AND " VISIT_VISIBLE("$2::uuid", "$3::text")

/* Task $1 of visit $2 at version $3 given state $4 and owner $5; its
 * deadline event follows (the trigger of sql/016). No row: it changed
 * meanwhile. */
#define SQL_VISIT_TASK_UPDATE \
	"UPDATE visit_tasks t" \
	"   SET state = $4::text, owner = $5::text, version = t.version + 1, updated_at = now()" \
	"  FROM events e" \
	" WHERE t.id = $1::uuid" \
	"   AND t.visit_id = $2::uuid" \
	"   AND t.version = $3::integer" \
	"   AND e.id = t.event_id" \
	" RETURNING (" VISIT_TASK_JSON ")::text, t.version"

/* clang-format on */

#endif
