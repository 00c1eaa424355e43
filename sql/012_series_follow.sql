-- 012_series_follow.sql: an override is part of its series. What it
-- shares with the series follows the series; who may see it is always the
-- series' audience; it knows why it was cancelled, so that only what took
-- it away gives it back; and every write to an override or to the set of
-- a series' occurrences goes through the master's row (overrides_rev), so
-- two writes made at once cannot leave an override beside the occurrence
-- it no longer names.

-- An override cancelled because its occurrence went away (its series
-- moved, or changed its rule or exdates): the status it had, so that a
-- change that brings the occurrence back restores it.
ALTER TABLE events ADD COLUMN orphan_status text
    CHECK (orphan_status IN ('confirmed', 'tentative'));
-- Bumped by every write of one of a master's overrides, in the statement
-- that makes it; a change of the series' occurrences checks it is still
-- what it read.
ALTER TABLE events ADD COLUMN overrides_rev integer NOT NULL DEFAULT 0;

-- Before any write of a row: cancelled_at follows status (009); a status
-- set by anything but a cascade forgets why the row was cancelled before
-- (a cascade sets cascade_status or orphan_status itself), so an
-- occurrence cancelled on its own is not brought back by its series'
-- restore; an override has its series' visibility and partners, whoever
-- writes it (an import gives an override no CLASS of its own).
CREATE OR REPLACE FUNCTION liaison_event_cancelled_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'cancelled' THEN
        NEW.cancelled_at := coalesce(NEW.cancelled_at, now());
    ELSE
        NEW.cancelled_at := NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.cascade_status IS NOT DISTINCT FROM OLD.cascade_status THEN
            NEW.cascade_status := NULL;
        END IF;
        IF NEW.orphan_status IS NOT DISTINCT FROM OLD.orphan_status THEN
            NEW.orphan_status := NULL;
        END IF;
    END IF;
    IF NEW.series_id IS NOT NULL THEN
        SELECT s.visibility, s.partners
          INTO NEW.visibility, NEW.partners
          FROM events s
         WHERE s.id = NEW.series_id;
    END IF;
    RETURN NEW;
END $$;

-- After a change of a master: its overrides follow what they share with
-- it (a field equal to the master's old value takes the new one; an end
-- one occurrence's length after an unmoved start keeps the new length),
-- take its visibility and partners, and are written again when its zone
-- changes (their RECURRENCE-ID is in the master's zone). Their instants
-- are computed again where their zone or times changed.
CREATE FUNCTION liaison_series_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved uuid[];
BEGIN
    WITH f AS (
        UPDATE events x
           SET kind = CASE WHEN x.kind = OLD.kind THEN NEW.kind ELSE x.kind END,
               title = CASE WHEN x.title = OLD.title THEN NEW.title ELSE x.title END,
               description = CASE WHEN x.description IS NOT DISTINCT FROM OLD.description
                                  THEN NEW.description ELSE x.description END,
               location = CASE WHEN x.location IS NOT DISTINCT FROM OLD.location
                               THEN NEW.location ELSE x.location END,
               city = CASE WHEN x.city IS NOT DISTINCT FROM OLD.city
                           THEN NEW.city ELSE x.city END,
               country = CASE WHEN x.country IS NOT DISTINCT FROM OLD.country
                              THEN NEW.country ELSE x.country END,
               url = CASE WHEN x.url IS NOT DISTINCT FROM OLD.url THEN NEW.url ELSE x.url END,
               parent_id = CASE WHEN x.parent_id IS NOT DISTINCT FROM OLD.parent_id
                                THEN NEW.parent_id ELSE x.parent_id END,
               tags = CASE WHEN x.tags = OLD.tags THEN NEW.tags ELSE x.tags END,
               reminders = CASE WHEN x.reminders = OLD.reminders
                                THEN NEW.reminders ELSE x.reminders END,
               timezone = CASE WHEN x.timezone = OLD.timezone
                               THEN NEW.timezone ELSE x.timezone END,
               end_local = CASE WHEN x.start_local = x.recurrence_id
                                 AND x.end_local IS NOT DISTINCT FROM
                                     x.recurrence_id + (OLD.end_local - OLD.start_local)
                                THEN x.recurrence_id + (NEW.end_local - NEW.start_local)
                                ELSE x.end_local END,
               version = x.version + 1,
               sequence = x.sequence + 1,
               updated_at = now()
         WHERE x.series_id = NEW.id
           AND (OLD.timezone <> NEW.timezone
                OR OLD.visibility <> NEW.visibility
                OR OLD.partners <> NEW.partners
                OR (x.kind = OLD.kind AND OLD.kind <> NEW.kind)
                OR (x.title = OLD.title AND OLD.title <> NEW.title)
                OR (x.description IS NOT DISTINCT FROM OLD.description
                    AND OLD.description IS DISTINCT FROM NEW.description)
                OR (x.location IS NOT DISTINCT FROM OLD.location
                    AND OLD.location IS DISTINCT FROM NEW.location)
                OR (x.city IS NOT DISTINCT FROM OLD.city AND OLD.city IS DISTINCT FROM NEW.city)
                OR (x.country IS NOT DISTINCT FROM OLD.country
                    AND OLD.country IS DISTINCT FROM NEW.country)
                OR (x.url IS NOT DISTINCT FROM OLD.url AND OLD.url IS DISTINCT FROM NEW.url)
                OR (x.parent_id IS NOT DISTINCT FROM OLD.parent_id
                    AND OLD.parent_id IS DISTINCT FROM NEW.parent_id)
                OR (x.tags = OLD.tags AND OLD.tags <> NEW.tags)
                OR (x.reminders = OLD.reminders AND OLD.reminders <> NEW.reminders)
                OR (x.start_local = x.recurrence_id
                    AND x.end_local IS NOT DISTINCT FROM
                        x.recurrence_id + (OLD.end_local - OLD.start_local)
                    AND (OLD.end_local - OLD.start_local)
                        IS DISTINCT FROM (NEW.end_local - NEW.start_local)))
        RETURNING x.id)
    SELECT array_agg(id) INTO moved FROM f;
    IF moved IS NOT NULL THEN
        UPDATE events x
           SET start_utc = x.start_local AT TIME ZONE x.timezone,
               end_utc = coalesce(x.end_local, x.start_local + CASE WHEN x.all_day
                                  THEN interval '1 day' ELSE interval '0' END)
                         AT TIME ZONE x.timezone,
               last_end_utc = coalesce(x.end_local, x.start_local + CASE WHEN x.all_day
                                       THEN interval '1 day' ELSE interval '0' END)
                              AT TIME ZONE x.timezone
         WHERE x.id = ANY (moved);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER events_series_follow AFTER UPDATE ON events
    FOR EACH ROW WHEN (NEW.series_id IS NULL AND NEW.version <> OLD.version)
    EXECUTE FUNCTION liaison_series_follow();

-- Overrides written before this migration take their series' audience.
UPDATE events x
   SET visibility = s.visibility,
       partners = s.partners
  FROM events s
 WHERE s.id = x.series_id
   AND (x.visibility <> s.visibility OR x.partners <> s.partners);
