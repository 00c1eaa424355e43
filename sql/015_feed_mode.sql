-- 015_feed_mode.sql: free/busy feeds, and feeds that name orgs by name.
--
-- A feed is "events" (VEVENTs, as before) or "freebusy": one VFREEBUSY
-- with busy periods only. The mode is fixed at creation: a URL handed to a
-- partner as "busy time only" must never start to carry titles. A free/busy
-- feed has no alarms, and a window that ends (at most 366 days in all),
-- since every occurrence in it is expanded when it is rendered.
ALTER TABLE feeds ADD COLUMN mode text NOT NULL DEFAULT 'events'
    CHECK (mode IN ('events', 'freebusy'));
ALTER TABLE feeds ADD CONSTRAINT feeds_freebusy_alarms
    CHECK (mode = 'events' OR NOT alarms);
ALTER TABLE feeds ADD CONSTRAINT feeds_freebusy_window
    CHECK (mode = 'events' OR (future_days IS NOT NULL AND past_days + future_days <= 366));

-- Feeds name orgs (the owner, the partners, an agreement's parties) by
-- their names, so a rendered VEVENT depends on those names too. named_at
-- is when an org's slug or name last changed: the DTSTAMP of the VEVENTs
-- that name it moves to it. org_names.rev counts such changes anywhere; it
-- is part of every VEVENT's stamp (VEVENT_STAMP, core/vevents_sql.h), so a
-- rename makes every stored and cached VEVENT stale at once (renames are
-- rare; re-rendering an event that does not name the org gives the same
-- bytes, so only feeds that name it change). One row, read once per query.
ALTER TABLE orgs ADD COLUMN named_at timestamptz;
UPDATE orgs SET named_at = created_at;
ALTER TABLE orgs ALTER COLUMN named_at SET NOT NULL;
ALTER TABLE orgs ALTER COLUMN named_at SET DEFAULT now();

CREATE TABLE org_names (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    rev  bigint NOT NULL
);
INSERT INTO org_names (rev) VALUES (1);

CREATE FUNCTION liaison_org_named() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.named_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER orgs_named BEFORE UPDATE ON orgs
    FOR EACH ROW
    WHEN (OLD.slug IS DISTINCT FROM NEW.slug OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION liaison_org_named();

-- Every writer counts: a new org may be the one a partner slug names.
CREATE FUNCTION liaison_org_names_rev() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE org_names SET rev = rev + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER orgs_names_rev AFTER INSERT OR DELETE ON orgs
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_org_names_rev();
CREATE TRIGGER orgs_renamed_rev AFTER UPDATE ON orgs
    FOR EACH ROW
    WHEN (OLD.slug IS DISTINCT FROM NEW.slug OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION liaison_org_names_rev();
-- and tells every instance that rendered feeds may be stale (006's
-- orgs_changed misses an insert).
CREATE TRIGGER org_names_changed AFTER UPDATE ON org_names
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();
