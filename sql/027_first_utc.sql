-- 027_first_utc.sql: a series' first instant, for the window filters.
--
-- RFC 5545 puts no bound on RDATE: one may come before DTSTART, and the
-- import's restatement of a series whose DTSTART is off its rule makes
-- one (common/ical_rules.c: the old DTSTART becomes an RDATE before the
-- rule's first instance). Every window (/v1/occurrences, lists, free/busy,
-- the HTML page, a feed's days ahead) took start_utc as the series' first
-- instant, so such an occurrence was missing from all of them unless the
-- window also reached DTSTART, while the feed's parsers showed it.
--
-- rdates_from is the earliest RDATE's instant (NULL: none), worked out
-- where start_utc is, in C (common/event.c), by the same zone data: the
-- instants /v1/occurrences and the feeds give. PostgreSQL's own
-- AT TIME ZONE disagrees with it here and there (the later of two
-- instants in a fold; CET, EET, MET and WET read as fixed offsets; other
-- tzdata), and raises on a zone it does not know. first_utc, the least of
-- the two, is generated, so no write can leave it behind start_utc.
--
-- Rows written before this migration get a bound, not the instant: the
-- earliest RDATE's wall time less 14 hours (no zone is further ahead of
-- UTC), so a window may list such a series up to a day early until it
-- is next written; it never leaves one out.

CREATE FUNCTION liaison_027_rdates_bound(rdates timestamp[]) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT (SELECT min(r) FROM unnest(rdates) AS r) AT TIME ZONE 'UTC' - interval '14 hours' $$;
ALTER TABLE events
    ADD COLUMN rdates_from timestamptz
    GENERATED ALWAYS AS (CASE WHEN cardinality(rdates) > 0
                              THEN liaison_027_rdates_bound(rdates) END) STORED;
ALTER TABLE events ALTER COLUMN rdates_from DROP EXPRESSION;
DROP FUNCTION liaison_027_rdates_bound(timestamp[]);

ALTER TABLE events
    ADD COLUMN first_utc timestamptz NOT NULL
    GENERATED ALWAYS AS (least(start_utc, rdates_from)) STORED;

-- The windows' tests (002's events_span, on start_utc until now), and the
-- order in which /v1/occurrences reads the series that start in its window
-- (no occurrence comes before first_utc). Lists still page by start_utc
-- (events_start).
DROP INDEX events_span;
CREATE INDEX events_span ON events USING gist (tstzrange(first_utc, last_end_utc, '[]'));
CREATE INDEX events_first ON events (first_utc, id);

-- An agreement's last activity (017) counts a linked series from its first
-- instant too: one whose early RDATE has been held is activity.
CREATE OR REPLACE FUNCTION liaison_agreement_last_activity(a agreements, asof date) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT max(x.d)
      FROM (SELECT (h ->> 'on')::date AS d
              FROM jsonb_array_elements(a.history) h
            UNION ALL
            SELECT e.agreement_done_on
              FROM events e
             WHERE e.agreement_id = a.id
               AND e.agreement_part = 'milestone'
               AND e.agreement_done_on IS NOT NULL
               AND (e.status <> 'cancelled' OR e.agreement_suspended)
            UNION ALL
            SELECT least((CASE WHEN e.rrule IS NULL AND cardinality(e.rdates) = 0
                               THEN e.start_utc
                               ELSE least(e.last_end_utc, now()) END
                          AT TIME ZONE a.timezone)::date,
                         asof)
              FROM agreement_links l
              JOIN events e ON e.id = l.event_id
             WHERE l.agreement_id = a.id
               AND l.kind = 'event'
               AND e.status <> 'cancelled'
               AND e.first_utc <= now()
               AND (e.first_utc AT TIME ZONE a.timezone)::date <= asof
            UNION ALL
            SELECT least((least(v.depart AT TIME ZONE v.timezone, now())
                          AT TIME ZONE a.timezone)::date,
                         asof)
              FROM agreement_links l
              JOIN visits v ON v.id = l.visit_id
             WHERE l.agreement_id = a.id
               AND l.kind = 'visit'
               AND v.status IN ('confirmed', 'in_progress', 'completed')
               AND v.arrive AT TIME ZONE v.timezone <= now()
               AND ((v.arrive AT TIME ZONE v.timezone) AT TIME ZONE a.timezone)::date <= asof) x
     WHERE x.d <= asof
$$;

-- A place's conflicts (010's events_place and EV_PLACE_CONFLICTS) span a
-- series from its first instant too: a meeting series' early RDATE at the
-- room a visit takes is a clash. A point in time stays busy at its
-- instant ('[]': its end is its start).
CREATE FUNCTION liaison_busy(first_utc timestamptz, start_utc timestamptz,
                             end_utc timestamptz, last_end_utc timestamptz) RETURNS tstzrange
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT tstzrange(first_utc, last_end_utc,
                           CASE WHEN end_utc = start_utc THEN '[]' ELSE '[)' END) $$;

DROP INDEX events_place;
CREATE INDEX events_place ON events
    USING gist (liaison_place(location),
                liaison_busy(first_utc, start_utc, end_utc, last_end_utc))
    WHERE kind IN ('visit', 'meeting') AND location IS NOT NULL AND status <> 'cancelled';
