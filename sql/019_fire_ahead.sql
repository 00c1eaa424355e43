-- 019_fire_ahead.sql: reminders become messages a few seconds before they
-- fall due (issue 19), so that at the fire time only the sending is left.
--
-- The scheduler fires a reminder up to a few seconds ahead (jobs/planner.c,
-- FIRE_AHEAD_MS): it is marked sent and its messages wait with
-- next_attempt_at at the fire time; no claim takes them before. Until then
-- what they say may still change, so anything that could change them
-- takes them back (liaison_reminders_unqueue): their messages are deleted
-- (never sent, never attempted: nobody outside has seen them) and the
-- reminder is pending again, to be fired again from what is true then. A
-- message a claim already holds stays, and so does its reminder: it falls
-- due in that instant, as it would have been sent before.
--
-- What takes them back: a change to the event (its time, text, status,
-- reminders) or to one of its overrides; and, for every reminder fired
-- ahead, a new or changed endpoint (who hears of what), an org renamed
-- (the body names it) or a visit, its items or its people changed (the
-- "visits" and "people" filters).

-- Reminders fired ahead are found by their fire time, and messages by
-- their reminder (also what the planner's deletes of pending reminders
-- needed: the foreign key's check walked every message without it).
CREATE INDEX reminders_sent_ahead
    ON reminders (fire_at)
 WHERE state = 'sent';
CREATE INDEX webhook_messages_reminder
    ON webhook_messages (reminder_id)
 WHERE reminder_id IS NOT NULL;

-- Takes back the reminders of events evs fired ahead. Two statements: the
-- second's snapshot sees what a claim the first waited for has taken, and
-- keeps those reminders sent.
CREATE FUNCTION liaison_reminders_unqueue(evs uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM webhook_messages m
     USING reminders r
     WHERE r.event_id = ANY (evs)
       AND r.state = 'sent'
       AND r.fire_at > now()
       AND m.reminder_id = r.id
       AND m.attempts = 0
       AND m.state IN ('pending', 'cancelled');
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

CREATE FUNCTION liaison_event_unqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM liaison_reminders_unqueue(ARRAY[NEW.id]);
    END IF;
    IF NEW.series_id IS NOT NULL THEN
        PERFORM liaison_reminders_unqueue(ARRAY[NEW.series_id]);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_unqueue AFTER INSERT OR UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION liaison_event_unqueue();

-- Row triggers, not statement ones: a statement trigger runs even when
-- no row changed, and the scheduler's reports write webhook_endpoints in
-- every batch (mostly no row).
CREATE FUNCTION liaison_all_unqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liaison_reminders_unqueue(ARRAY(SELECT DISTINCT event_id
                                              FROM reminders
                                             WHERE state = 'sent'
                                               AND fire_at > now()));
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_endpoints_added_unqueue AFTER INSERT ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION liaison_all_unqueue();
CREATE TRIGGER webhook_endpoints_unqueue AFTER UPDATE ON webhook_endpoints
    FOR EACH ROW
    WHEN ((OLD.org_id, OLD.types, OLD.filter, OLD.enabled, OLD.deleted_at)
          IS DISTINCT FROM (NEW.org_id, NEW.types, NEW.filter, NEW.enabled, NEW.deleted_at))
    EXECUTE FUNCTION liaison_all_unqueue();
CREATE TRIGGER orgs_unqueue AFTER UPDATE ON orgs
    FOR EACH ROW
    WHEN (OLD.slug IS DISTINCT FROM NEW.slug)
    EXECUTE FUNCTION liaison_all_unqueue();
CREATE TRIGGER visits_unqueue AFTER UPDATE ON visits
    FOR EACH ROW EXECUTE FUNCTION liaison_all_unqueue();
CREATE TRIGGER visit_items_unqueue AFTER INSERT OR UPDATE OR DELETE ON visit_items
    FOR EACH ROW EXECUTE FUNCTION liaison_all_unqueue();
CREATE TRIGGER visit_delegates_unqueue AFTER INSERT OR UPDATE OR DELETE ON visit_delegates
    FOR EACH ROW EXECUTE FUNCTION liaison_all_unqueue();
