-- 023_feed_splice.sql: what a feed's next rendering needs to read only
-- what changed since its last (issue 19, api/feed_list.c).
--
-- Every events and agreements row carries the transaction that last wrote
-- it (change_xid, the top-level xid8). A rendering keeps the snapshot it
-- read under; the next one asks for the rows written by transactions that
-- snapshot did not see: change_xid >= its xmin and not visible in it. A
-- transaction below xmin had ended when the snapshot was taken, so the
-- index range finds every such row. An agreement's version is part of its
-- events' VEVENT stamps, hence its own column.
--
-- Rows written before this migration keep NULL: any snapshot taken after
-- it sees them. The column is in an index, so an update of an event is no
-- longer a HOT update; most were not (start_utc, the place, tags and
-- partners are indexed too).
--
-- A removed event leaves no row to find: events_removed counts deletions
-- and truncations (nothing in liaison deletes events; an operator might),
-- and a rendering that sees a new count reads the feed in full.

ALTER TABLE events ADD COLUMN change_xid xid8;
ALTER TABLE agreements ADD COLUMN change_xid xid8;

CREATE FUNCTION liaison_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END $$;

CREATE TRIGGER events_change_xid BEFORE INSERT OR UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION liaison_change_xid();
CREATE TRIGGER agreements_change_xid BEFORE INSERT OR UPDATE ON agreements
    FOR EACH ROW EXECUTE FUNCTION liaison_change_xid();

CREATE INDEX events_change_xid ON events (change_xid) WHERE change_xid IS NOT NULL;
CREATE INDEX agreements_change_xid ON agreements (change_xid) WHERE change_xid IS NOT NULL;

CREATE TABLE events_removed (
    rev bigint NOT NULL
);
INSERT INTO events_removed (rev) VALUES (1);

CREATE FUNCTION liaison_events_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE events_removed SET rev = rev + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER events_removed AFTER DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_events_removed();
