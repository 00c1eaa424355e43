-- 024_override_file.sql: which overrides stand as a file gave them, so
-- that importing the next version of that file can take back the ones it
-- no longer gives (api/import.c, reset_stale) and leave alone the ones
-- made or changed through the API, which no file ever gave.
--
-- file_version is the override's version when an import last wrote it as
-- its file gives it (or found it so); it stands so while the two are
-- equal. Any other write bumps version past it, except one made by
-- another trigger: its series' change carried to it (sql/012) or its
-- series' cancellation cascaded (sql/009) leave it its file's. NULL: not
-- as a file gave it, or written before this migration (an import that
-- finds it as its file gives it marks it).
ALTER TABLE events ADD COLUMN file_version integer;

-- A single event an import made of an override that could not be one (of
-- the other kind than its series, or no occurrence of it): that series,
-- so that the next version of the file, which no longer gives that
-- override, cancels it.
ALTER TABLE events ADD COLUMN split_from uuid REFERENCES events (id) ON DELETE SET NULL;
CREATE INDEX events_split_from ON events (split_from) WHERE split_from IS NOT NULL;

CREATE FUNCTION liaison_file_version_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 1: this trigger under a statement; more: under another trigger.
    IF pg_trigger_depth() > 1
       AND OLD.file_version = OLD.version
       AND NEW.file_version IS NOT DISTINCT FROM OLD.file_version THEN
        NEW.file_version := NEW.version;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER events_file_version BEFORE UPDATE ON events
    FOR EACH ROW WHEN (OLD.file_version IS NOT NULL AND NEW.version <> OLD.version)
    EXECUTE FUNCTION liaison_file_version_kept();
