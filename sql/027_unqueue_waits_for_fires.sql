-- 027_unqueue_waits_for_fires.sql: a new or changed endpoint, an org
-- renamed or a visit changed takes back the reminders a fire under way is
-- writing, as a change to an event does since 022.
--
-- liaison_all_unqueue took back the reminders fired ahead that its
-- snapshot showed. A fire not yet committed had marked its reminders sent
-- and written their messages from the endpoints as they were, out of
-- sight: the take-back found none of them, and an endpoint added in that
-- instant never heard those reminders (one deleted was still sent them).
--
-- A fire (SCHED_FIRE) now holds this lock shared while it runs, and fires
-- nothing when it cannot have it at once. The take-back takes it whole
-- first: it waits for the fires under way, whose reminders its statements,
-- each with a snapshot of its own, then see sent; and no fire starts until
-- the change commits. One lock, not a lock per reminder: such changes are
-- rare, a fire is short, and rows locked in another order than the
-- planner's writes could deadlock with it.
CREATE OR REPLACE FUNCTION liaison_all_unqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(19027, 0);
    PERFORM liaison_reminders_unqueue(ARRAY(SELECT DISTINCT event_id
                                              FROM reminders
                                             WHERE state = 'sent'
                                               AND fire_at > now()));
    RETURN NULL;
END
$$;
