-- 016_visit_tasks.sql: protocol deadlines. An org keeps checklists,
-- templates of tasks due some days before or after a visit's arrival or
-- departure (an invitation letter 90 days before arrival, a thank-you
-- letter 3 days after departure). A visit the org creates gets a task
-- for each task of its checklists that fit its direction, each with a
-- deadline event (kind deadline, all day, linked to the visit by
-- visit_id and parent_id, private to the org: the work is its own) that
-- carries the task's reminders. Moving the visit moves the deadlines of
-- its open tasks; a task done or not needed is reminded no more (its
-- event keeps no reminders; not needed: cancelled); an open task whose
-- deadline has passed is told once to the org's endpoints as
-- visit.task_overdue (jobs/overdue.c).
--
-- Written by triggers, so that every write of a visit (create, patch,
-- cancel) and of a task keeps the deadline events in step in the same
-- transaction. A deadline is a local date in the visit's zone; its UTC
-- span is computed here (AT TIME ZONE), as 012 does for overrides.
--
-- Independent of 014 and 015; it changes no row that exists (messages
-- get a column that is NULL for them).

CREATE TABLE checklists (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES orgs (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- the visits it applies to: inbound, outbound, or (NULL) both
    direction   text CHECK (direction IN ('inbound', 'outbound')),
    -- [{title, anchor, offset_days, owner, reminders}], checked by the API
    -- (api/checklists.c)
    tasks       jsonb NOT NULL CHECK (jsonb_typeof(tasks) = 'array'),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE INDEX checklists_org ON checklists (org_id) WHERE deleted_at IS NULL;

CREATE TABLE visit_tasks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    visit_id      uuid NOT NULL REFERENCES visits (id),
    event_id      uuid NOT NULL UNIQUE REFERENCES events (id),
    checklist_id  uuid REFERENCES checklists (id),
    position      integer NOT NULL,
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    anchor        text NOT NULL CHECK (anchor IN ('arrive', 'depart')),
    offset_days   integer NOT NULL CHECK (offset_days BETWEEN -400 AND 400),
    owner         text CHECK (length(owner) <= 200),
    reminders     text[] NOT NULL DEFAULT '{}',
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'not_needed')),
    due           date NOT NULL,
    -- when visit.task_overdue was written for the deadline it has now
    overdue_at    timestamptz,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_tasks_visit ON visit_tasks (visit_id);
CREATE INDEX visit_tasks_open ON visit_tasks (due) WHERE state = 'open' AND overdue_at IS NULL;

ALTER TABLE webhook_messages ADD COLUMN task_id uuid REFERENCES visit_tasks (id);

-- A task's deadline: its anchor's local date, moved by offset_days.
CREATE FUNCTION liaison_task_due(anchor text, offset_days integer, arrive timestamp,
                                 depart timestamp) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
    SELECT (CASE anchor WHEN 'arrive' THEN arrive ELSE depart END)::date + offset_days
$$;

