/* agreement_sql.h - the JSON representation of an agreement, built in
 * SQL (a is agreements, o its owner org), shared by /v1/agreements and the
 * agreement.* webhook messages. */
#ifndef LIAISON_AGREEMENT_SQL_H
#define LIAISON_AGREEMENT_SQL_H

#include "core/event_sql.h"

/* clang-format off */
/* The live deadline event of one part ('signed', 'expires') of a, in src. */
#define AG_PART(src, part) \
	"(SELECT e.id" \
	"   FROM " src " e" \
	"  WHERE e.agreement_id = a.id" \
	"    AND e.agreement_part = '" part "'" \
	"    AND e.status <> 'cancelled'" \
	"  LIMIT 1)"
/* The representation; src is the relation holding the deadline events
 * (the events table, or a CTE that just wrote them). */
#define AG_JSON(src) \
	"jsonb_build_object(" \
	"  'id', a.id," \
	"  'org', o.slug," \
	"  'title', a.title," \
	"  'description', a.description," \
	"  'parties', to_jsonb(a.parties)," \
	"  'stage', a.stage," \
	"  'signed_on', a.signed_on," \
	"  'expires_on', a.expires_on," \
	"  'timezone', a.timezone," \
	"  'visibility', a.visibility," \
	"  'milestones', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"                          'title', e.title," \
	"                          'due', " EV_LOCAL("e.start_local") "," \
	"                          'reminders', to_jsonb(e.reminders)," \
	"                          'event_id', e.id) ORDER BY e.start_utc, e.title), '[]')" \
	"                  FROM " src " e" \
	"                 WHERE e.agreement_id = a.id" \
	"                   AND e.agreement_part = 'milestone'" \
	"                   AND e.status <> 'cancelled')," \
	"  'signed_event_id', " AG_PART(src, "signed") "," \
	"  'expires_event_id', " AG_PART(src, "expires") "," \
	"  'created_at', " EV_UTC("a.created_at") "," \
	"  'updated_at', " EV_UTC("a.updated_at") ")::text"
/* clang-format on */

#endif
