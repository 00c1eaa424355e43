-- 017_agreement_stages.sql: agreements that lead somewhere (issue 17).
--
-- The stages stay SPEC's (003's check: intent, drafting, signed, renewal,
-- expired, terminated); the issue's names for them are taken as input
-- only (api/agreement_stages.c). Each change of stage is kept in history
-- ([{stage, on, note}], dates in the agreement's zone), and the database
-- keeps history's last stage equal to stage for every writer. An
-- agreement links to the events that carry it out and the visits that
-- prepared it (agreement_links: one row per link and one column per
-- linked table). A milestone can be done (events.agreement_done_on);
-- termination cancels an agreement's future dates and marks them
-- (events.agreement_suspended) so that leaving 'terminated' brings them
-- back. An org's follow-up template makes milestones at signature.
-- Dormancy and expiry are worked out by the functions below, once, for
-- the API, the report and the scheduler; the scheduler's notices are
-- written once per dormancy and per expiry date (agreement_notices),
-- whichever instance gets there.

-- ---- stages -------------------------------------------------------------------

ALTER TABLE agreements ADD COLUMN history jsonb NOT NULL DEFAULT '[]';
ALTER TABLE agreements ADD COLUMN dormant_after_days integer NOT NULL DEFAULT 180
    CHECK (dormant_after_days BETWEEN 1 AND 3650);
ALTER TABLE agreements ADD COLUMN expiring_notice_days integer NOT NULL DEFAULT 90
    CHECK (expiring_notice_days BETWEEN 1 AND 3650);

-- History for the rows there are, from what they hold: the signature on
-- signed_on, the stage reached on the day it was last changed (or on its
-- expiry), never after today. Only history is written: stage, version
-- and updated_at stay, so the VEVENTs of their dates (which show the
-- stage, and whose SEQUENCE and DTSTAMP come from version and updated_at)
-- keep their bytes, and no webhook message is queued: the agreement did
-- not change.
ALTER TABLE agreements DISABLE TRIGGER agreements_webhooks;
WITH d AS (
    SELECT a.id,
           a.stage,
           (now() AT TIME ZONE a.timezone)::date AS today,
           (a.created_at AT TIME ZONE a.timezone)::date AS created,
           (a.updated_at AT TIME ZONE a.timezone)::date AS updated,
           a.signed_on,
           a.expires_on,
           -- signed before it reached this stage
           a.stage IN ('renewal', 'expired', 'terminated')
               AND (a.signed_on IS NOT NULL OR a.stage = 'renewal') AS was_signed
      FROM agreements a),
s AS (
    SELECT d.*,
           least(coalesce(d.signed_on, d.created), d.today) AS signed
      FROM d),
h AS (
    SELECT s.id,
           CASE WHEN s.stage IN ('intent', 'drafting') THEN
                     jsonb_build_array(jsonb_build_object(
                         'stage', s.stage, 'on', least(s.created, s.signed),
                         'note', 'recorded at the upgrade to stage history'))
                WHEN s.stage = 'signed' THEN
                     jsonb_build_array(jsonb_build_object(
                         'stage', 'signed', 'on', s.signed,
                         'note', 'recorded at the upgrade to stage history'))
                ELSE
                     CASE WHEN s.was_signed THEN
                               jsonb_build_array(jsonb_build_object(
                                   'stage', 'signed', 'on', s.signed,
                                   'note', 'recorded at the upgrade to stage history'))
                          ELSE '[]'::jsonb END
                     || jsonb_build_array(jsonb_build_object(
                         'stage', s.stage,
                         'on', greatest(CASE WHEN s.was_signed THEN s.signed END,
                                        least(CASE WHEN s.stage = 'expired'
                                                   THEN coalesce(s.expires_on, s.updated)
                                                   ELSE s.updated END,
                                              s.today)),
                         'note', 'recorded at the upgrade to stage history'))
           END AS history
      FROM s)
UPDATE agreements a
   SET history = h.history
  FROM h
 WHERE h.id = a.id;
ALTER TABLE agreements ENABLE TRIGGER agreements_webhooks;

ALTER TABLE agreements ADD CONSTRAINT agreements_history_check
    CHECK (jsonb_typeof(history) = 'array'
           AND jsonb_array_length(history) BETWEEN 1 AND 100
           AND history -> -1 ->> 'stage' = stage);

-- Every writer keeps history: a row written without one starts it at its
-- stage today, and a stage changed without a history entry gets one.
CREATE FUNCTION liaison_agreement_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE NEW.timezone)::date;
BEGIN
    IF jsonb_typeof(NEW.history) = 'array' AND jsonb_array_length(NEW.history) = 0 THEN
        NEW.history := jsonb_build_array(jsonb_build_object('stage', NEW.stage, 'on', today));
    ELSIF jsonb_typeof(NEW.history) = 'array'
          AND NEW.history -> -1 ->> 'stage' IS DISTINCT FROM NEW.stage THEN
        NEW.history := NEW.history || jsonb_build_object(
            'stage', NEW.stage,
            'on', greatest(today, (NEW.history -> -1 ->> 'on')::date));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER agreements_history BEFORE INSERT OR UPDATE OF stage, history ON agreements
    FOR EACH ROW EXECUTE FUNCTION liaison_agreement_history();

