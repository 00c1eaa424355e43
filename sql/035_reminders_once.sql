-- 035_reminders_once.sql: two reminders of one length (-PT1H and -PT60M,
-- -P1D and -PT24H) are refused since this version, and the planner plans
-- one reminder per length of a list stored before; but what it planned
-- before (up to 400 days ahead) would still fire twice. Such events are
-- queued to be planned again. A length is compared as the planner counts
-- it, in exact seconds; a text PostgreSQL cannot read as an interval
-- counts as no length (the daemon checked every one it stored).
CREATE FUNCTION pg_temp.liaison_trigger_seconds(t text) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (CASE WHEN t LIKE '-%' THEN -1 ELSE 1 END)
           * extract(epoch FROM ltrim(t, '+-')::interval);
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

INSERT INTO reminder_queue (event_id)
SELECT e.id
  FROM events e
 WHERE cardinality(e.reminders) > 1
   AND e.status <> 'cancelled'
   AND (SELECT count(s) > count(DISTINCT s)
          FROM (SELECT pg_temp.liaison_trigger_seconds(r) AS s
                  FROM unnest(e.reminders) r) x)
ON CONFLICT (event_id) DO NOTHING;
