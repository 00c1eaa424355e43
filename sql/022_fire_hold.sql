-- 022_fire_hold.sql: reminders fired ahead are claimed as they are written
-- (issue 19), so that at the fire time nothing is left but the sending.
--
-- The fire statement (SCHED_FIRE) writes a reminder's messages up to ten
-- seconds ahead (019); it now also claims them for the instance that
-- fired them ('sending', claimed_by, a lease from the fire time) when that
-- instance may hold them: no other instance holds messages of the
-- endpoint (counted under 021's lock per endpoint, as claims count). The
-- instance keeps them in memory; 100 ms before their time it asks, in one
-- read, which are still its own, and sends those at their time. Before,
-- each was claimed by an UPDATE in the fire instant itself.
--
-- A message held so is what 019 took back as a pending one: anything
-- that could change it deletes it and makes its reminder pending again,
-- to be fired from what is true then. Not in its last 100 ms (the check
-- has been made), as a message claimed 100 ms ahead was not before.
-- Judged by the clock as the row is met, not by now(): a transaction that
-- began before the check and deletes after it would take back a message
-- already sent, and its reminder would be fired again (sent twice).
--
-- A take-back also waits for a fire under way. A fire begun before a
-- change committed builds its messages from the event as it was; the
-- change's DELETE, whose snapshot cannot see those uncommitted messages,
-- found nothing, and its UPDATE saw the reminder still pending: the old
-- message went out (a task marked done reminded all the same). So the
-- take-back first locks the events' pending reminders that a fire could
-- be taking (due within a minute), in id order (two take-backs never wait
-- for each other in a circle): it waits for a fire that holds them, and
-- its DELETE and UPDATE, each with a snapshot of its own, then see the
-- fire's messages. A fire coming second skips the locked reminders (FOR
-- UPDATE SKIP LOCKED) and fires them in a later pass, from what is true
-- then. The fire never waits for the take-back, so they cannot deadlock.

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

-- What an instance holds of an endpoint ahead of its time is not counted
-- against what it may claim of it now (n): its own lanes keep its
-- attempts within the endpoint's places. Every other instance counts it
-- (others), and claims nothing of the endpoint meanwhile.
CREATE OR REPLACE FUNCTION liaison_claim_held(eps uuid[], me uuid)
RETURNS TABLE (endpoint_id uuid, n bigint, others bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ep uuid;
BEGIN
    FOR ep IN SELECT DISTINCT x FROM unnest(eps) x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(19021, hashtext(ep::text));
    END LOOP;
    RETURN QUERY
        SELECT s.endpoint_id,
               count(*) FILTER (WHERE s.claimed_by <> me OR s.next_attempt_at <= now()),
               count(*) FILTER (WHERE s.claimed_by <> me)
          FROM webhook_messages s
         WHERE s.state = 'sending'
           AND s.lease_until >= now()
           AND s.endpoint_id = ANY (eps)
         GROUP BY s.endpoint_id;
END
$$;
