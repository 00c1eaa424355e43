-- 007_webhooks.sql: webhook endpoints, the reminder schedule, and the
-- outbox of messages with their delivery attempts.
--
-- Flow: a change to an event queues it in reminder_queue (trigger below);
-- a scheduler plans its reminders (fire times of each occurrence, computed
-- in C with libical) into reminders; due reminders become messages for
-- every matching endpoint in the statement that marks them sent; senders
-- claim messages with FOR UPDATE SKIP LOCKED and a lease, and log each
-- attempt. Change notifications are written by the same trigger, in the
-- writer's transaction; their body is built when first claimed.

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL REFERENCES orgs (id),
    url              text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description      text CHECK (length(description) <= 500),
    types            text[] NOT NULL,
    filter           jsonb NOT NULL DEFAULT '{}',
    secret           text NOT NULL,
    previous_secret  text,            -- still signs until previous_until (rotation)
    previous_until   timestamptz,
    rate_limit       double precision CHECK (rate_limit > 0),  -- messages per second
    enabled          boolean NOT NULL DEFAULT true,
    disabled_reason  text,
    disabled_at      timestamptz,
    failing_since    timestamptz,     -- first failure since the last success
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id) WHERE deleted_at IS NULL;
CREATE INDEX webhook_endpoints_live ON webhook_endpoints (org_id)
    WHERE enabled AND deleted_at IS NULL;

-- Events whose reminders must be planned again. A planner removes the row
-- only if its ticket is unchanged, so a change made while it was planning
-- is planned again.
CREATE TABLE reminder_queue (
    event_id   uuid PRIMARY KEY REFERENCES events (id),
    ticket     bigserial NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reminder_queue_order ON reminder_queue (queued_at);

-- One row per reminder of one occurrence. Sent and missed rows stay, so
-- that planning again never sends a reminder twice.
CREATE TABLE reminders (
    id                bigserial PRIMARY KEY,
    event_id          uuid NOT NULL REFERENCES events (id),
    occurrence_start  timestamptz NOT NULL,
    occurrence_end    timestamptz NOT NULL,
    start_local       text NOT NULL,  -- wall times as the API writes them
    end_local         text,
    trigger           text NOT NULL,
    fire_at           timestamptz NOT NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sent', 'missed')),
    UNIQUE (event_id, occurrence_start, trigger)
);
CREATE INDEX reminders_due ON reminders (fire_at) WHERE state = 'pending';

-- How far an open-ended series has been planned; it is queued again
-- before that horizon comes near.
CREATE TABLE reminder_plans (
    event_id       uuid PRIMARY KEY REFERENCES events (id),
    planned_until  timestamptz
);
CREATE INDEX reminder_plans_until ON reminder_plans (planned_until)
    WHERE planned_until IS NOT NULL;

CREATE TABLE webhook_messages (
    id               text PRIMARY KEY,   -- webhook-id: the same on every attempt
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
    type             text NOT NULL,
    event_id         uuid REFERENCES events (id),
    agreement_id     uuid REFERENCES agreements (id),
    reminder_id      bigint REFERENCES reminders (id),
    body             text,               -- NULL until first claimed (change notifications)
    created_at       timestamptz NOT NULL DEFAULT now(),
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    claimed_by       uuid,
    finished_at      timestamptz,
    last_status      integer,
    last_error       text
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_messages_lease ON webhook_messages (lease_until) WHERE state = 'sending';
CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, created_at, id);
CREATE INDEX webhook_messages_event ON webhook_messages (event_id) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    id            bigserial PRIMARY KEY,
    message_id    text NOT NULL REFERENCES webhook_messages (id),
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    duration_ms   integer NOT NULL,
    error         text,
    response      text                 -- the answer's first 64 KiB
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);

CREATE FUNCTION liaison_message_id() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT 'msg_' || replace(gen_random_uuid()::text, '-', '')
$$;

