-- 005_feeds.sql: iCalendar feeds. The token is the key to a feed's URL and
-- is kept only as its SHA-256, like API tokens.
CREATE TABLE feeds (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES orgs (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    filter      jsonb NOT NULL DEFAULT '{}',
    alarms      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX feeds_org ON feeds (org_id) WHERE revoked_at IS NULL;