-- What a task's deadline event says of it (its DESCRIPTION).
CREATE FUNCTION liaison_task_description(visit_title text, anchor text, offset_days integer,
                                         owner text, state text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'Protocol task of the visit: ' || visit_title || E'\n'
           || 'Due ' || CASE WHEN offset_days = 0 THEN 'on the day of '
                             ELSE abs(offset_days) || CASE WHEN abs(offset_days) = 1 THEN ' day '
                                                           ELSE ' days ' END
                                  || CASE WHEN offset_days < 0 THEN 'before ' ELSE 'after ' END
                        END
           || CASE anchor WHEN 'arrive' THEN 'arrival' ELSE 'departure' END || E'.\n'
           || coalesce('Owner: ' || owner || E'\n', '')
           || 'State: ' || replace(state, '_', ' ')
$$;

-- The deadline events of visit vid's tasks (of one task, tid, or all of
-- them) brought in step with the tasks and the visit: title, zone, date,
-- status (cancelled when the visit is, or the task is not needed) and
-- reminders (only while the task is open and the visit is not
-- cancelled). Only events whose values change are written; their
-- SEQUENCE moves, as for any change a calendar shows.
CREATE FUNCTION liaison_task_events_sync(vid uuid, tid uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE events e
       SET title = x.title, description = x.description, timezone = x.timezone,
           start_local = x.start_local, end_local = x.end_local, start_utc = x.start_utc,
           end_utc = x.end_utc, last_end_utc = x.end_utc, status = x.status,
           reminders = x.reminders, sequence = e.sequence + 1, version = e.version + 1,
           updated_at = now()
      FROM (SELECT t.event_id,
                   left(t.title || ': ' || v.title, 500) AS title,
                   liaison_task_description(v.title, t.anchor, t.offset_days, t.owner, t.state)
                       AS description,
                   v.timezone,
                   t.due::timestamp AS start_local,
                   (t.due + 1)::timestamp AS end_local,
                   t.due::timestamp AT TIME ZONE v.timezone AS start_utc,
                   (t.due + 1)::timestamp AT TIME ZONE v.timezone AS end_utc,
                   CASE WHEN v.status = 'cancelled' OR t.state = 'not_needed' THEN 'cancelled'
                        ELSE 'confirmed' END AS status,
                   CASE WHEN v.status <> 'cancelled' AND t.state = 'open' THEN t.reminders
                        ELSE '{}'::text[] END AS reminders
              FROM visit_tasks t
              JOIN visits v ON v.id = t.visit_id
             WHERE t.visit_id = vid
               AND (tid IS NULL OR t.id = tid)) x
     WHERE e.id = x.event_id
       AND (e.title, e.description, e.timezone, e.start_local, e.end_local, e.start_utc,
            e.end_utc, e.status, e.reminders)
           IS DISTINCT FROM
           (x.title, x.description, x.timezone, x.start_local, x.end_local, x.start_utc,
            x.end_utc, x.status, x.reminders)
$$;

-- A visit created: a task (and its deadline event) for each task of the
-- owner's checklists that fit its direction, in the checklists' order.
-- A visit changed: its open tasks' deadlines follow its arrival and
-- departure (a moved deadline may be overdue anew), and every task's
-- event follows its title, zone and status.
CREATE FUNCTION liaison_visit_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH t AS MATERIALIZED (
            SELECT gen_random_uuid() AS tid, gen_random_uuid() AS eid, c.id AS checklist_id,
                   row_number() OVER (ORDER BY c.created_at, c.id, x.n) AS n,
                   x.title, x.anchor, x.offset_days, x.owner,
                   ARRAY(SELECT jsonb_array_elements_text(coalesce(x.reminders, '[]')))
                       AS reminders,
                   liaison_task_due(x.anchor, x.offset_days, NEW.arrive, NEW.depart) AS due
              FROM checklists c,
                   ROWS FROM (jsonb_to_recordset(c.tasks)
                              AS (title text, anchor text, offset_days integer, owner text,
                                  reminders jsonb))
                       WITH ORDINALITY AS x(title, anchor, offset_days, owner, reminders, n)
             WHERE c.org_id = NEW.org_id
               AND c.deleted_at IS NULL
               AND (c.direction IS NULL OR c.direction = NEW.direction)),
        ev AS (
            INSERT INTO events (id, org_id, uid, kind, title, description, timezone, all_day,
                                start_local, end_local, start_utc, end_utc, last_end_utc,
                                status, visibility, partners, parent_id, reminders, visit_id)
            SELECT t.eid, NEW.org_id, t.eid::text || '@liaison', 'deadline',
                   left(t.title || ': ' || NEW.title, 500),
                   liaison_task_description(NEW.title, t.anchor, t.offset_days, t.owner, 'open'),
                   NEW.timezone, true, t.due::timestamp, (t.due + 1)::timestamp,
                   t.due::timestamp AT TIME ZONE NEW.timezone,
                   (t.due + 1)::timestamp AT TIME ZONE NEW.timezone,
                   (t.due + 1)::timestamp AT TIME ZONE NEW.timezone,
                   CASE WHEN NEW.status = 'cancelled' THEN 'cancelled' ELSE 'confirmed' END,
                   'private', '{}', NEW.id,
                   CASE WHEN NEW.status = 'cancelled' THEN '{}' ELSE t.reminders END, NEW.id
              FROM t)
        INSERT INTO visit_tasks (id, visit_id, event_id, checklist_id, position, title, anchor,
                                 offset_days, owner, reminders, due)
        SELECT t.tid, NEW.id, t.eid, t.checklist_id, t.n, t.title, t.anchor, t.offset_days,
               t.owner, t.reminders, t.due
          FROM t;
        RETURN NULL;
    END IF;
    IF NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    UPDATE visit_tasks t
       SET due = liaison_task_due(t.anchor, t.offset_days, NEW.arrive, NEW.depart),
           overdue_at = NULL, version = t.version + 1, updated_at = now()
     WHERE t.visit_id = NEW.id
       AND t.state = 'open'
       AND t.due <> liaison_task_due(t.anchor, t.offset_days, NEW.arrive, NEW.depart);
    PERFORM liaison_task_events_sync(NEW.id, NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER visits_tasks AFTER INSERT OR UPDATE ON visits
    FOR EACH ROW EXECUTE FUNCTION liaison_visit_tasks();

-- A task changed through the API (its state, its owner): its event follows.
CREATE FUNCTION liaison_visit_task_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liaison_task_events_sync(NEW.visit_id, NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER visit_tasks_events AFTER UPDATE OF state, owner ON visit_tasks
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.owner IS DISTINCT FROM NEW.owner)
    EXECUTE FUNCTION liaison_visit_task_changed();

-- visit.task_overdue for the endpoints of the visit's org that may hear
-- of the visit (liaison_endpoint_sees_visit, 013) and take the type.
CREATE FUNCTION liaison_task_endpoints(v visits) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT w.id
      FROM webhook_endpoints w
     WHERE w.org_id = v.org_id
       AND w.enabled
       AND w.deleted_at IS NULL
       AND 'visit.task_overdue' = ANY (w.types)
       AND liaison_endpoint_sees_visit(w, v)
$$;