-- ---- dates: done milestones, dates a termination took ----------------------------

ALTER TABLE events ADD COLUMN agreement_done_on date;
ALTER TABLE events ADD COLUMN agreement_suspended boolean NOT NULL DEFAULT false;
ALTER TABLE events ADD CONSTRAINT events_agreement_done
    CHECK (agreement_done_on IS NULL OR agreement_part = 'milestone');
ALTER TABLE events ADD CONSTRAINT events_agreement_suspended
    CHECK (NOT agreement_suspended OR agreement_id IS NOT NULL);

-- ---- links ------------------------------------------------------------------------

-- A link names an event that carries the agreement out (kind 'event') or a
-- visit that prepared it (kind 'visit', 013's visits).
CREATE TABLE agreement_links (
    agreement_id  uuid NOT NULL REFERENCES agreements (id),
    kind          text NOT NULL CHECK (kind IN ('event', 'visit')),
    event_id      uuid REFERENCES events (id),
    visit_id      uuid REFERENCES visits (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agreement_links_target CHECK ((kind = 'event') = (event_id IS NOT NULL)
                                             AND (kind = 'visit') = (visit_id IS NOT NULL)),
    CONSTRAINT agreement_links_event UNIQUE (agreement_id, kind, event_id),
    CONSTRAINT agreement_links_visit UNIQUE (agreement_id, kind, visit_id)
);
CREATE INDEX agreement_links_by_event ON agreement_links (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX agreement_links_by_visit ON agreement_links (visit_id) WHERE visit_id IS NOT NULL;

-- ---- follow-through ----------------------------------------------------------------

-- An org's follow-up template: [{title, days, reminders}], milestones
-- `days` after the signature (api/follow_up.c checks the steps).
CREATE TABLE agreement_follow_ups (
    org_id      uuid PRIMARY KEY REFERENCES orgs (id),
    steps       jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array'),
    version     integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What the scheduler has announced: one agreement.dormant per dormancy
-- (key: the last activity before it) and one agreement.expiring per expiry
-- date (key: that date). The key is what makes it once: an instance that
-- finds the row there sends nothing.
CREATE TABLE agreement_notices (
    agreement_id  uuid NOT NULL REFERENCES agreements (id),
    type          text NOT NULL CHECK (type IN ('agreement.dormant', 'agreement.expiring')),
    key           date NOT NULL,
    fired_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agreement_id, type, key)
);

-- A create retried with the same Idempotency-Key returns the first answer
-- (002's idempotency_keys is for events).
CREATE TABLE agreement_idempotency_keys (
    org_id        uuid NOT NULL REFERENCES orgs (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  text NOT NULL,
    agreement_id  uuid NOT NULL REFERENCES agreements (id),
    response      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);

-- The stages in which an agreement is still going somewhere (up for
-- renewal is still in force): it can be dormant or expiring only then.
CREATE FUNCTION liaison_agreement_live(stage text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT stage IN ('intent', 'drafting', 'signed', 'renewal')
$$;

-- Today in the agreement's zone.
CREATE FUNCTION liaison_agreement_today(a agreements) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE a.timezone)::date
$$;

-- Its stage on day asof: the last history entry on or before it.
CREATE FUNCTION liaison_agreement_stage_on(a agreements, asof date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT x.h ->> 'stage'
      FROM jsonb_array_elements(a.history) WITH ORDINALITY AS x(h, n)
     WHERE (x.h ->> 'on')::date <= asof
     ORDER BY x.n DESC
     LIMIT 1
$$;

-- The latest day on or before asof with activity: a stage change, a
-- milestone done, a linked event held (begun, not cancelled; a series
-- counts as held while it runs, up to its last occurrence's end), or a
-- linked visit held (arrived, neither proposed nor cancelled; held while
-- it runs, up to its departure), all as dates in the agreement's zone.
CREATE FUNCTION liaison_agreement_last_activity(a agreements, asof date) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT max(x.d)
      FROM (SELECT (h ->> 'on')::date AS d
              FROM jsonb_array_elements(a.history) h
            UNION ALL
            SELECT e.agreement_done_on
              FROM events e
             WHERE e.agreement_id = a.id
               AND e.agreement_part = 'milestone'
               AND e.agreement_done_on IS NOT NULL
               AND (e.status <> 'cancelled' OR e.agreement_suspended)
            UNION ALL
            SELECT least((CASE WHEN e.rrule IS NULL AND cardinality(e.rdates) = 0
                               THEN e.start_utc
                               ELSE least(e.last_end_utc, now()) END
                          AT TIME ZONE a.timezone)::date,
                         asof)
              FROM agreement_links l
              JOIN events e ON e.id = l.event_id
             WHERE l.agreement_id = a.id
               AND l.kind = 'event'
               AND e.status <> 'cancelled'
               AND e.start_utc <= now()
               AND (e.start_utc AT TIME ZONE a.timezone)::date <= asof
            UNION ALL
            SELECT least((least(v.depart AT TIME ZONE v.timezone, now())
                          AT TIME ZONE a.timezone)::date,
                         asof)
              FROM agreement_links l
              JOIN visits v ON v.id = l.visit_id
             WHERE l.agreement_id = a.id
               AND l.kind = 'visit'
               AND v.status IN ('confirmed', 'in_progress', 'completed')
               AND v.arrive AT TIME ZONE v.timezone <= now()
               AND ((v.arrive AT TIME ZONE v.timezone) AT TIME ZONE a.timezone)::date <= asof) x
     WHERE x.d <= asof
$$;

-- Dormant on day asof: live then, with no activity for dormant_after_days.
CREATE FUNCTION liaison_agreement_dormant(a agreements, asof date) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(liaison_agreement_live(liaison_agreement_stage_on(a, asof))
                    AND liaison_agreement_last_activity(a, asof) <= asof - a.dormant_after_days,
                    false)
$$;

-- Expiring on day asof: live then, expiring within expiring_notice_days.
CREATE FUNCTION liaison_agreement_expiring(a agreements, asof date) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(liaison_agreement_live(liaison_agreement_stage_on(a, asof))
                    AND a.expires_on >= asof
                    AND a.expires_on - asof <= a.expiring_notice_days,
                    false)
$$;

-- A change to agreements wakes the scheduler's follow-through step (a
-- dormant or expiring agreement may have been written); time passing is
-- its own timer's.
CREATE FUNCTION liaison_agreements_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('liaison_agreements', '');
    RETURN NULL;
END $$;
CREATE TRIGGER agreements_follow AFTER INSERT OR UPDATE ON agreements
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_agreements_notify();
