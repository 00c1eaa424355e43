-- 029_follow_instants.sql: an override that follows its series into
-- another zone or length (012's liaison_series_follow) takes its instants
-- from the daemon's zone data, as every other row does.
--
-- 012 computed them with AT TIME ZONE. PostgreSQL's conversion disagrees
-- with the one the feeds, /v1/occurrences and every other write use
-- (common/tz.c): it takes the later of two instants in a fold, reads CET,
-- EET, MET and WET as fixed offsets, and has other data for some zones
-- and years. So an override moved by its series could be listed, windowed
-- and checked for conflicts an hour away from where its calendar shows it.
-- And it did so on any follow, a new title included.
--
-- The daemon cannot run the trigger's rules in C inside one statement, so
-- it hands the trigger the answers instead: before a master's zone or
-- length changes it converts each wall time an override may take (its own
-- and the series' new zone; its start, end and the series' new length),
-- and the statement that writes the master (the API's update, an
-- import's upsert) puts them in the transaction's setting
-- liaison.instants as {"<zone> <YYYY-MM-DDTHH:MM:SS>": epoch}.
-- A writer that gives none (psql) gets AT TIME ZONE, as before.

-- The instant of wall time local in zone, as hints give it, else
-- otherwise.
CREATE FUNCTION liaison_local_instant(local timestamp, zone text, hints jsonb,
                                      otherwise timestamptz)
    RETURNS timestamptz LANGUAGE sql STABLE
    AS $$ SELECT coalesce(to_timestamp((hints ->> (zone || ' ' || to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS')))::double precision),
                          otherwise) $$;

-- As 012's, but an override's instants are computed again only when its
-- zone or end moved, and from the hints where there are some.
CREATE OR REPLACE FUNCTION liaison_series_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved uuid[];
    hints jsonb := nullif(current_setting('liaison.instants', true), '')::jsonb;
BEGIN
    -- Where instants may move, the overrides are locked first, so that the
    -- update below reads each as it is now: a row rewritten while it waited
    -- would be checked again with its new values but o's old ones.
    IF OLD.timezone <> NEW.timezone
       OR (OLD.end_local - OLD.start_local) IS DISTINCT FROM (NEW.end_local - NEW.start_local) THEN
        PERFORM 1
           FROM events
          WHERE series_id = NEW.id
          ORDER BY id
            FOR UPDATE;
    END IF;
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
          FROM events o
         WHERE o.id = x.id
           AND x.series_id = NEW.id
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
        RETURNING x.id, (o.timezone, o.end_local) IS DISTINCT FROM (x.timezone, x.end_local) AS respan)
    SELECT array_agg(id) FILTER (WHERE respan) INTO moved FROM f;
    IF moved IS NOT NULL THEN
        UPDATE events x
           SET start_utc = liaison_local_instant(x.start_local, x.timezone, hints,
                                                 x.start_local AT TIME ZONE x.timezone),
               end_utc = liaison_local_instant(y.end_local, x.timezone, hints,
                                               y.end_local AT TIME ZONE x.timezone),
               last_end_utc = liaison_local_instant(y.end_local, x.timezone, hints,
                                                    y.end_local AT TIME ZONE x.timezone)
          FROM (SELECT e.id,
                       coalesce(e.end_local, e.start_local + CASE WHEN e.all_day
                                THEN interval '1 day' ELSE interval '0' END) AS end_local
                  FROM events e
                 WHERE e.id = ANY (moved)) y
         WHERE x.id = y.id;
    END IF;
    RETURN NULL;
END $$;
