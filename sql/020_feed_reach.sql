-- 020_feed_reach.sql: a change to events says whose feeds it can reach
-- (issue 19), so that a liaisond renders again only the feeds that may
-- show it (core/changes.h). A feed shows what its org may see: network
-- events, its org's own, and those naming its org's slug as a partner. A
-- change reaches, then, every feed when a row before or after it is a
-- network event ("events", as before), else the feeds of the orgs owning
-- the rows before and after and of the partners they name:
-- "events:<org id>,<slug>,..." (ids and slugs never hold commas). A
-- payload past what is worth keeping says "events" again. A statement
-- that changed no row tells nobody. Truncation, and the other tables'
-- changes, still say their table's name: every feed.

CREATE FUNCTION liaison_events_reach(rows_changed bigint, network boolean, orgs text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF rows_changed = 0 THEN
        RETURN;
    ELSIF network OR orgs IS NULL OR length(orgs) > 1000 THEN
        PERFORM pg_notify('liaison_changes', 'events');
    ELSE
        PERFORM pg_notify('liaison_changes', 'events:' || orgs);
    END IF;
END $$;

-- The network test first: it stops at the first network row, and most
-- bulk changes are of network events.
CREATE FUNCTION liaison_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liaison_events_reach(
        (SELECT count(*) FROM (SELECT 1 FROM new_rows LIMIT 1) x),
        EXISTS (SELECT 1 FROM new_rows WHERE visibility = 'network'),
        CASE WHEN NOT EXISTS (SELECT 1 FROM new_rows WHERE visibility = 'network')
             THEN (SELECT string_agg(DISTINCT t.org, ',')
                     FROM new_rows r,
                          LATERAL (SELECT r.org_id::text UNION ALL SELECT unnest(r.partners)) t(org))
        END);
    RETURN NULL;
END $$;

CREATE FUNCTION liaison_events_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liaison_events_reach(
        (SELECT count(*) FROM (SELECT 1 FROM new_rows LIMIT 1) x),
        EXISTS (SELECT 1 FROM old_rows WHERE visibility = 'network')
          OR EXISTS (SELECT 1 FROM new_rows WHERE visibility = 'network'),
        CASE WHEN NOT EXISTS (SELECT 1 FROM old_rows WHERE visibility = 'network')
              AND NOT EXISTS (SELECT 1 FROM new_rows WHERE visibility = 'network')
             THEN (SELECT string_agg(DISTINCT t.org, ',')
                     FROM (SELECT org_id, partners FROM old_rows
                           UNION ALL
                           SELECT org_id, partners FROM new_rows) r,
                          LATERAL (SELECT r.org_id::text UNION ALL SELECT unnest(r.partners)) t(org))
        END);
    RETURN NULL;
END $$;

CREATE FUNCTION liaison_events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liaison_events_reach(
        (SELECT count(*) FROM (SELECT 1 FROM old_rows LIMIT 1) x),
        EXISTS (SELECT 1 FROM old_rows WHERE visibility = 'network'),
        CASE WHEN NOT EXISTS (SELECT 1 FROM old_rows WHERE visibility = 'network')
             THEN (SELECT string_agg(DISTINCT t.org, ',')
                     FROM old_rows r,
                          LATERAL (SELECT r.org_id::text UNION ALL SELECT unnest(r.partners)) t(org))
        END);
    RETURN NULL;
END $$;

DROP TRIGGER events_changed ON events;
CREATE TRIGGER events_inserted AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_events_inserted();
CREATE TRIGGER events_updated AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_events_updated();
CREATE TRIGGER events_deleted AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_events_deleted();
CREATE TRIGGER events_truncated AFTER TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();
