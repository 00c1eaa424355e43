/* reports_sql.h - the statement of GET /v1/reports/cooperation
 * (api/reports.c): the caller's cooperation per partner org, per country
 * and in all, as JSON. $1 is the caller's org, $2 its slug, $3 and $4 the
 * period [from, to) as dates. */
#ifndef LIAISON_REPORTS_SQL_H
#define LIAISON_REPORTS_SQL_H

#include "core/agreement_sql.h"

/* clang-format off */

/* The counts of the agreements c of a group (aggregates over c). */
#define REPORT_COUNTS \
	"jsonb_build_object(" \
	"  'total', count(*)," \
	"  'by_stage', jsonb_build_object(" \
	"    'intent', count(*) FILTER (WHERE c.stage = 'intent')," \
	"    'drafting', count(*) FILTER (WHERE c.stage = 'drafting')," \
	"    'signed', count(*) FILTER (WHERE c.stage = 'signed')," \
	"    'renewal', count(*) FILTER (WHERE c.stage = 'renewal')," \
	"    'expired', count(*) FILTER (WHERE c.stage = 'expired')," \
	"    'terminated', count(*) FILTER (WHERE c.stage = 'terminated'))," \
	"  'signed_in_period', count(*) FILTER (WHERE c.signed)," \
	"  'dormant', count(*) FILTER (WHERE c.dormant)," \
	"  'expiring', count(*) FILTER (WHERE c.expiring))"
/* The visits of vis (aggregates over vis): in and out as the caller sees
 * them. */
#define REPORT_VISITS \
	"jsonb_build_object(" \
	"  'inbound', count(*) FILTER (WHERE vis.dir = 'inbound')," \
	"  'outbound', count(*) FILTER (WHERE vis.dir = 'outbound'))"
/* A visit v that took place (or takes place): neither only proposed nor
 * cancelled. */
#define REPORT_VISIT_HELD "v.status IN ('confirmed', 'in_progress', 'completed')"
/* What the rows of c, vis and itm whose ids ids (a query of ids, over a
 * group g) hold: the group's agreements, visits and items held. */
#define REPORT_GROUP(ag_ids, visit_ids) \
	"'agreements', (SELECT " REPORT_COUNTS " FROM c WHERE c.id IN (" ag_ids "))," \
	"'visits', (SELECT " REPORT_VISITS " FROM vis WHERE vis.id IN (" visit_ids "))," \
	"'items_held', (SELECT count(*) FROM itm WHERE itm.visit_id IN (" visit_ids "))"

/* The agreements the caller's org is party to (owner or named in
 * parties), as they stood on the period's last day (asof; today when the
 * period has not ended): its stage then (none: not made yet), signed in
 * the period, dormant and expiring then. One that had ended before the
 * period and did not change in it is left out. p: each agreement's
 * partner orgs, its owner and parties other than the caller.
 * The visits the caller's org is party to (owner or partner: so it may
 * see them) that took place and arrived in the period (local dates in
 * the visit's zone), each inbound or outbound as the caller sees it (a
 * partner's outbound visit to it is inbound); itm: their programme items
 * held in the period (begun, neither removed nor cancelled) of such
 * visits; vp: each of those visits' partner orgs, as p. A partner or a
 * country is listed when it has an agreement, a visit or an item. */
