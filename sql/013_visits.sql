-- 013_visits.sql: delegation visits, their delegates and their programme.
--
-- A visit is an event of its own (kind 'visit', from arrival to
-- departure): visits.id is that event's id, so the programme's items,
-- which are events too, keep SPEC's parent_id = the visit. The visit's
-- events (its own and its items') carry visit_id, which the filter
-- "visits" and the webhook rule read; they carry no personal data.
--
-- Delegates are personal data: they live only in visit_delegates, and an
-- item names its people and interpreter by delegate id (visit_items), so
-- deleting a delegate deletes the person everywhere. Who may see them is
-- one rule, liaison_visit_party: the owner org and the partners.
--
-- Titles may be given in several languages ({"vi": ..., "en": ...}): a
-- visit's events keep the map in events.titles, and title, the text in
-- the first of the visit's languages that it has, which lists, the API
-- and feeds without a language show. A feed may ask for a language
-- (feeds.language): liaison_title_in picks its text.
--
-- Nothing here changes a row that exists: events, feeds and messages get
-- a column that is NULL for them, and the functions of 007 and 011 are
-- replaced by versions that answer as before for every event that is not
-- a visit's.

CREATE TABLE visits (
    id          uuid PRIMARY KEY REFERENCES events (id),
    org_id      uuid NOT NULL REFERENCES orgs (id),
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    titles      jsonb CHECK (titles IS NULL OR jsonb_typeof(titles) = 'object'),
    languages   text[] NOT NULL DEFAULT '{}',
    timezone    text NOT NULL,
    arrive      timestamp NOT NULL,
    depart      timestamp NOT NULL,
    city        text CHECK (length(city) <= 200),
    country     text CHECK (country ~ '^[A-Z]{2}$'),
    purpose     text CHECK (length(purpose) <= 5000),
    partners    text[] NOT NULL DEFAULT '{}',
    visibility  text NOT NULL DEFAULT 'network' CHECK (visibility IN ('network', 'private')),
    status      text NOT NULL CHECK (status IN ('proposed', 'confirmed', 'in_progress',
                                                'completed', 'cancelled')),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (depart > arrive)
);
CREATE INDEX visits_org ON visits (org_id);
CREATE INDEX visits_partners ON visits USING gin (partners);

-- person: the name as people type it (010's rule for places), which
-- compares delegates across visits (people conflicts, the filter
-- "people"). Unique per visit, checked at commit so that two delegates
-- may swap names in one write.
CREATE TABLE visit_delegates (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    visit_id      uuid NOT NULL REFERENCES visits (id),
    position      integer NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    person        text GENERATED ALWAYS AS (liaison_place(name)) STORED,
    title         text CHECK (length(title) <= 200),
    organisation  text CHECK (length(organisation) <= 200),
    role          text NOT NULL CHECK (role IN ('head', 'deputy_head', 'member', 'interpreter',
                                                'liaison_officer', 'host_official', 'press',
                                                'security', 'other')),
    language      text CHECK (language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$'),
    notes         text CHECK (length(notes) <= 2000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT visit_delegates_person UNIQUE (visit_id, person) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX visit_delegates_person_idx ON visit_delegates (person);

-- An item removed from the programme keeps its row, and who it named:
-- its event is cancelled, and stays cancelled in the feeds that showed
-- it (a person's schedule too) for 30 days. Deleting a delegate removes
-- them from every item, removed or not.
CREATE TABLE visit_items (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    visit_id     uuid NOT NULL REFERENCES visits (id),
    event_id     uuid NOT NULL UNIQUE REFERENCES events (id),
    position     integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('meeting', 'site_visit', 'ceremony', 'meal',
                                               'transfer', 'press', 'free_time', 'other')),
    address      text CHECK (length(address) <= 500),
    notes        text CHECK (length(notes) <= 2000),
    people       uuid[] NOT NULL DEFAULT '{}',
    interpreter  uuid,
    removed_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_items_visit ON visit_items (visit_id);

ALTER TABLE events ADD COLUMN visit_id uuid REFERENCES visits (id);
ALTER TABLE events ADD COLUMN titles jsonb
    CHECK (titles IS NULL OR jsonb_typeof(titles) = 'object');
CREATE INDEX events_visit ON events (visit_id) WHERE visit_id IS NOT NULL;

ALTER TABLE webhook_messages ADD COLUMN visit_id uuid REFERENCES visits (id);
CREATE INDEX webhook_messages_visit ON webhook_messages (visit_id) WHERE visit_id IS NOT NULL;

ALTER TABLE feeds ADD COLUMN language text
    CHECK (length(language) <= 35 AND language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$');

-- The text of titles (a map of language tags) for language lang, by
-- RFC 4647 lookup (zh-Hant-TW, then zh-Hant, then zh; tags compare
-- without case); else fallback (the event's title: the text in the first
-- of the visit's languages that titles has); else English; else the text
-- of the first tag in order.
CREATE FUNCTION liaison_title_in(titles jsonb, lang text, fallback text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    WITH RECURSIVE tag(t, n) AS (
        SELECT lower(lang), 0
         WHERE lang IS NOT NULL
        UNION ALL
        SELECT regexp_replace(t, '(-[a-z0-9])?-[a-z0-9]+$', ''), n + 1
          FROM tag
         WHERE t LIKE '%-%'
    )
    SELECT coalesce(
        (SELECT x.value
           FROM tag
           JOIN jsonb_each_text(titles) x ON lower(x.key) = tag.t
          ORDER BY tag.n
          LIMIT 1),
        fallback,
        titles ->> 'en',
        (SELECT x.value FROM jsonb_each_text(titles) x ORDER BY x.key LIMIT 1))
$$;

-- What a VEVENT rendered for a feed in language lang adds to its stamp
-- (vevents_sql.h): '' when its title there is the event's title (the
-- same text as every feed's), else '@' (a text of that language's).
CREATE FUNCTION liaison_title_stamp(titles jsonb, lang text, title text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN titles IS NULL OR lang IS NULL THEN ''
                WHEN liaison_title_in(titles, lang, title) = title THEN ''
                ELSE '@' END
$$;

-- Feeds filtered by people depend on who an item names, which changes
-- without its event's row: every instance hears of it (006).
CREATE TRIGGER visit_items_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON visit_items
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();
CREATE TRIGGER visit_delegates_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON visit_delegates
    FOR EACH STATEMENT EXECUTE FUNCTION liaison_notify_change();

-- Whether org is party to visit v (its owner or one of its partners):
-- the orgs that may see its delegates, and who each item names.
CREATE FUNCTION liaison_visit_party(v visits, org uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT v.org_id = org
        OR (SELECT o.slug FROM orgs o WHERE o.id = org) = ANY (v.partners)
$$;

-- Whether event ev is a programme item (live or removed, whose event
-- is then cancelled) that names one of names (as people or
-- interpreter), of a visit org is party to. The filter
-- "people" of lists, feeds and webhooks: an org not party to a visit
-- learns nothing of who takes part in it, not even by filtering.
CREATE FUNCTION liaison_event_has_people(ev uuid, org uuid, names jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1
          FROM visit_items i
          JOIN visits v ON v.id = i.visit_id
          JOIN visit_delegates d ON d.visit_id = i.visit_id
                                AND (d.id = ANY (i.people) OR d.id = i.interpreter)
         WHERE i.event_id = ev
           AND d.person IN (SELECT liaison_place(x) FROM jsonb_array_elements_text(names) x)
           AND liaison_visit_party(v, org))
$$;

-- 007's filter with "visits": the visit's own event and its items.
CREATE OR REPLACE FUNCTION liaison_filter_matches(f jsonb, e events) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (NOT f ? 'kinds' OR e.kind IN (SELECT jsonb_array_elements_text(f -> 'kinds')))
       AND (NOT f ? 'orgs' OR (SELECT slug FROM orgs WHERE id = e.org_id)
                              IN (SELECT jsonb_array_elements_text(f -> 'orgs')))
       AND (NOT f ? 'partners'
            OR e.partners && ARRAY(SELECT jsonb_array_elements_text(f -> 'partners')))
       AND (NOT f ? 'tags' OR e.tags && ARRAY(SELECT jsonb_array_elements_text(f -> 'tags')))
       AND (NOT f ? 'cities' OR lower(e.city)
                                IN (SELECT lower(jsonb_array_elements_text(f -> 'cities'))))
       AND (NOT f ? 'countries'
            OR e.country IN (SELECT jsonb_array_elements_text(f -> 'countries')))
       AND (NOT f ? 'visits'
            OR e.visit_id::text IN (SELECT jsonb_array_elements_text(f -> 'visits')))
$$;

-- 011's rule with "people", which depends on the endpoint's org.
CREATE OR REPLACE FUNCTION liaison_endpoint_sees_event(w webhook_endpoints, e events)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (e.visibility = 'network'
            OR e.org_id = w.org_id
            OR (SELECT o.slug FROM orgs o WHERE o.id = w.org_id) = ANY (e.partners))
       AND liaison_filter_matches(w.filter, e)
       AND (NOT w.filter ? 'people' OR liaison_event_has_people(e.id, w.org_id, w.filter -> 'people'))
$$;

-- The same for a visit: its org may see it (network, or party to it);
-- of a filter, "orgs" (the owner), "partners", "cities", "countries",
-- "visits" and "people" (one of its delegates, for a party) apply. What
-- the message tells (delegates or not) is decided where its body is
-- built, by liaison_visit_party.
CREATE FUNCTION liaison_endpoint_sees_visit(w webhook_endpoints, v visits) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (v.visibility = 'network' OR liaison_visit_party(v, w.org_id))
       AND (NOT w.filter ? 'orgs'
            OR (SELECT o.slug FROM orgs o WHERE o.id = v.org_id)
               IN (SELECT jsonb_array_elements_text(w.filter -> 'orgs')))
       AND (NOT w.filter ? 'partners'
            OR v.partners && ARRAY(SELECT jsonb_array_elements_text(w.filter -> 'partners')))
       AND (NOT w.filter ? 'cities'
            OR lower(v.city) IN (SELECT lower(jsonb_array_elements_text(w.filter -> 'cities'))))
       AND (NOT w.filter ? 'countries'
            OR v.country IN (SELECT jsonb_array_elements_text(w.filter -> 'countries')))
       AND (NOT w.filter ? 'visits'
            OR v.id::text IN (SELECT jsonb_array_elements_text(w.filter -> 'visits')))
       AND (NOT w.filter ? 'people'
            OR (liaison_visit_party(v, w.org_id)
                AND EXISTS (SELECT 1
                              FROM visit_delegates d
                             WHERE d.visit_id = v.id
                               AND d.person IN (SELECT liaison_place(x)
                                                  FROM jsonb_array_elements_text(
                                                       w.filter -> 'people') x))))
$$;

CREATE FUNCTION liaison_visit_endpoints(v visits, t text) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT w.id
      FROM webhook_endpoints w
     WHERE w.enabled
       AND w.deleted_at IS NULL
       AND t = ANY (w.types)
       AND liaison_endpoint_sees_visit(w, v)
$$;

-- visit.created, visit.updated, visit.cancelled: written with the change,
-- their body built when first claimed (SCHED_CLAIM), like an event's.
CREATE FUNCTION liaison_visit_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        t := 'visit.created';
    ELSIF NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
        t := 'visit.cancelled';
    ELSE
        t := 'visit.updated';
    END IF;
    INSERT INTO webhook_messages (id, endpoint_id, type, visit_id)
        SELECT liaison_message_id(), w, t, NEW.id
          FROM liaison_visit_endpoints(NEW, t) w;
    IF FOUND THEN
        PERFORM pg_notify('liaison_messages', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER visits_webhooks AFTER INSERT OR UPDATE ON visits
    FOR EACH ROW EXECUTE FUNCTION liaison_visit_changed();
