-- 003_agreements.sql: MOUs and letters of intent. Their milestones and
-- their signing and expiry dates are deadline events (events.agreement_id,
-- events.agreement_part), so they reach lists, occurrences, feeds and
-- reminders like any other event.

CREATE TABLE agreements (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES orgs (id),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description  text CHECK (length(description) <= 20000),
    parties      text[] NOT NULL DEFAULT '{}',
    stage        text NOT NULL CHECK (stage IN ('intent', 'drafting', 'signed', 'renewal',
                                                'expired', 'terminated')),
    signed_on    date,
    expires_on   date,
    timezone     text NOT NULL,
    visibility   text NOT NULL DEFAULT 'network' CHECK (visibility IN ('network', 'private')),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_on IS NULL OR signed_on IS NULL OR expires_on >= signed_on)
);
CREATE INDEX agreements_org ON agreements (org_id);
CREATE INDEX agreements_parties ON agreements USING gin (parties);

ALTER TABLE events ADD COLUMN agreement_part text
    CHECK (agreement_part IN ('milestone', 'signed', 'expires'));
ALTER TABLE events ADD CONSTRAINT events_agreement_fk
    FOREIGN KEY (agreement_id) REFERENCES agreements (id);
ALTER TABLE events ADD CONSTRAINT events_agreement_part
    CHECK ((agreement_id IS NULL) = (agreement_part IS NULL));
CREATE INDEX events_agreement ON events (agreement_id) WHERE agreement_id IS NOT NULL;
