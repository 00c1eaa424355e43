-- 009_series_truth.sql: one model of a series (a master, its overrides,
-- its exdates) that every writer keeps, and what feeds need to tell the
-- same truth as the API at every age of the data.

-- cancelled_at follows status on every write, whoever writes (the API, an
-- import, an agreement, a cascade below): an INSERT of a cancelled event
-- used to leave it NULL, and feeds, which keep cancelled items for 30
-- days after it, never showed such an item at all.
CREATE FUNCTION liaison_event_cancelled_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'cancelled' THEN
        NEW.cancelled_at := coalesce(NEW.cancelled_at, now());
    ELSE
        NEW.cancelled_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER events_cancelled_at BEFORE INSERT OR UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION liaison_event_cancelled_at();

UPDATE events
   SET cancelled_at = updated_at
 WHERE status = 'cancelled'
   AND cancelled_at IS NULL;

-- An override cancelled because its series was: the status it had, so that
-- restoring the series restores it (and only it: an occurrence cancelled
-- on its own stays cancelled).
ALTER TABLE events ADD COLUMN cascade_status text
    CHECK (cascade_status IN ('confirmed', 'tentative'));

-- A master's feed text holds its cancelled occurrences as EXDATEs, so it
-- changes when an override is cancelled or restored, though the master's
-- own row (its version, ETag and webhooks) does not: series_sequence
-- counts those changes (it goes into the rendered SEQUENCE and the stamp
-- of the stored VEVENT), series_changed_at is when the last one was made
-- (the rendered DTSTAMP and LAST-MODIFIED).
ALTER TABLE events ADD COLUMN series_sequence integer NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN series_changed_at timestamptz;

CREATE FUNCTION liaison_series_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.series_id IS NOT NULL THEN
        -- An override: its master's occurrence set changes when it is
        -- cancelled or restored.
        IF (TG_OP = 'INSERT' AND NEW.status = 'cancelled')
           OR (TG_OP = 'UPDATE' AND (NEW.status = 'cancelled') <> (OLD.status = 'cancelled')) THEN
            UPDATE events
               SET series_sequence = series_sequence + 1,
                   series_changed_at = now()
             WHERE id = NEW.series_id;
        END IF;
        -- The series' reminders of a cancelled occurrence that already
        -- fell due and wait to be sent are not sent.
        IF NEW.status = 'cancelled' THEN
            UPDATE webhook_messages m
               SET state = 'cancelled',
                   finished_at = now()
              FROM reminders r
             WHERE m.event_id = NEW.series_id
               AND m.reminder_id = r.id
               AND m.state = 'pending'
               AND r.event_id = NEW.series_id
               AND r.start_local = to_char(NEW.recurrence_id,
                       CASE WHEN NEW.all_day THEN 'YYYY-MM-DD' ELSE 'YYYY-MM-DD"T"HH24:MI:SS' END);
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
        -- A master cancelled: its overrides with it.
        UPDATE events
           SET cascade_status = status,
               status = 'cancelled',
               version = version + 1,
               sequence = sequence + 1,
               updated_at = now()
         WHERE series_id = NEW.id
           AND status <> 'cancelled';
    ELSIF TG_OP = 'UPDATE' AND NEW.status <> 'cancelled' AND OLD.status = 'cancelled' THEN
        -- A master restored: the overrides its cancellation took.
        UPDATE events
           SET status = cascade_status,
               cascade_status = NULL,
               version = version + 1,
               sequence = sequence + 1,
               updated_at = now()
         WHERE series_id = NEW.id
           AND cascade_status IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER events_series AFTER INSERT OR UPDATE OF status ON events
    FOR EACH ROW EXECUTE FUNCTION liaison_series_changed();

-- A feed's window: items from past_days before now onward, up to
-- future_days ahead (NULL: no limit).
ALTER TABLE feeds ADD COLUMN past_days integer NOT NULL DEFAULT 365
    CHECK (past_days BETWEEN 0 AND 3660);
ALTER TABLE feeds ADD COLUMN future_days integer
    CHECK (future_days BETWEEN 1 AND 3660);

-- What each feed last rendered to: its digest, its size, and when its
-- content last changed (Last-Modified; If-Modified-Since is answered from
-- it). A feed's bytes change when an item leaves it (made private, aged
-- out of the window, cancelled 30 days ago) as well as when one changes,
-- and no item's own timestamp tells the first kind: the digest does. No
-- trigger: renderers write it, and a write must not make every instance
-- render again.
CREATE TABLE feed_state (
    feed_id      uuid PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    digest       text NOT NULL,
    size_bytes   bigint NOT NULL,
    events       integer NOT NULL,
    changed_at   timestamptz NOT NULL,
    rendered_at  timestamptz NOT NULL
);

-- Change notifications as 007 wrote them, but for an override written
-- already cancelled (one occurrence cancelled): that is event.cancelled,
-- not the creation of an event.
CREATE OR REPLACE FUNCTION liaison_event_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    -- Plan reminders again: this event's, and its series' (an override
    -- takes an occurrence away from the series).
    IF cardinality(NEW.reminders) > 0
       OR (TG_OP = 'UPDATE' AND cardinality(OLD.reminders) > 0) THEN
        INSERT INTO reminder_queue (event_id) VALUES (NEW.id)
            ON CONFLICT (event_id) DO UPDATE
            SET ticket = nextval('reminder_queue_ticket_seq'), queued_at = now();
        PERFORM pg_notify('liaison_reminders', '');
    END IF;
    IF NEW.series_id IS NOT NULL THEN
        INSERT INTO reminder_queue (event_id)
            SELECT s.id FROM events s WHERE s.id = NEW.series_id AND cardinality(s.reminders) > 0
            ON CONFLICT (event_id) DO UPDATE
            SET ticket = nextval('reminder_queue_ticket_seq'), queued_at = now();
        PERFORM pg_notify('liaison_reminders', '');
    END IF;
    IF TG_OP = 'INSERT' AND NEW.status = 'cancelled' AND NEW.series_id IS NOT NULL THEN
        t := 'event.cancelled';
    ELSIF TG_OP = 'INSERT' THEN
        t := 'event.created';
    ELSIF NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
        t := 'event.cancelled';
    ELSE
        t := 'event.updated';
    END IF;
    IF NEW.status = 'cancelled' THEN
        -- Reminders of a cancelled event are not sent, even those queued.
        UPDATE webhook_messages SET state = 'cancelled', finished_at = now()
         WHERE event_id = NEW.id AND type = 'reminder.due' AND state = 'pending';
    END IF;
    INSERT INTO webhook_messages (id, endpoint_id, type, event_id)
        SELECT liaison_message_id(), w, t, NEW.id FROM liaison_event_endpoints(NEW, t) w;
    IF FOUND THEN
        PERFORM pg_notify('liaison_messages', '');
    END IF;
    RETURN NULL;
END $$;