#define SQL_REPORT_COOPERATION \
	"WITH ag AS (" \
	"  SELECT a.id," \
	"         least($4::date - 1, " AG_TODAY ") AS asof," \
	"         EXISTS (SELECT 1" \
	"                   FROM jsonb_array_elements(a.history) h" \
	"                  WHERE (h ->> 'on')::date >= $3::date" \
	"                    AND (h ->> 'on')::date < $4::date) AS moved," \
	"         EXISTS (SELECT 1" \
	"                   FROM jsonb_array_elements(a.history) h" \
	"                  WHERE h ->> 'stage' = 'signed'" \
	"                    AND (h ->> 'on')::date >= $3::date" \
	"                    AND (h ->> 'on')::date < $4::date) AS signed" \
	"    FROM agreements a" \
	"   WHERE a.org_id = $1::uuid" \
	"      OR $2::text = ANY(a.parties)), " \
	"c AS (" \
	"  SELECT ag.id, ag.signed," \
	"         liaison_agreement_stage_on(a, ag.asof) AS stage," \
	"         liaison_agreement_dormant(a, ag.asof) AS dormant," \
	"         liaison_agreement_expiring(a, ag.asof) AS expiring" \
	"    FROM ag" \
	"    JOIN agreements a ON a.id = ag.id" \
	"   WHERE liaison_agreement_stage_on(a, ag.asof) IS NOT NULL" \
	"     AND (ag.moved" \
	"          OR coalesce(liaison_agreement_live(liaison_agreement_stage_on(a, $3::date - 1))," \
	"                      true))), " \
	"p AS (" \
	"  SELECT DISTINCT c.id, po.slug, po.name, po.country" \
	"    FROM c" \
	"    JOIN agreements a ON a.id = c.id" \
	"    JOIN orgs po ON (po.slug = ANY(a.parties) OR po.id = a.org_id)" \
	"                AND po.id <> $1::uuid), " \
	"vis AS (" \
	"  SELECT v.id," \
	"         CASE WHEN v.org_id = $1::uuid THEN v.direction" \
	"              WHEN v.direction = 'inbound' THEN 'outbound'" \
	"              ELSE 'inbound' END AS dir" \
	"    FROM visits v" \
	"   WHERE (v.org_id = $1::uuid OR $2::text = ANY(v.partners))" \
	"     AND " REPORT_VISIT_HELD \
	"     AND v.arrive >= $3::date" \
	"     AND v.arrive < $4::date), " \
	"itm AS (" \
	"  SELECT i.id, i.visit_id" \
	"    FROM visit_items i" \
	"    JOIN visits v ON v.id = i.visit_id" \
	"    JOIN events e ON e.id = i.event_id" \
	"   WHERE (v.org_id = $1::uuid OR $2::text = ANY(v.partners))" \
	"     AND " REPORT_VISIT_HELD \
	"     AND i.removed_at IS NULL" \
	"     AND e.status <> 'cancelled'" \
	"     AND e.start_utc <= now()" \
	"     AND e.start_local >= $3::date" \
	"     AND e.start_local < $4::date), " \
	"vp AS (" \
	"  SELECT DISTINCT v.id, po.slug, po.name, po.country" \
	"    FROM visits v" \
	"    JOIN orgs po ON (po.slug = ANY(v.partners) OR po.id = v.org_id)" \
	"                AND po.id <> $1::uuid" \
	"   WHERE v.id IN (SELECT id FROM vis UNION SELECT visit_id FROM itm)), " \
	"g AS (" \
	"  SELECT slug, name, country FROM p" \
	"  UNION" \
	"  SELECT slug, name, country FROM vp) " \
	"SELECT jsonb_build_object(" \
	"  'from', $3::date," \
	"  'to', $4::date," \
	"  'partners', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"                 'org', g.slug, 'name', g.name, 'country', g.country," \
	"                 " REPORT_GROUP("SELECT p.id FROM p WHERE p.slug = g.slug", \
	                                "SELECT vp.id FROM vp WHERE vp.slug = g.slug") \
	"               ) ORDER BY g.slug), '[]')" \
	"                 FROM g)," \
	"  'countries', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"                  'country', gc.country," \
	"                  " REPORT_GROUP("SELECT p.id FROM p WHERE p.country IS NOT DISTINCT FROM gc.country", \
	                                 "SELECT vp.id FROM vp WHERE vp.country IS NOT DISTINCT FROM gc.country") \
	"                ) ORDER BY gc.country NULLS LAST), '[]')" \
	"                  FROM (SELECT DISTINCT country FROM g) gc)," \
	"  'total', jsonb_build_object(" \
	"             " REPORT_GROUP("SELECT id FROM c", "SELECT id FROM vis UNION SELECT visit_id FROM itm") \
	"           ))::text"

/* clang-format on */

#endif
