-- 034_orphans_apart.sql: an override that names no occurrence of its
-- series no longer counts as a cancelled occurrence in feeds (its
-- master's EXDATEs) nor in the reminder plan, as /v1/occurrences never
-- applied it: an orphan (012: a change of the series took its occurrence
-- away), and one of the other form, timed for an all-day series or the
-- reverse. Their recurrence ids were written in the series' form, so
-- after a timed series was made all-day, an override of 09:00 on a day
-- became an EXDATE of that whole day in feeds, and that day's reminders
-- were not planned, while the API listed the day as happening.
--
-- The masters that have such overrides are rendered and planned again:
-- their stored VEVENT texts (keyed by the event's version, which this
-- does not change) go, and their reminders are queued for the planner.
WITH apart AS (
    SELECT DISTINCT m.id, cardinality(m.reminders) > 0 AS reminds
      FROM events x
      JOIN events m ON m.id = x.series_id
     WHERE x.orphan_status IS NOT NULL
        OR x.all_day <> m.all_day
), gone AS (
    DELETE FROM vevent_texts t
     USING apart a
     WHERE t.event_id = a.id
)
INSERT INTO reminder_queue (event_id)
SELECT id
  FROM apart
 WHERE reminds
ON CONFLICT (event_id) DO NOTHING;
