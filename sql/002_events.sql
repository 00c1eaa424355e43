-- 002_events.sql: events (visits, festivals, deadlines, meetings), their
-- idempotency records. Times are kept as entered (local wall time + IANA
-- zone) and as computed UTC instants for queries.

CREATE TABLE events (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES orgs (id),
    uid            text NOT NULL CHECK (length(uid) BETWEEN 1 AND 255),
    kind           text NOT NULL CHECK (kind IN ('visit', 'festival', 'deadline', 'meeting')),
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description    text CHECK (length(description) <= 20000),
    location       text CHECK (length(location) <= 500),
    city           text CHECK (length(city) <= 200),
    country        text CHECK (country ~ '^[A-Z]{2}$'),
    timezone       text NOT NULL,
    all_day        boolean NOT NULL DEFAULT false,
    start_local    timestamp NOT NULL,
    end_local      timestamp,
    start_utc      timestamptz NOT NULL,
    end_utc        timestamptz NOT NULL,      -- end of the first occurrence
    last_end_utc   timestamptz NOT NULL,      -- end of the last ('infinity': no end)
    rrule          text,
    exdates        timestamp[] NOT NULL DEFAULT '{}',
    rdates         timestamp[] NOT NULL DEFAULT '{}',
    series_id      uuid REFERENCES events (id),
    recurrence_id  timestamp,
    status         text NOT NULL DEFAULT 'confirmed'
                   CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    visibility     text NOT NULL DEFAULT 'network' CHECK (visibility IN ('network', 'private')),
    partners       text[] NOT NULL DEFAULT '{}',
    tags           text[] NOT NULL DEFAULT '{}',
    parent_id      uuid REFERENCES events (id),
    agreement_id   uuid,
    reminders      text[] NOT NULL DEFAULT '{}',
    url            text CHECK (length(url) <= 2048),
    sequence       integer NOT NULL DEFAULT 0,
    version        integer NOT NULL DEFAULT 1,  -- the ETag: bumped on every change
    cancelled_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((series_id IS NULL) = (recurrence_id IS NULL)),
    CHECK (end_utc >= start_utc AND last_end_utc >= end_utc)
);

-- UIDs are unique per org; an override shares its series' UID.
CREATE UNIQUE INDEX events_org_uid ON events (org_id, uid) WHERE series_id IS NULL;
CREATE UNIQUE INDEX events_override ON events (series_id, recurrence_id) WHERE series_id IS NOT NULL;
-- Lists page by (start_utc, id) and keep what overlaps [from, to): a GiST
-- range index answers the overlap, the btree the order.
CREATE INDEX events_start ON events (start_utc, id);
CREATE INDEX events_span ON events USING gist (tstzrange(start_utc, last_end_utc, '[]'));
CREATE INDEX events_org ON events (org_id, start_utc);
CREATE INDEX events_partners ON events USING gin (partners);
CREATE INDEX events_tags ON events USING gin (tags);
CREATE INDEX events_parent ON events (parent_id) WHERE parent_id IS NOT NULL;

-- A create retried with the same Idempotency-Key returns the first answer.
CREATE TABLE idempotency_keys (
    org_id        uuid NOT NULL REFERENCES orgs (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  text NOT NULL,
    event_id      uuid NOT NULL REFERENCES events (id),
    response      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
