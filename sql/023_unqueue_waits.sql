-- 023_unqueue_waits.sql: a take-back waits for a fire under way.
--
-- A change that takes back reminders fired ahead (019, 022) and the fire
-- statement that fires them could miss each other: the fire, begun before
-- the change committed, built its messages from the event as it was; the
-- change's DELETE, whose snapshot did not see those uncommitted messages,
-- found nothing to take back, and its UPDATE saw the reminder still
-- pending. The message went out for the old event (a task marked done
-- reminded all the same: test_a_done_task_is_reminded_no_more failed so
-- under load). Now the take-back first locks the event's pending
-- reminders that a fire could be taking (due within the fire-ahead
-- window): it waits for a fire that holds them, and the statements after
-- it, each with a snapshot of its own, see its messages. A fire that
-- comes second skips the locked reminders (FOR UPDATE SKIP LOCKED) and
-- takes them in a later pass, from what is true then. Locked in id order,
-- so that two take-backs over the same events never wait for each other
-- in a circle.

CREATE OR REPLACE FUNCTION liaison_reminders_unqueue(evs uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM 1
       FROM reminders r
      WHERE r.event_id = ANY (evs)
        AND r.state = 'pending'
        AND r.fire_at <= clock_timestamp() + interval '1 minute'
      ORDER BY r.id
        FOR UPDATE;
    DELETE FROM webhook_messages m
     USING reminders r
     WHERE r.event_id = ANY (evs)
       AND r.state = 'sent'
       AND r.fire_at > now()
       AND m.reminder_id = r.id
       AND m.attempts = 0
       AND (m.state IN ('pending', 'cancelled')
            OR (m.state = 'sending'
                AND m.next_attempt_at > clock_timestamp() + interval '100 milliseconds'));
    UPDATE reminders r
       SET state = 'pending'
     WHERE r.event_id = ANY (evs)
       AND r.state = 'sent'
       AND r.fire_at > now()
       AND NOT EXISTS (SELECT 1
                         FROM webhook_messages m
                        WHERE m.reminder_id = r.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('liaison_reminders', '');
    END IF;
END
$$;
