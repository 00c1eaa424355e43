-- 010_conflicts.sql: two conflicts that 004's index could not see.
--
-- A place is compared as people type it: "HCMC DOST, Room 1" and
-- "  hcmc dost,  room 1 " are one place (trimmed, each run of white space
-- made one space, lower case).
--
-- An item without an end (start = end: a point in time) is busy at that
-- instant, [start, start]; 004 made it the empty range [start, start),
-- which overlaps nothing, so a meeting starting inside a visit at the same
-- place was not reported. A series of such points spans [first, last].
-- Items with a length keep [start, end): back-to-back meetings do not
-- conflict.
--
-- Both are IMMUTABLE SQL functions so that the GiST index can hold them;
-- EV_CONFLICTS (daemon/event_sql.h) calls them on the same columns, so the
-- planner matches its conditions with the index.

CREATE FUNCTION liaison_place(location text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(btrim(regexp_replace(location, '[[:space:]]+', ' ', 'g'))) $$;

CREATE FUNCTION liaison_busy(start_utc timestamptz, end_utc timestamptz,
                             last_end_utc timestamptz) RETURNS tstzrange
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT tstzrange(start_utc, last_end_utc,
                           CASE WHEN end_utc = start_utc THEN '[]' ELSE '[)' END) $$;

DROP INDEX events_place;

CREATE INDEX events_place ON events
    USING gist (liaison_place(location), liaison_busy(start_utc, end_utc, last_end_utc))
    WHERE kind IN ('visit', 'meeting') AND location IS NOT NULL AND status <> 'cancelled';
