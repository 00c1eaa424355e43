-- 031_instants_repair.sql: rows whose instants were computed in SQL are
-- computed again by the daemon, once.
--
-- Before 029 and 030, PostgreSQL's AT TIME ZONE wrote the instants of
-- overrides that followed their series (012) and of protocol deadlines
-- (016), 027 gave rows with RDATEs a bound, not the earliest RDATE's
-- instant, and an all-day series' last day was as long as its first
-- (23 or 25 hours where that one saw the clocks change). Such a row may
-- sit an hour (027: up to a day) off what its calendar shows, in lists,
-- windows, free/busy and conflicts, until it is written again. The rows
-- that may are listed here; the scheduler (jobs/repair.c) computes their
-- instants as every write does (event_times), writes those that differ
-- without a new version (the calendar shows the same wall times) and
-- takes them off the list.
-- Rows written since are the daemon's own and need nothing.

CREATE TABLE events_instants_due (
    event_id uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE
);

INSERT INTO events_instants_due (event_id)
SELECT id
  FROM events
 WHERE series_id IS NOT NULL
    OR (kind = 'deadline' AND visit_id IS NOT NULL)
    OR cardinality(rdates) > 0
    OR (all_day AND rrule IS NOT NULL AND last_end_utc <> 'infinity');
