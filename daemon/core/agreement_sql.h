/* agreement_sql.h - the JSON representation of an agreement, built in
 * SQL (a is the agreements table, o its owner org), shared by
 * /v1/agreements, the cooperation report and the agreement.* webhook
 * messages. Dormancy, expiry and the last activity are sql/017's
 * functions, so the API, the report and the scheduler agree. */
#ifndef LIAISON_AGREEMENT_SQL_H
#define LIAISON_AGREEMENT_SQL_H

#include "core/event_sql.h"
#include "core/visit_sql.h"

/* clang-format off */
/* A date event e of a that is still one of its dates: live, or cancelled
 * by the agreement's termination (it comes back if the stage leaves
 * terminated). */
#define AG_KEPT "(e.status <> 'cancelled' OR e.agreement_suspended)"
/* The date event of one part ('signed', 'expires') of a. */
#define AG_PART(part) \
	"(SELECT e.id" \
	"   FROM events e" \
	"  WHERE e.agreement_id = a.id" \
	"    AND e.agreement_part = '" part "'" \
	"    AND " AG_KEPT \
	"  ORDER BY e.status = 'cancelled'" \
	"  LIMIT 1)"
/* Today in the agreement's zone. */
#define AG_TODAY "liaison_agreement_today(a)"
/* The representation as the org with id me (slug myslug) sees it: the
 * linked events and visits it lists are those that org may see. */
#define AG_JSON(me, myslug) \
	"jsonb_build_object(" \
	"  'id', a.id," \
	"  'org', o.slug," \
	"  'title', a.title," \
	"  'description', a.description," \
	"  'parties', to_jsonb(a.parties)," \
	"  'stage', a.stage," \
	"  'history', a.history," \
	"  'signed_on', a.signed_on," \
	"  'expires_on', a.expires_on," \
	"  'timezone', a.timezone," \
	"  'visibility', a.visibility," \
	"  'milestones', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"                          'title', e.title," \
	"                          'due', " EV_LOCAL("e.start_local") "," \
	"                          'reminders', to_jsonb(e.reminders)," \
	"                          'done_on', e.agreement_done_on," \
	"                          'status', e.status," \
	"                          'event_id', e.id) ORDER BY e.start_utc, e.title), '[]')" \
	"                  FROM events e" \
	"                 WHERE e.agreement_id = a.id" \
	"                   AND e.agreement_part = 'milestone'" \
	"                   AND " AG_KEPT ")," \
	"  'events', (SELECT coalesce(jsonb_agg(l.event_id ORDER BY e.start_utc, e.id), '[]')" \
	"              FROM agreement_links l" \
	"              JOIN events e ON e.id = l.event_id" \
	"             WHERE l.agreement_id = a.id" \
	"               AND l.kind = 'event'" \
	"               AND " EV_VISIBLE("e", me, myslug) ")," \
	"  'visits', (SELECT coalesce(jsonb_agg(l.visit_id ORDER BY v.arrive AT TIME ZONE v.timezone," \
	"                                                   v.id), '[]')" \
	"              FROM agreement_links l" \
	"              JOIN visits v ON v.id = l.visit_id" \
	"             WHERE l.agreement_id = a.id" \
	"               AND l.kind = 'visit'" \
	"               AND " VISIT_VISIBLE(me, myslug) ")," \
	"  'last_activity_on', liaison_agreement_last_activity(a, " AG_TODAY ")," \
	"  'dormant', liaison_agreement_dormant(a, " AG_TODAY ")," \
	"  'dormant_after_days', a.dormant_after_days," \
	"  'expiring', liaison_agreement_expiring(a, " AG_TODAY ")," \
	"  'expiring_notice_days', a.expiring_notice_days," \
	"  'signed_event_id', " AG_PART("signed") "," \
	"  'expires_event_id', " AG_PART("expires") "," \
	"  'created_at', " EV_UTC("a.created_at") "," \
	"  'updated_at', " EV_UTC("a.updated_at") ")::text"
/* clang-format on */

#endif
