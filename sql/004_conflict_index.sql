-- 004_conflict_index.sql: finding visits and meetings at the same place and
-- time without scanning every event. btree_gist (in PostgreSQL's contrib,
-- a trusted extension) lets one GiST index hold the place and the span.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE INDEX events_place ON events
    USING gist (lower(location), tstzrange(start_utc, last_end_utc, '[)'))
    WHERE kind IN ('visit', 'meeting') AND location IS NOT NULL AND status <> 'cancelled';
