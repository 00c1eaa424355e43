-- 028_unqueue_waits_for_fires.sql: a new or changed endpoint, an org
-- renamed or a visit changed takes back the reminders a fire under way is
-- writing, as a change to an event does since 022.
--
-- liaison_all_unqueue took back the reminders fired ahead, found in its
-- own snapshot; a fire not yet committed had marked its reminders sent
-- and written their messages from the endpoints as they were, out of
-- sight. The take-back found none of them, and an endpoint added in that
-- instant never heard those reminders (one deleted was sent them). It now
-- also names the events whose reminders a fire could be taking (pending,
-- due within the minute), whose locking (022) waits for that fire and
-- then sees its messages.
CREATE OR REPLACE FUNCTION liaison_all_unqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Two selects, each on its partial index (019, 007), not one OR.
    PERFORM liaison_reminders_unqueue(ARRAY(SELECT event_id
                                              FROM reminders
                                             WHERE state = 'sent'
                                               AND fire_at > now()
                                            UNION
                                            SELECT event_id
                                              FROM reminders
                                             WHERE state = 'pending'
                                               AND fire_at <= clock_timestamp()
                                                              + interval '1 minute'));
    RETURN NULL;
END
$$;
