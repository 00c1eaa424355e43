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
/* What visits will count when they land (sql/013): left null, named in
 * not_yet_counted. */
#define REPORT_PENDING \
	"'visits', jsonb_build_object('inbound', NULL, 'outbound', NULL)," \
	"'items_held', NULL"

/* The agreements the caller's org is party to (owner or named in
 * parties), as they stood on the period's last day (asof; today when the
 * period has not ended): its stage then (none: not made yet), signed in
 * the period, dormant and expiring then. One that had ended before the
 * period and did not change in it is left out. p: each agreement's
 * partner orgs, its owner and parties other than the caller. */
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
	"                AND po.id <> $1::uuid) " \
	"SELECT jsonb_build_object(" \
	"  'from', $3::date," \
	"  'to', $4::date," \
	"  'partners', (SELECT coalesce(jsonb_agg(x.j ORDER BY x.slug), '[]')" \
	"                 FROM (SELECT p.slug, jsonb_build_object(" \
	"                         'org', p.slug, 'name', p.name, 'country', p.country," \
	"                         'agreements', " REPORT_COUNTS "," \
	"                         " REPORT_PENDING ") AS j" \
	"                         FROM p" \
	"                         JOIN c ON c.id = p.id" \
	"                        GROUP BY p.slug, p.name, p.country) x)," \
	"  'countries', (SELECT coalesce(jsonb_agg(x.j ORDER BY x.country NULLS LAST), '[]')" \
	"                  FROM (SELECT pc.country, jsonb_build_object(" \
	"                          'country', pc.country," \
	"                          'agreements', " REPORT_COUNTS "," \
	"                          " REPORT_PENDING ") AS j" \
	"                          FROM (SELECT DISTINCT p.id, p.country FROM p) pc" \
	"                          JOIN c ON c.id = pc.id" \
	"                         GROUP BY pc.country) x)," \
	"  'total', (SELECT jsonb_build_object(" \
	"              'agreements', " REPORT_COUNTS "," \
	"              " REPORT_PENDING ")" \
	"              FROM c)," \
	"  'not_yet_counted', jsonb_build_array('visits', 'items_held'))::text"

/* clang-format on */

#endif
