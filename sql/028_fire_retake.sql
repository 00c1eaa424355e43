-- 028_fire_retake.sql: a change to who hears of reminders, made while a
-- fire is under way, is taken back after the fire commits.
--
-- A new, changed or deleted endpoint, an org renamed, a visit, its items
-- or its people changed (019's liaison_all_unqueue) take back every
-- reminder fired ahead, so that it is fired again from what is true then.
-- A fire still under way is not among them: its reminders are not yet
-- 'sent' in the change's snapshot, and the fire's own snapshot does not
-- see the change. An endpoint added in that instant never heard the
-- reminder; one deleted in it was sent it. The change cannot wait for
-- the fire first without a lock taken before every row trigger of five
-- tables (session 17 tried two designs; both deadlocked), so the fire's
-- side looks after its commit instead:
--   - a fire records its snapshot with each reminder it fires (fired_in);
--   - such a change tells its transaction id on liaison_retake, which
--     every scheduler hears once the change commits;
--   - a scheduler that hears it, and again after each of its fires that
--     could have been under way then, takes back the reminders fired
--     ahead by a fire whose snapshot did not see that transaction
--     (jobs/retake.c, SCHED_RETAKE). Whichever of the change and the fire
--     commits last, a take-back runs after both.

ALTER TABLE reminders ADD COLUMN fired_in pg_snapshot;

CREATE OR REPLACE FUNCTION liaison_all_unqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liaison_reminders_unqueue(ARRAY(SELECT DISTINCT event_id
                                              FROM reminders
                                             WHERE state = 'sent'
                                               AND fire_at > now()));
    -- One notification per transaction: PostgreSQL folds equal ones.
    PERFORM pg_notify('liaison_retake', pg_current_xact_id()::text);
    RETURN NULL;
END
$$;
