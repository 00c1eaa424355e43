-- 008_vevent_store.sql: rendered VEVENTs, kept in the database so that a
-- daemon that has just started, or another instance, assembles a feed from
-- stored text instead of rendering every event through libical again
-- (what CalDAV servers do with their items). A row serves only while its
-- stamp equals the event's (version and agreement version, VEVENT_STAMP
-- of vevents.h) and its renderer equals the running daemon's (a fingerprint
-- of the renderer's output, so an upgrade that renders differently never
-- serves old text); otherwise the event is rendered again and the row
-- written over. It is a cache: dropping its rows loses nothing.
CREATE TABLE vevent_texts (
    event_id  uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    alarms    boolean NOT NULL,
    stamp     text NOT NULL,
    renderer  text NOT NULL,
    zone      text NOT NULL,
    body      text NOT NULL,
    PRIMARY KEY (event_id, alarms)
);
