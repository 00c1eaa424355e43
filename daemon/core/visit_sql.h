/* visit_sql.h - a delegation visit in SQL (sql/013, 016), as the API, the
 * printable programme and the visit.* webhook messages all give it: its
 * JSON representation built by PostgreSQL (VISIT_JSON), who may see it
 * and its delegates (VISIT_VISIBLE, VISIT_PARTY), and its protocol tasks
 * (VISIT_TASK_JSON). Table v is visits, o its owner org. The statements
 * of /v1/visits are in api/visits_sql.h; the jobs build visit.* bodies
 * with these (jobs/scheduler_sql.h). */
#ifndef LIAISON_VISIT_SQL_H
#define LIAISON_VISIT_SQL_H

#include "core/event_sql.h"

/* clang-format off */

/* A visit's own times are never all-day. */
#define VISIT_LOCAL(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS')"

/* Whether the caller (org id me, slug myslug) is party to visit v: its
 * owner or one of its partners, the orgs that see its delegates (the SQL
 * function liaison_visit_party, sql/013, says the same for webhooks). */
#define VISIT_PARTY(me, myslug) \
	"(v.org_id = " me " OR " myslug " = ANY (v.partners))"
/* Who may see visit v at all. */
#define VISIT_VISIBLE(me, myslug) \
	"(v.visibility = 'network' OR " VISIT_PARTY(me, myslug) ")"

/* One programme item (i a visit_items row, e its event); party says
 * whether its people, interpreter and notes are shown; extra (jsonb) is
 * added to it (its conflicts in the answer to a write). */
#define VISIT_ITEM_JSON(party, extra) \
	"(jsonb_build_object(" \
	"   'id', i.id," \
	"   'event_id', e.id," \
	"   'kind', i.kind," \
	"   'title', coalesce(e.titles, to_jsonb(e.title))," \
	"   'start', " VISIT_LOCAL("e.start_local") "," \
	"   'end', " VISIT_LOCAL("e.end_local") "," \
	"   'location', e.location," \
	"   'address', i.address," \
	"   'reminders', to_jsonb(e.reminders)," \
	"   'status', e.status)" \
	" || CASE WHEN " party " THEN jsonb_build_object(" \
	"   'people', (SELECT coalesce(jsonb_agg(d.name ORDER BY p.n), '[]')" \
	"                FROM unnest(i.people) WITH ORDINALITY AS p(id, n)" \
	"                JOIN visit_delegates d ON d.id = p.id)," \
	"   'interpreter', (SELECT d.name" \
	"                     FROM visit_delegates d" \
	"                    WHERE d.id = i.interpreter)," \
	"   'notes', i.notes)" \
	"   ELSE '{}'::jsonb END" \
	" || " extra ")"

/* The representation of visit v (o its owner org). Orgs not party to it
 * get no delegates, and no people, interpreter or notes of its items. */
#define VISIT_JSON(party, item_extra) \
	"(jsonb_build_object(" \
	"   'id', v.id," \
	"   'org', o.slug," \
	"   'direction', v.direction," \
	"   'title', coalesce(v.titles, to_jsonb(v.title))," \
	"   'languages', to_jsonb(v.languages)," \
	"   'timezone', v.timezone," \
	"   'arrive', " VISIT_LOCAL("v.arrive") "," \
	"   'depart', " VISIT_LOCAL("v.depart") "," \
	"   'city', v.city," \
	"   'country', v.country," \
	"   'purpose', v.purpose," \
	"   'partners', to_jsonb(v.partners)," \
	"   'visibility', v.visibility," \
	"   'status', v.status," \
	"   'programme', (SELECT coalesce(jsonb_agg(" VISIT_ITEM_JSON(party, item_extra) \
	"                                           ORDER BY e.start_utc, i.position), '[]')" \
	"                   FROM visit_items i" \
	"                   JOIN events e ON e.id = i.event_id" \
	"                  WHERE i.visit_id = v.id" \
	"                    AND i.removed_at IS NULL)," \
	"   'created_at', " EV_UTC("v.created_at") "," \
	"   'updated_at', " EV_UTC("v.updated_at") ")" \
	" || CASE WHEN " party " THEN jsonb_build_object(" \
	"   'delegates', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"                          'id', d.id," \
	"                          'name', d.name," \
	"                          'title', d.title," \
	"                          'organisation', d.organisation," \
	"                          'role', d.role," \
	"                          'language', d.language," \
	"                          'notes', d.notes) ORDER BY d.position), '[]')" \
	"                   FROM visit_delegates d" \
	"                  WHERE d.visit_id = v.id))" \
	"   ELSE '{}'::jsonb END)"

/* One protocol task of a visit (sql/016: t a visit_tasks row, e its
 * deadline event). overdue: open, and its deadline (the end of its day
 * in the visit's zone) has passed. */
#define VISIT_TASK_JSON \
	"jsonb_build_object(" \
	"  'id', t.id," \
	"  'visit_id', t.visit_id," \
	"  'checklist_id', t.checklist_id," \
	"  'title', t.title," \
	"  'anchor', t.anchor," \
	"  'offset_days', t.offset_days," \
	"  'due', to_char(t.due, 'YYYY-MM-DD')," \
	"  'owner', t.owner," \
	"  'state', t.state," \
	"  'reminders', to_jsonb(t.reminders)," \
	"  'event_id', t.event_id," \
	"  'overdue', t.state = 'open' AND e.status <> 'cancelled' AND e.end_utc <= now()," \
	"  'updated_at', " EV_UTC("t.updated_at") ")"

/* clang-format on */

#endif
