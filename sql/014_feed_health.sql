-- 014_feed_health.sql: who fetches each feed, and how often, so staff can
-- tell a feed nobody polls from one that works (GET /v1/feeds/{id}).
-- Written by each instance in batches, about once a second, never on the
-- way of a feed's answer (api/feed_fetches.c). No trigger NOTIFYs on these
-- tables: a fetch must not make every instance render its feeds again.

-- The last fetch of a feed by each kind of client (from the User-Agent).
CREATE TABLE feed_fetches (
    feed_id  uuid NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    client   text NOT NULL CHECK (client IN ('google', 'microsoft', 'apple', 'thunderbird',
                                             'icsx5', 'other')),
    at       timestamptz NOT NULL,
    status   smallint NOT NULL CHECK (status BETWEEN 100 AND 599),
    bytes    bigint NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (feed_id, client)
);

-- Fetches counted in ten-minute steps (slot: the step's start), for the
-- last 24 hours; steps older than two days are deleted as fetches come.
CREATE TABLE feed_fetch_counts (
    feed_id  uuid NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    slot     timestamptz NOT NULL,
    fetches  bigint NOT NULL CHECK (fetches > 0),
    PRIMARY KEY (feed_id, slot)
);

-- A rotated token's hash, so a client still fetching the old URL (and
-- answered 404) is counted against its feed: the sign that a subscriber
-- was not given the new one.
CREATE TABLE feed_old_tokens (
    token_hash   text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    feed_id      uuid NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    replaced_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_old_tokens_feed ON feed_old_tokens (feed_id);

CREATE FUNCTION liaison_feed_token_replaced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_old_tokens (token_hash, feed_id)
    VALUES (OLD.token_hash, OLD.id)
    ON CONFLICT (token_hash) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER feeds_token_replaced AFTER UPDATE OF token_hash ON feeds
    FOR EACH ROW WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash)
    EXECUTE FUNCTION liaison_feed_token_replaced();
