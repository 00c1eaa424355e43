-- 011_sched_hardening.sql: one rule for what a webhook endpoint may be
-- told, used by every path that writes or sends a message; and reminder
-- plans that fail are parked instead of holding the head of the queue.

-- Whether endpoint w may be told about event e now: its org may see e
-- (the API's rule: a network event, its own, or one naming it among the
-- partners) and its filter passes e. The triggers that write change
-- notifications, the statement that fires reminders, and the claim that
-- builds a message's body and sends it all ask this, so a message never
-- carries what its endpoint's org may not see when it is sent.
CREATE FUNCTION liaison_endpoint_sees_event(w webhook_endpoints, e events) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (e.visibility = 'network'
            OR e.org_id = w.org_id
            OR (SELECT o.slug FROM orgs o WHERE o.id = w.org_id) = ANY (e.partners))
       AND liaison_filter_matches(w.filter, e)
$$;

-- The same for an agreement: "parties" stand for "partners"; of a filter
-- only "orgs" (the owner) and "partners" (the parties) apply.
CREATE FUNCTION liaison_endpoint_sees_agreement(w webhook_endpoints, a agreements)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (a.visibility = 'network'
            OR a.org_id = w.org_id
            OR (SELECT o.slug FROM orgs o WHERE o.id = w.org_id) = ANY (a.parties))
       AND (NOT w.filter ? 'orgs'
            OR (SELECT o.slug FROM orgs o WHERE o.id = a.org_id)
               IN (SELECT jsonb_array_elements_text(w.filter -> 'orgs')))
       AND (NOT w.filter ? 'partners'
            OR a.parties && ARRAY(SELECT jsonb_array_elements_text(w.filter -> 'partners')))
$$;

-- Live endpoints subscribed to type t that may be told about e (007's
-- signature, so 009's liaison_event_changed() and SCHED_FIRE use it as
-- they are).
CREATE OR REPLACE FUNCTION liaison_event_endpoints(e events, t text) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT w.id
      FROM webhook_endpoints w
     WHERE w.enabled
       AND w.deleted_at IS NULL
       AND t = ANY (w.types)
       AND liaison_endpoint_sees_event(w, e)
$$;

CREATE FUNCTION liaison_agreement_endpoints(a agreements, t text) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT w.id
      FROM webhook_endpoints w
     WHERE w.enabled
       AND w.deleted_at IS NULL
       AND t = ANY (w.types)
       AND liaison_endpoint_sees_agreement(w, a)
$$;

-- 007's agreement trigger, with the rule above instead of its own copy.
CREATE OR REPLACE FUNCTION liaison_agreement_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := CASE TG_OP WHEN 'INSERT' THEN 'agreement.created' ELSE 'agreement.updated' END;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_messages (id, endpoint_id, type, agreement_id)
        SELECT liaison_message_id(), w, t, NEW.id
          FROM liaison_agreement_endpoints(NEW, t) w;
    IF FOUND THEN
        PERFORM pg_notify('liaison_messages', '');
    END IF;
    RETURN NULL;
END $$;

-- A plan that fails (a rule libical cannot step, a stored value that no
-- longer parses) is parked: queued_at moves forward by a growing delay,
-- and the planner only takes rows whose queued_at has come. A change to
-- the event queues it at once again (the trigger sets queued_at = now()).
ALTER TABLE reminder_queue ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE reminder_queue ADD COLUMN last_error text;
