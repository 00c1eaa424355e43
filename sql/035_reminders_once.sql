-- 035_reminders_once.sql: two reminders of one length (-PT1H and -PT60M,
-- -P1D and -PT24H) are refused since this version, and the planner plans
-- one reminder per length of a list stored before; but what it planned
-- before (up to 400 days ahead) would still fire twice, and their stored
-- VEVENTs hold a VALARM for each. Such events are queued to be planned
-- again, and their stored texts go (rendered again, one VALARM a length).
-- A length is compared as the planner counts it, in exact seconds; a text
-- PostgreSQL cannot read as an interval counts as no length (the daemon
-- checked every one it stored).
CREATE FUNCTION pg_temp.liaison_trigger_seconds(t text) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (CASE WHEN t LIKE '-%' THEN -1 ELSE 1 END)
           * extract(epoch FROM ltrim(t, '+-')::interval);
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

WITH twice AS (
    SELECT e.id, e.status
      FROM events e
     WHERE cardinality(e.reminders) > 1
       AND (SELECT count(s) > count(DISTINCT s)
              FROM (SELECT pg_temp.liaison_trigger_seconds(r) AS s
                      FROM unnest(e.reminders) r) x)
), gone AS (
    DELETE FROM vevent_texts t
     USING twice w
     WHERE t.event_id = w.id
)
INSERT INTO reminder_queue (event_id)
SELECT id
  FROM twice
 WHERE status <> 'cancelled'
ON CONFLICT (event_id) DO NOTHING;
