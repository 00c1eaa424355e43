-- 006_change_notify.sql: every change to events or feeds, by any writer,
-- tells every liaisond (LISTEN liaison_changes) that rendered feeds may be
-- stale. Statement-level, and NOTIFY folds duplicates within a
-- transaction, so a bulk change costs one notification.
CREATE FUNCTION liaison_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('liaison_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER events_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();
CREATE TRIGGER feeds_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feeds
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();
CREATE TRIGGER orgs_changed AFTER UPDATE OR DELETE ON orgs
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();