-- Whether event e passes a webhook or feed filter (the JSON form of the
-- list filters; daemon/filters.c has the same rules for lists and feeds).
CREATE FUNCTION liaison_filter_matches(f jsonb, e events) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (NOT f ? 'kinds' OR e.kind IN (SELECT jsonb_array_elements_text(f -> 'kinds')))
       AND (NOT f ? 'orgs' OR (SELECT slug FROM orgs WHERE id = e.org_id)
                              IN (SELECT jsonb_array_elements_text(f -> 'orgs')))
       AND (NOT f ? 'partners'
            OR e.partners && ARRAY(SELECT jsonb_array_elements_text(f -> 'partners')))
       AND (NOT f ? 'tags' OR e.tags && ARRAY(SELECT jsonb_array_elements_text(f -> 'tags')))
       AND (NOT f ? 'cities' OR lower(e.city)
                                IN (SELECT lower(jsonb_array_elements_text(f -> 'cities'))))
       AND (NOT f ? 'countries'
            OR e.country IN (SELECT jsonb_array_elements_text(f -> 'countries')))
$$;

-- Endpoints of orgs that may see e, subscribed to type t, whose filter
-- passes e.
CREATE FUNCTION liaison_event_endpoints(e events, t text) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT w.id FROM webhook_endpoints w JOIN orgs wo ON wo.id = w.org_id
     WHERE w.enabled AND w.deleted_at IS NULL AND t = ANY (w.types)
       AND (e.visibility = 'network' OR e.org_id = w.org_id OR wo.slug = ANY (e.partners))
       AND liaison_filter_matches(w.filter, e)
$$;

CREATE FUNCTION liaison_event_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF TG_OP = 'INSERT' THEN
        t := 'event.created';
    ELSIF NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
        t := 'event.cancelled';
        -- Reminders of a cancelled event are not sent, even those queued.
        UPDATE webhook_messages SET state = 'cancelled', finished_at = now()
         WHERE event_id = NEW.id AND type = 'reminder.due' AND state = 'pending';
    ELSE
        t := 'event.updated';
    END IF;
    INSERT INTO webhook_messages (id, endpoint_id, type, event_id)
        SELECT liaison_message_id(), w, t, NEW.id FROM liaison_event_endpoints(NEW, t) w;
    IF FOUND THEN
        PERFORM pg_notify('liaison_messages', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER events_webhooks AFTER INSERT OR UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION liaison_event_changed();

-- Agreements notify orgs that may see them; of a filter only "orgs" (the
-- owner) and "partners" (the parties) apply to them.
CREATE FUNCTION liaison_agreement_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := CASE TG_OP WHEN 'INSERT' THEN 'agreement.created' ELSE 'agreement.updated' END;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_messages (id, endpoint_id, type, agreement_id)
        SELECT liaison_message_id(), w.id, t, NEW.id
          FROM webhook_endpoints w JOIN orgs wo ON wo.id = w.org_id
         WHERE w.enabled AND w.deleted_at IS NULL AND t = ANY (w.types)
           AND (NEW.visibility = 'network' OR NEW.org_id = w.org_id OR wo.slug = ANY (NEW.parties))
           AND (NOT w.filter ? 'orgs' OR (SELECT slug FROM orgs WHERE id = NEW.org_id)
                                        IN (SELECT jsonb_array_elements_text(w.filter -> 'orgs')))
           AND (NOT w.filter ? 'partners' OR NEW.parties
                && ARRAY(SELECT jsonb_array_elements_text(w.filter -> 'partners')));
    IF FOUND THEN
        PERFORM pg_notify('liaison_messages', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER agreements_webhooks AFTER INSERT OR UPDATE ON agreements
    FOR EACH ROW EXECUTE FUNCTION liaison_agreement_changed();

-- Events that had reminders before this migration get planned.
INSERT INTO reminder_queue (event_id)
    SELECT id FROM events WHERE cardinality(reminders) > 0 AND status <> 'cancelled';
