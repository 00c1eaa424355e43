-- 026_orphan_of.sql: a single event an import made of an override whose
-- series it did not know (an invitation to one occurrence) names that
-- series' UID, so that the file that later gives the series takes it over
-- (api/import.c). Until then the day showed twice: the series'
-- occurrence and the single event, and so did every feed.
--
-- When a file writes the series, its single events of this kind become
-- single events made of one of its overrides (split_from, sql/024): the
-- file is the truth of the series it gives, overrides included, so one it
-- does not give is cancelled, and one it gives is written as the override
-- of that occurrence (or, if it can be none, as that same single event).
ALTER TABLE events ADD COLUMN orphan_of text;
CREATE INDEX events_orphan_of ON events (org_id, orphan_of) WHERE orphan_of IS NOT NULL;
