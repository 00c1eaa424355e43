-- 030_task_instants.sql: a protocol task's deadline event (016) takes its
-- instants from the daemon's zone data, as every other row does.
--
-- 016 computed them with AT TIME ZONE, which disagrees with common/tz.c
-- (029 says where: CET, EET, MET and WET read as fixed offsets, the later
-- instant of a fold, a midnight the clocks skip, other data for some
-- zones and years). A deadline of a visit in such a zone was listed,
-- windowed and shown busy an hour away from the day its calendar shows.
--
-- As for 029, the daemon hands the triggers the answers: before it writes
-- a visit it reads the days its tasks may fall on and puts the instants
-- of their midnights, in the visit's zone as written, in the
-- transaction's setting liaison.instants (api/visit_hints.c). A writer
-- that gives none (psql) gets AT TIME ZONE, as before. A write that
-- hands none (a task marked done, a delegate deleted) keeps the instants
-- of a deadline whose day and zone stay; a visit write hands them for
-- every task's day, so it also mends one converted without them.

-- The instant a deadline's day (or the day after it, its end) begins in
-- zone, as hints give it, else AT TIME ZONE.
CREATE FUNCTION liaison_task_instant(day date, zone text, hints jsonb) RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT liaison_local_instant(day::timestamp, zone, hints, day::timestamp AT TIME ZONE zone) $$;

CREATE OR REPLACE FUNCTION liaison_task_events_sync(vid uuid, tid uuid) RETURNS void
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
                   CASE WHEN h.hints IS NULL
                             AND (d.timezone, d.start_local) = (v.timezone, t.due::timestamp)
                        THEN d.start_utc
                        ELSE liaison_task_instant(t.due, v.timezone, h.hints) END AS start_utc,
                   CASE WHEN h.hints IS NULL
                             AND (d.timezone, d.start_local) = (v.timezone, t.due::timestamp)
                        THEN d.end_utc
                        ELSE liaison_task_instant(t.due + 1, v.timezone, h.hints) END AS end_utc,
                   CASE WHEN v.status = 'cancelled' OR t.state = 'not_needed' THEN 'cancelled'
                        ELSE 'confirmed' END AS status,
                   CASE WHEN v.status <> 'cancelled' AND t.state = 'open' THEN t.reminders
                        ELSE '{}'::text[] END AS reminders
              FROM visit_tasks t
              JOIN visits v ON v.id = t.visit_id
              JOIN events d ON d.id = t.event_id,
                   (SELECT nullif(current_setting('liaison.instants', true), '')::jsonb AS hints) h
             WHERE t.visit_id = vid
               AND (tid IS NULL OR t.id = tid)) x
     WHERE e.id = x.event_id
       AND (e.title, e.description, e.timezone, e.start_local, e.end_local, e.start_utc,
            e.end_utc, e.status, e.reminders)
           IS DISTINCT FROM
           (x.title, x.description, x.timezone, x.start_local, x.end_local, x.start_utc,
            x.end_utc, x.status, x.reminders)
$$;

CREATE OR REPLACE FUNCTION liaison_visit_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    hints jsonb := nullif(current_setting('liaison.instants', true), '')::jsonb;
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
                   liaison_task_instant(t.due, NEW.timezone, hints),
                   liaison_task_instant(t.due + 1, NEW.timezone, hints),
                   liaison_task_instant(t.due + 1, NEW.timezone, hints),
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
