/* scheduler_sql.h - the statements of the reminder scheduler and the
 * webhook sender (daemon/scheduler.c). Every step is one statement, so a
 * crash between two leaves nothing half done. */
#ifndef LIAISON_SCHEDULER_SQL_H
#define LIAISON_SCHEDULER_SQL_H

#include "core/agreement_sql.h"
#include "core/event_sql.h"
#include "core/remind_row.h"
#include "core/visit_sql.h"
#include "core/vevents_sql.h"

/* clang-format off */

/* Events whose reminders must be planned, with what planning needs. The
 * lower bound keeps pending reminders of a change (they are sent late
 * rather than never) and skips what was already due when it was made. */
#define SCHED_PLAN_CLAIM \
	"SELECT q.event_id," \
	"       q.ticket," \
	"       " REMIND_ROW_COLUMNS "," \
	"       extract(epoch FROM greatest(" \
	"         least(e.updated_at, (SELECT min(r.fire_at)" \
	"                                FROM reminders r" \
	"                               WHERE r.event_id = e.id" \
	"                                 AND r.state = 'pending'))," \
	"         now() - interval '7 days'))::bigint," \
	"       extract(epoch FROM e.updated_at)::bigint," \
	"       extract(epoch FROM now())::bigint" \
	"  FROM reminder_queue q" \
	"  JOIN events e ON e.id = q.event_id" \
	" WHERE q.queued_at <= now()" \
	" ORDER BY q.queued_at" \
	" LIMIT $1::int"

/* Writes the plans of a batch of events, each only if the event is
 * still at the version planned: per event $1 its id, $2 version, $3
 * queue ticket, $4 cutoff and $5 where its plan stops (NULL: complete);
 * per fire time $6 the event, $7 to $12 the occurrence's start and end,
 * their local texts, the trigger and the fire time. Pending rows no
 * longer planned go, new ones come (only if due after the change, the
 * cutoff), and rows already sent or missed are never touched. A
 * complete plan keeps no reminder_plans row (only SCHED_PLAN_EXTEND reads
 * them, for the plans that stop somewhere): writing one per event was
 * three of the eleven WAL records an event's plan cost. One
 * statement for the batch: per event, it cost a round trip and a commit
 * each (tests/bench/webhooks.sh). Rows are written in event order, so
 * that two instances planning the same events take their locks in the
 * same order. */
#define SCHED_PLAN_WRITE \
	"WITH b AS (" \
	"  SELECT *" \
	"    FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[])" \
	"         AS b(id, version, ticket, cutoff, until)), " \
	"cur AS (" \
	"  SELECT b.*" \
	"    FROM b" \
	"    JOIN events e ON e.id = b.id" \
	"                 AND e.version = b.version), " \
	"n AS (" \
	"  SELECT DISTINCT ON (n.eid, n.os, n.tr)" \
	"         n.eid, to_timestamp(n.os) AS os, to_timestamp(n.oe) AS oe, n.sl, n.el, n.tr," \
	"         n.fa, cur.cutoff" \
	"    FROM unnest($6::uuid[], $7::bigint[], $8::bigint[], $9::text[], $10::text[]," \
	"                $11::text[], $12::bigint[]) AS n(eid, os, oe, sl, el, tr, fa)" \
	"    JOIN cur ON cur.id = n.eid" \
	"   ORDER BY n.eid, n.os, n.tr), " \
	"del AS (" \
	"  DELETE FROM reminders r" \
	"   USING cur" \
	"   WHERE r.event_id = cur.id" \
	"     AND r.state = 'pending'" \
	"     AND NOT EXISTS (SELECT 1" \
	"                       FROM n" \
	"                      WHERE n.eid = r.event_id" \
	"                        AND n.os = r.occurrence_start" \
	"                        AND n.tr = r.trigger)), " \
	"ins AS (" \
	"  INSERT INTO reminders (event_id, occurrence_start, occurrence_end, start_local," \
	"                         end_local, trigger, fire_at)" \
	"  SELECT n.eid, n.os, n.oe, n.sl, n.el, n.tr, to_timestamp(n.fa)" \
	"    FROM n" \
	"   WHERE n.fa > n.cutoff" \
	"      OR EXISTS (SELECT 1" \
	"                   FROM reminders p" \
	"                  WHERE p.event_id = n.eid" \
	"                    AND p.state = 'pending'" \
	"                    AND p.occurrence_start = n.os" \
	"                    AND p.trigger = n.tr)" \
	"   ORDER BY n.eid, n.os, n.tr" \
	"  ON CONFLICT (event_id, occurrence_start, trigger) DO UPDATE" \
	"     SET occurrence_end = EXCLUDED.occurrence_end," \
	"         start_local = EXCLUDED.start_local," \
	"         end_local = EXCLUDED.end_local," \
	"         fire_at = EXCLUDED.fire_at" \
	"   WHERE reminders.state = 'pending'" \
	"  RETURNING 1), " \
	"pl AS (" \
	"  INSERT INTO reminder_plans (event_id, planned_until)" \
	"  SELECT id, to_timestamp(until)" \
	"    FROM cur" \
	"   WHERE until IS NOT NULL" \
	"   ORDER BY id" \
	"  ON CONFLICT (event_id) DO UPDATE" \
	"     SET planned_until = EXCLUDED.planned_until), " \
	"pd AS (" \
	"  DELETE FROM reminder_plans p" \
	"   USING cur" \
	"   WHERE p.event_id = cur.id" \
	"     AND cur.until IS NULL), " \
	"dq AS (" \
	"  DELETE FROM reminder_queue q" \
	"   USING b" \
	"   WHERE q.event_id = b.id" \
	"     AND q.ticket = b.ticket) " \
	"SELECT (SELECT count(*) FROM cur)," \
	"       (SELECT count(*) FROM ins)"

/* A plan that failed (event $1 at ticket $2, the reason $3) is parked:
 * taken again after a delay that doubles from 30 s up to 6 h, so that
 * rows that cannot be planned never hold the head of the queue. A change
 * to the event since (a new ticket) is planned at once instead. Returns
 * how many times it has failed. */
#define SCHED_PLAN_PARK \
	"UPDATE reminder_queue" \
	"   SET failures = failures + 1," \
	"       last_error = $3::text," \
	"       queued_at = now() + least(interval '30 seconds' * power(2, least(failures, 20))," \
	"                                 interval '6 hours')" \
	" WHERE event_id = $1::uuid" \
	"   AND ticket = $2::bigint" \
	" RETURNING failures"

/* Open-ended series whose plan ends within 30 days are planned further. */
#define SCHED_PLAN_EXTEND \
	"INSERT INTO reminder_queue (event_id)" \
	"SELECT p.event_id" \
	"  FROM reminder_plans p" \
	" WHERE p.planned_until < now() + interval '30 days' " \
	"ON CONFLICT (event_id) DO NOTHING"

/* Whether event ev waits to be planned again: its reminders may be of a
 * time it no longer has, planned before a change, and are not fired
 * meanwhile. A plan that cannot be made or written is parked (queued
 * later: SCHED_PLAN_PARK), and then they are fired as planned; so they
 * are after ten minutes in the queue (a planner that far behind, or
 * stopped). queued_at is when the change began, which a long import
 * commits well after. */
#define SCHED_REPLANNING(ev) \
	"EXISTS (SELECT 1" \
	"          FROM reminder_queue q" \
	"         WHERE q.event_id = " ev \
	"           AND q.queued_at <= now()" \
	"           AND q.queued_at > now() - interval '10 minutes')"

/* Reminders due, or due within $2 ms, become messages for every matching
 * endpoint, in the statement that marks them sent (an outbox); not those
 * of an event waiting to be planned again (SCHED_REPLANNING), nor those
 * of an event a change holds: the change's take-back (sql/019, 022) may
 * have run before the plan it raced was committed, and this statement's
 * snapshot has the event as it was (SKIP LOCKED: fired once the change
 * commits, from what is true then). A change committed between this
 * statement's snapshot and its lock is found too: the row locked is then
 * the change's (EvalPlanQual), whose xmin is not the snapshot's, and it
 * is left to the next fire. A message
 * waits for its reminder's fire time (next_attempt_at) and until then is
 * taken back by any change that could alter it (sql/019). A reminder
 * whose occurrence has ended is marked missed instead and sends nothing;
 * one whose occurrence will have ended by its fire time is left until it
 * falls due, so that it is judged by the occurrence as it is then.
 * The messages are claimed by claimer $3 as they are written (sql/022),
 * with a lease of $4 ms from their time, $5 at most, where it may hold
 * them: the endpoint is not rate-limited nor in $6 (slow), and no other
 * instance holds messages of it (liaison_claim_held, under its lock, as
 * a claim counts). Each reminder keeps the statement's snapshot
 * (fired_in), which SCHED_RETAKE compares with changes it could not see.
 * One row per message claimed, in SCHED_CLAIM's columns
 * and then whether it is due within $7 ms (its check is made: nothing
 * takes it back any more), and one last row of counts: reminders fired,
 * missed, messages written, the missed ones. */
#define SCHED_FIRE \
	"WITH due AS (" \
	"  SELECT r.id" \
	"    FROM reminders r" \
	"    JOIN events e ON e.id = r.event_id" \
	"   WHERE r.state = 'pending'" \
	"     AND r.fire_at <= now() + $2::bigint * interval '1 millisecond'" \
	"     AND (r.fire_at <= now() OR r.occurrence_end >= r.fire_at)" \
	"     AND NOT " SCHED_REPLANNING("r.event_id") \
	"     AND e.xmin = (SELECT s.xmin FROM events s WHERE s.id = r.event_id)" \
	"   ORDER BY r.fire_at" \
	"   LIMIT $1::int" \
	"     FOR UPDATE OF r SKIP LOCKED" \
	"     FOR SHARE OF e SKIP LOCKED), " \
	"fired AS (" \
	"  UPDATE reminders r" \
	"     SET state = CASE WHEN r.occurrence_end < now() THEN 'missed' ELSE 'sent' END," \
	"         fired_in = pg_current_snapshot()" \
	"    FROM due" \
	"   WHERE r.id = due.id" \
	"  RETURNING r.*), " \
	"cand AS MATERIALIZED (" \
	"  SELECT liaison_message_id() AS id, w AS endpoint_id, e.id AS event_id," \
	"         f.id AS reminder_id, greatest(f.fire_at, now()) AS at," \
	"         jsonb_build_object(" \
	"           'type', 'reminder.due'," \
	"           'timestamp', " EV_UTC("f.fire_at") "," \
	"           'data', jsonb_build_object(" \
	"             'event', " EVENT_JSON "," \
	"             'occurrence', jsonb_build_object(" \
	"               'start', f.start_local," \
	"               'end', f.end_local," \
	"               'start_utc', " EV_UTC("f.occurrence_start") "," \
	"               'end_utc', " EV_UTC("f.occurrence_end") ")," \
	"             'reminder', jsonb_build_object(" \
	"               'trigger', f.trigger," \
	"               'fire_at', " EV_UTC("f.fire_at") ")))::text AS body" \
	"    FROM fired f" \
	"    JOIN events e ON e.id = f.event_id" \
	"    JOIN orgs o ON o.id = e.org_id," \
	"         liaison_event_endpoints(e, 'reminder.due') w" \
	"   WHERE f.state = 'sent'" \
	"     AND e.status <> 'cancelled'), " \
	"mine AS MATERIALIZED (" \
	"  SELECT ARRAY(SELECT DISTINCT c.endpoint_id" \
	"                 FROM cand c" \
	"                 JOIN webhook_endpoints x ON x.id = c.endpoint_id" \
	"                WHERE x.rate_limit IS NULL" \
	"                  AND x.id <> ALL ($6::uuid[])) AS eps" \
	"   WHERE $5::int > 0), " \
	"busy AS MATERIALIZED (" \
	"  SELECT b.*" \
	"    FROM mine," \
	"         liaison_claim_held(mine.eps, $3::uuid) b), " \
	"pick AS (" \
	"  SELECT c.*," \
	"         c.endpoint_id = ANY ((SELECT eps FROM mine)::uuid[])" \
	"           AND NOT EXISTS (SELECT 1" \
	"                             FROM busy b" \
	"                            WHERE b.endpoint_id = c.endpoint_id" \
	"                              AND b.others > 0)" \
	"           AND row_number() OVER (ORDER BY c.at, c.id) <= $5::int AS hold" \
	"    FROM cand c), " \
	"msgs AS (" \
	"  INSERT INTO webhook_messages (id, endpoint_id, type, event_id, reminder_id," \
	"                                next_attempt_at, body, state, claimed_by, lease_until)" \
	"  SELECT p.id, p.endpoint_id, 'reminder.due', p.event_id, p.reminder_id, p.at, p.body," \
	"         CASE WHEN p.hold THEN 'sending' ELSE 'pending' END," \
	"         CASE WHEN p.hold THEN $3::uuid END," \
	"         CASE WHEN p.hold THEN p.at + $4::bigint * interval '1 millisecond' END" \
	"    FROM pick p" \
	"  RETURNING id, endpoint_id, body, next_attempt_at, state) " \
	"SELECT m.id, m.endpoint_id, m.body, 1, w.url, w.secret," \
	"       CASE WHEN w.previous_until > now() THEN w.previous_secret END, w.rate_limit," \
	"       0, 0, (extract(epoch FROM m.next_attempt_at) * 1000)::bigint," \
	"       m.next_attempt_at <= now() + $7::bigint * interval '1 millisecond'," \
	"       NULL, NULL, NULL, NULL" \
	"  FROM msgs m" \
	"  JOIN webhook_endpoints w ON w.id = m.endpoint_id" \
	" WHERE m.state = 'sending'" \
	" UNION ALL " \
	"SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," \
	"       (SELECT count(*) FROM fired)," \
	"       (SELECT count(*) FROM fired WHERE state = 'missed')," \
	"       (SELECT count(*) FROM msgs)," \
	"       (SELECT string_agg(event_id || ' ' || trigger || ' ' || " \
	"                          " EV_UTC("occurrence_end") ", ', ')" \
	"          FROM fired" \
	"         WHERE state = 'missed')"

/* The reminders fired ahead by a fire whose snapshot did not see one of
 * the committed transactions $1 (xid8[]), taken back as those
 * transactions' own take-back (sql/019, 022) would have taken them had the
 * fire committed first: their messages not yet in their last 100 ms are
 * deleted, and a reminder left with none is pending again, to be fired
 * from what is true now (sql/028). Each row is judged by its own fired_in,
 * also as it is met again after waiting for another writer: a reminder
 * fired again meanwhile, by a fire that saw those transactions, stays. A
 * reminder fired before sql/028 has no snapshot, and is taken back. One
 * row: the reminders made pending (retake.c fires again at once);
 * whether a transaction of the daemon's role may still be a fire that
 * missed one of $1, to commit later (its client gave up at the deadline;
 * its commit waits for a WAL flush or a standby): one whose snapshot's
 * xmin is not after the newest of $1, or one that writes and began by
 * $2 (Unix seconds), when the first take-back for them was made (none
 * yet: now); and the database's clock, as $2 takes it. */
#define RETAKE_MISSED(r) \
	"(" r ".fired_in IS NULL" \
	" OR EXISTS (SELECT 1" \
	"              FROM unnest($1::xid8[]) x" \
	"             WHERE NOT pg_visible_in_snapshot(x, " r ".fired_in)))"
#define SCHED_RETAKE \
	"WITH gone AS (" \
	"  DELETE FROM webhook_messages m" \
	"   USING reminders r" \
	"   WHERE r.state = 'sent'" \
	"     AND r.fire_at > now()" \
	"     AND " RETAKE_MISSED("r") \
	"     AND m.reminder_id = r.id" \
	"     AND m.attempts = 0" \
	"     AND (m.state IN ('pending', 'cancelled')" \
	"          OR (m.state = 'sending'" \
	"              AND m.next_attempt_at > clock_timestamp() + interval '100 milliseconds'))" \
	"  RETURNING m.id, m.reminder_id), " \
	"back AS (" \
	"  UPDATE reminders r" \
	"     SET state = 'pending'" \
	"   WHERE r.state = 'sent'" \
	"     AND r.fire_at > now()" \
	"     AND " RETAKE_MISSED("r") \
	"     AND NOT EXISTS (SELECT 1" \
	"                       FROM webhook_messages m" \
	"                      WHERE m.reminder_id = r.id" \
	"                        AND m.id NOT IN (SELECT id FROM gone))" \
	"  RETURNING r.id) " \
	"SELECT count(*)," \
	"       EXISTS (SELECT 1" \
	"                 FROM pg_stat_activity a" \
	"                WHERE a.usename = current_user" \
	"                  AND a.datname = current_database()" \
	"                  AND a.pid <> pg_backend_pid()" \
	"                  AND (age(a.backend_xmin) >= (SELECT min(age(xid(x)))" \
	"                                                FROM unnest($1::xid8[]) x)" \
	"                       OR a.backend_xid IS NOT NULL" \
	"                          AND a.xact_start <= coalesce(to_timestamp($2::float8), now())))," \
	"       extract(epoch FROM now())::text" \
	"  FROM back"
/* A transaction id that commits now: a fire whose snapshot does not see
 * it began before now (retake.c, for changes it may not have heard). */
#define SCHED_RETAKE_MARK "SELECT pg_current_xact_id()::text"

/* Which of the messages $1 that claimer $2 holds ahead of their time
 * (SCHED_FIRE) are still its own, in the order given: a change since may
 * have taken one back (sql/022). Read only: nothing is written. */
#define SCHED_HELD_CHECK \
	"SELECT EXISTS (SELECT 1" \
	"                 FROM webhook_messages m" \
	"                WHERE m.id = x.id" \
	"                  AND m.state = 'sending'" \
	"                  AND m.claimed_by = $2::uuid)" \
	"  FROM unnest($1::text[]) WITH ORDINALITY AS x(id, n)" \
	" ORDER BY x.n"

/* Open tasks of visits (sql/016) whose deadline has passed (the end of
 * their day in the visit's zone), $1 at most, each told once: marked
 * (overdue_at) in the statement that writes visit.task_overdue for the
 * endpoints of the visit's org (liaison_task_endpoints), whose bodies are
 * built when claimed. A deadline moved later is told again when it
 * passes (sql/016 clears overdue_at). The date bound lets the partial
 * index visit_tasks_open find them: a deadline's day has ended only if it
 * is at most the day after UTC's today. */
#define SCHED_TASKS_OVERDUE \
	"WITH due AS (" \
	"  SELECT t.id, t.visit_id" \
	"    FROM visit_tasks t" \
	"    JOIN events e ON e.id = t.event_id" \
	"   WHERE t.state = 'open'" \
	"     AND t.overdue_at IS NULL" \
	"     AND t.due <= (now() AT TIME ZONE 'UTC')::date + 1" \
	"     AND e.end_utc <= now()" \
	"     AND e.status <> 'cancelled'" \
	"   ORDER BY e.end_utc" \
	"   LIMIT $1::int" \
	"     FOR UPDATE OF t SKIP LOCKED), " \
	"marked AS (" \
	"  UPDATE visit_tasks t" \
	"     SET overdue_at = now()" \
	"    FROM due" \
	"   WHERE t.id = due.id" \
	"  RETURNING t.id, t.visit_id), " \
	"msgs AS (" \
	"  INSERT INTO webhook_messages (id, endpoint_id, type, visit_id, task_id)" \
	"  SELECT liaison_message_id(), w, 'visit.task_overdue', v.id, m.id" \
	"    FROM marked m" \
	"    JOIN visits v ON v.id = m.visit_id," \
	"         liaison_task_endpoints(v) w" \
	"  RETURNING 1) " \
	"SELECT (SELECT count(*) FROM marked)," \
	"       (SELECT count(*) FROM msgs)"

/* When the next reminder is to be fired ($1 ms ahead of its fire time) or
 * message claimed ($2 ms ahead of its time), in Unix milliseconds. One of
 * an event waiting to be planned again is left to the plan's write, which
 * fires next (planner.c), and to the poll. */
#define SCHED_NEXT_DUE \
	"SELECT (extract(epoch FROM least(" \
	"          (SELECT r.fire_at" \
	"             FROM reminders r" \
	"            WHERE r.state = 'pending'" \
	"              AND NOT " SCHED_REPLANNING("r.event_id") \
	"            ORDER BY r.fire_at" \
	"            LIMIT 1)" \
	"            - $1::bigint * interval '1 millisecond'," \
	"          (SELECT min(next_attempt_at) FROM webhook_messages WHERE state = 'pending')" \
	"            - $2::bigint * interval '1 millisecond'," \
	"          (SELECT min(lease_until) FROM webhook_messages WHERE state = 'sending')))" \
	"        * 1000)::bigint"

/* What a claim reads of each message as it locks it (the newest version,
 * FOR UPDATE): what its checks need, so that they do not look each
 * message up again by its key. */
#define CLAIM_COLUMNS \
	"m.id, m.endpoint_id, m.next_attempt_at, m.event_id, m.agreement_id, m.task_id," \
	" m.visit_id, m.reminder_id, m.created_at, m.attempts"

/* Claims messages due within $7 ms ($2 at most; each is sent at its time,
 * sql/019) with a lease ($4 ms): per endpoint,
 * at most $3 claimed over all instances (ahead of its $6 places), or $6
 * when another instance holds some of its messages (so that the places
 * stay the endpoint's over all instances) or it is in $5 (slow), fewer
 * for rate-limited ones. What is held is counted under a lock per
 * endpoint (liaison_claim_held, sql/021), so two claims at the same
 * instant do not both count nothing held. Each
 * claim asks again whether the endpoint may be told about the message's
 * event, agreement or visit (011, 013: its org may see it, its filter
 * passes it; a visit's delegates only to orgs party to it; a task, 016,
 * only to its visit's org and while it is open and overdue), in
 * the statement that builds the body of a change notification when it is
 * first claimed, so the decision and the body come from one snapshot. A
 * message that no longer passes is cancelled, never sent. The question
 * is asked only of messages whose subject or endpoint changed since the
 * message was written (the answer given then stands otherwise): asked of
 * every message, it halved the deliveries a second. A reminder first
 * claimed after its occurrence has ended (written ahead of its fire time,
 * sql/019, and not sent in time: this instance was down) is not sent and
 * its reminder is missed, as if it had been fired late. The attempt
 * number returned is the one about to be made; attempts are counted when
 * they are recorded (SCHED_REPORT). */
#define SCHED_CLAIM \
	"WITH eps AS MATERIALIZED (" \
	"  SELECT w.id" \
	"    FROM webhook_endpoints w" \
	"   WHERE w.enabled" \
	"     AND w.deleted_at IS NULL" \
	"     AND EXISTS (SELECT 1" \
	"                   FROM webhook_messages m" \
	"                  WHERE m.endpoint_id = w.id" \
	"                    AND m.state = 'pending'" \
	"                    AND m.next_attempt_at <= now() + $7::bigint * interval '1 millisecond')), " \
	"busy AS (" \
	"  SELECT *" \
	"    FROM liaison_claim_held(ARRAY(SELECT id FROM eps), $1::uuid)), " \
	"due AS (" \
	"  SELECT d.*" \
	"    FROM eps" \
	"    JOIN webhook_endpoints w ON w.id = eps.id" \
	"    LEFT JOIN busy b ON b.endpoint_id = w.id" \
	"   CROSS JOIN LATERAL (SELECT CASE WHEN w.id = ANY ($5::uuid[])" \
	"                                     OR coalesce(b.others, 0) > 0 THEN $6::int" \
	"                                   ELSE $3::int END AS cap) c" \
	"   CROSS JOIN LATERAL (" \
	"     SELECT " CLAIM_COLUMNS \
	"       FROM webhook_messages m" \
	"      WHERE m.endpoint_id = w.id" \
	"        AND m.state = 'pending'" \
	"        AND m.next_attempt_at <= now() + $7::bigint * interval '1 millisecond'" \
	"      ORDER BY m.next_attempt_at" \
	"      LIMIT (SELECT greatest(0, least(c.cap, greatest(1, floor(coalesce(w.rate_limit * 5," \
	"                                                                       c.cap)))::int)" \
	"                                - coalesce(b.n, 0)))" \
	"        FOR UPDATE OF m SKIP LOCKED) d), " \
	"lapsed AS (" \
	"  SELECT " CLAIM_COLUMNS \
	"    FROM webhook_messages m" \
	"   WHERE m.state = 'sending'" \
	"     AND m.lease_until < now()" \
	"     AND EXISTS (SELECT 1 FROM webhook_endpoints w" \
	"                  WHERE w.id = m.endpoint_id AND w.enabled AND w.deleted_at IS NULL)" \
	"   ORDER BY m.lease_until" \
	"   LIMIT $2::int" \
	"     FOR UPDATE OF m SKIP LOCKED), " \
	"pick AS (" \
	"  SELECT c.*" \
	"    FROM (SELECT * FROM due" \
	"          UNION ALL" \
	"          SELECT * FROM lapsed) c" \
	"   ORDER BY c.next_attempt_at" \
	"   LIMIT $2::int), " \
	"chk AS (" \
	"  SELECT m.id," \
	"         CASE WHEN m.event_id IS NOT NULL THEN" \
	"                EXISTS (SELECT 1 FROM events e" \
	"                         WHERE e.id = m.event_id" \
	"                           AND ((e.updated_at <= m.created_at" \
	"                                 AND w.updated_at <= m.created_at)" \
	"                                OR liaison_endpoint_sees_event(w, e)))" \
	"              WHEN m.agreement_id IS NOT NULL THEN" \
	"                EXISTS (SELECT 1 FROM agreements a" \
	"                         WHERE a.id = m.agreement_id" \
	"                           AND ((a.updated_at <= m.created_at" \
	"                                 AND w.updated_at <= m.created_at)" \
	"                                OR liaison_endpoint_sees_agreement(w, a)))" \
	"              WHEN m.task_id IS NOT NULL THEN" \
	"                EXISTS (SELECT 1 FROM visit_tasks t" \
	"                          JOIN visits v ON v.id = t.visit_id" \
	"                          JOIN events e ON e.id = t.event_id" \
	"                         WHERE t.id = m.task_id" \
	"                           AND t.state = 'open'" \
	"                           AND e.status <> 'cancelled'" \
	"                           AND e.end_utc <= now()" \
	"                           AND v.org_id = w.org_id" \
	"                           AND ((v.updated_at <= m.created_at" \
	"                                 AND w.updated_at <= m.created_at)" \
	"                                OR liaison_endpoint_sees_visit(w, v)))" \
	"              WHEN m.visit_id IS NOT NULL THEN" \
	"                EXISTS (SELECT 1 FROM visits v" \
	"                         WHERE v.id = m.visit_id" \
	"                           AND ((v.updated_at <= m.created_at" \
	"                                 AND w.updated_at <= m.created_at)" \
	"                                OR liaison_endpoint_sees_visit(w, v)))" \
	"              ELSE true END AS ok," \
	"         m.reminder_id IS NOT NULL" \
	"           AND m.attempts = 0" \
	"           AND EXISTS (SELECT 1 FROM reminders r" \
	"                        WHERE r.id = m.reminder_id" \
	"                          AND r.occurrence_end < now()) AS late" \
	"    FROM pick m" \
	"    JOIN webhook_endpoints w ON w.id = m.endpoint_id), " \
	"withheld AS (" \
	"  UPDATE webhook_messages m" \
	"     SET state = 'cancelled'," \
	"         finished_at = now()," \
	"         lease_until = NULL," \
	"         claimed_by = NULL," \
	"         last_error = CASE WHEN chk.late THEN 'not sent: its occurrence had ended'" \
	"                           ELSE 'not sent: the endpoint''s org may no longer see its " \
	"subject, or its filter no longer passes it' END" \
	"    FROM chk" \
	"   WHERE m.id = chk.id" \
	"     AND (NOT chk.ok OR chk.late)" \
	"  RETURNING m.id, m.reminder_id, chk.late), " \
	"missed AS (" \
	"  UPDATE reminders r" \
	"     SET state = 'missed'" \
	"   WHERE r.id IN (SELECT reminder_id FROM withheld WHERE late)" \
	"  RETURNING 1), " \
	"upd AS (" \
	"  UPDATE webhook_messages m" \
	"     SET state = 'sending'," \
	"         claimed_by = $1::uuid," \
	"         lease_until = now() + $4::bigint * interval '1 millisecond'," \
	"         body = coalesce(m.body, CASE" \
	"           WHEN m.event_id IS NOT NULL THEN (" \
	"             SELECT jsonb_build_object('type', m.type, 'timestamp', " EV_UTC("m.created_at") "," \
	"                                       'data', jsonb_build_object('event', " EVENT_JSON "))::text" \
	"               FROM events e" \
	"               JOIN orgs o ON o.id = e.org_id" \
	"              WHERE e.id = m.event_id)" \
	"           WHEN m.agreement_id IS NOT NULL THEN (" \
	"             SELECT jsonb_build_object('type', m.type, 'timestamp', " EV_UTC("m.created_at") "," \
	"                                       'data', jsonb_build_object('agreement', (" AG_JSON("we.org_id", "wo.slug") ")::jsonb))::text" \
	"               FROM agreements a" \
	"               JOIN orgs o ON o.id = a.org_id," \
	"                    webhook_endpoints we" \
	"               JOIN orgs wo ON wo.id = we.org_id" \
	"              WHERE a.id = m.agreement_id" \
	"                AND we.id = m.endpoint_id)" \
	"           WHEN m.task_id IS NOT NULL THEN (" \
	"             SELECT jsonb_build_object('type', m.type, 'timestamp', " EV_UTC("m.created_at") "," \
	"                                       'data', jsonb_build_object(" \
	"                                         'visit', " VISIT_JSON("true", "'{}'::jsonb") "," \
	"                                         'task', " VISIT_TASK_JSON "))::text" \
	"               FROM visit_tasks t" \
	"               JOIN events e ON e.id = t.event_id" \
	"               JOIN visits v ON v.id = t.visit_id" \
	"               JOIN orgs o ON o.id = v.org_id" \
	"              WHERE t.id = m.task_id)" \
	"           WHEN m.visit_id IS NOT NULL THEN (" \
	"             SELECT jsonb_build_object('type', m.type, 'timestamp', " EV_UTC("m.created_at") "," \
	"                                       'data', jsonb_build_object('visit', " \
	"                      " VISIT_JSON("liaison_visit_party(v, (SELECT x.org_id" \
	"                                                              FROM webhook_endpoints x" \
	"                                                             WHERE x.id = m.endpoint_id))", \
	                                    "'{}'::jsonb") "))::text" \
	"               FROM visits v" \
	"               JOIN orgs o ON o.id = v.org_id" \
	"              WHERE v.id = m.visit_id)" \
	"           END)" \
	"    FROM chk" \
	"   WHERE m.id = chk.id" \
	"     AND chk.ok" \
	"     AND NOT chk.late" \
	"  RETURNING m.id, m.endpoint_id, m.body, m.attempts + 1 AS attempt, m.next_attempt_at) " \
	"SELECT u.id, u.endpoint_id, u.body, u.attempt, w.url, w.secret," \
	"       CASE WHEN w.previous_until > now() THEN w.previous_secret END, w.rate_limit," \
	"       (SELECT count(*) FROM withheld WHERE NOT late)," \
	"       (SELECT count(*) FROM missed)," \
	"       (extract(epoch FROM u.next_attempt_at) * 1000)::bigint" \
	"  FROM upd u" \
	"  JOIN webhook_endpoints w ON w.id = u.endpoint_id" \
	" UNION ALL " \
	"SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," \
	"       count(*) FILTER (WHERE NOT late), (SELECT count(*) FROM missed), NULL" \
	"  FROM withheld" \
	" WHERE NOT EXISTS (SELECT 1 FROM upd)" \
	"HAVING count(*) > 0"

/* The outcomes of a batch of attempts by claimer $1: per attempt $2 the
 * message, $3 its new state, $4 the delay before the next attempt (ms;
 * NULL: due when it was), $5 the status code, $6 the error, $7 success,
 * $8 the duration (ms), $9 the answer, $10 410 Gone, $12 whether an attempt was made at all (a
 * message handed back unsent, its endpoint's rate limit being far off,
 * is neither counted nor logged); $11 how long an endpoint may fail (ms).
 * An endpoint is written only when its state changes (one row that every
 * attempt would otherwise queue on); one that answered 410 or has failed
 * for too long is disabled and the org's other endpoints hear of it. A
 * message is found by its key and its claimer alone: claimed_by is set
 * only with 'sending' and cleared on every way out of it, and a test of
 * the state let the planner start from the partial index of 'sending'
 * rows, under statistics taken before the burst, and compare every row
 * claimed with every row reported (a nested loop of the two). An attempt
 * is logged only for a message found: one held ahead of its time can be
 * taken back (sql/022) in the instant it is sent. */
#define SCHED_REPORT \
	"WITH r AS (" \
	"  SELECT *" \
	"    FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[]," \
	"                $7::boolean[], $8::int[], $9::text[], $10::boolean[], $12::boolean[])" \
	"         AS r(id, state, delay, status, error, ok, dur, resp, gone, tried)), " \
	"m AS (" \
	"  UPDATE webhook_messages m" \
	"     SET state = r.state," \
	"         next_attempt_at = coalesce(now() + r.delay * interval '1 millisecond'," \
	"                                    m.next_attempt_at)," \
	"         lease_until = NULL," \
	"         claimed_by = NULL," \
	"         finished_at = CASE WHEN r.state IN ('delivered', 'failed') THEN now() END," \
	"         attempts = m.attempts + CASE WHEN r.tried THEN 1 ELSE 0 END," \
	"         last_status = CASE WHEN r.tried THEN r.status ELSE m.last_status END," \
	"         last_error = CASE WHEN r.tried THEN r.error ELSE m.last_error END" \
	"    FROM r" \
	"   WHERE m.id = r.id" \
	"     AND m.claimed_by = $1::uuid" \
	"  RETURNING m.id, m.endpoint_id, r.ok, r.gone, r.tried), " \
	"a AS (" \
	"  INSERT INTO webhook_attempts (message_id, attempted_at, status_code, duration_ms, error," \
	"                                response)" \
	"  SELECT r.id, now() - r.dur * interval '1 millisecond', r.status, r.dur, r.error, r.resp" \
	"    FROM r" \
	"    JOIN m ON m.id = r.id" \
	"   WHERE r.tried), " \
	"e AS (" \
	"  SELECT endpoint_id, bool_or(ok) AS ok, bool_or(gone) AS gone" \
	"    FROM m" \
	"   WHERE m.tried" \
	"   GROUP BY endpoint_id), " \
	"x AS (" \
	"  SELECT w.id, e.ok," \
	"         CASE WHEN e.gone THEN 'the endpoint answered 410 Gone'" \
	"              WHEN NOT e.ok" \
	"                   AND w.failing_since <= now() - $11::bigint * interval '1 millisecond'" \
	"              THEN 'every attempt has failed since ' || " EV_UTC("w.failing_since") \
	"         END AS reason" \
	"    FROM e" \
	"    JOIN webhook_endpoints w ON w.id = e.endpoint_id" \
	"   WHERE w.enabled" \
	"     AND (e.gone" \
	"          OR e.ok = (w.failing_since IS NOT NULL)" \
	"          OR (NOT e.ok" \
	"              AND w.failing_since <= now() - $11::bigint * interval '1 millisecond'))), " \
	"ep AS (" \
	"  UPDATE webhook_endpoints w" \
	"     SET failing_since = CASE WHEN x.ok THEN NULL ELSE coalesce(w.failing_since, now()) END," \
	"         enabled = x.reason IS NULL," \
	"         disabled_reason = x.reason," \
	"         disabled_at = CASE WHEN x.reason IS NOT NULL THEN now() END" \
	"    FROM x" \
	"   WHERE w.id = x.id" \
	"  RETURNING w.id, w.org_id, w.url, w.description, w.enabled, w.disabled_reason), " \
	"d AS (" \
	"  INSERT INTO webhook_messages (id, endpoint_id, type, body)" \
	"  SELECT liaison_message_id(), o.id, 'endpoint.disabled'," \
	"         jsonb_build_object(" \
	"           'type', 'endpoint.disabled'," \
	"           'timestamp', " EV_UTC("now()") "," \
	"           'data', jsonb_build_object(" \
	"             'endpoint', jsonb_build_object(" \
	"               'id', ep.id," \
	"               'url', ep.url," \
	"               'description', ep.description," \
	"               'disabled_reason', ep.disabled_reason)))::text" \
	"    FROM ep" \
	"    JOIN webhook_endpoints o ON o.org_id = ep.org_id" \
	"                            AND o.id <> ep.id" \
	"                            AND o.enabled" \
	"                            AND o.deleted_at IS NULL" \
	"                            AND 'endpoint.disabled' = ANY (o.types)" \
	"   WHERE NOT ep.enabled" \
	"  RETURNING 1) " \
	"SELECT (SELECT string_agg(id || ': ' || disabled_reason, '; ') FROM ep WHERE NOT enabled)," \
	"       (SELECT count(*) FROM d)"

/* The warmer's pass (warmer.c), WARM_BATCH events at a time in id order
 * after $1: those feeds show whose plain text stored by renderer $2 is
 * missing or out of date. */
#define WARM_BATCH 200
#define SQL_NUMBER_(n) #n
#define SQL_NUMBER(n)  SQL_NUMBER_(n)
#define SQL_WARM_BATCH \
	VEVENT_SELECT \
	"WHERE e.id > $1::uuid" \
	"  AND " VEVENT_IN_FEEDS \
	"  AND NOT " VEVENT_STORED("false", "$2") \
	" ORDER BY e.id" \
	" LIMIT " SQL_NUMBER(WARM_BATCH)

/* The follow-through of agreements (follow.c): each live agreement that
 * is dormant or expiring today (sql/017's rules) and has no notice of it
 * yet gets one, $1 at most, with an agreement.dormant or
 * agreement.expiring message for every endpoint that may be told (011's
 * rule, asked again when the message is claimed, whose body is built
 * then). A notice's key (the last activity before the dormancy, the
 * expiry date) makes it once: an instance that finds it written sends
 * nothing, and one that writes it meanwhile waits on the key and then
 * sends nothing either. Returns the agreements dormant and expiring now,
 * the notices written and the messages queued. */
#define SCHED_FOLLOW \
	"WITH st AS (" \
	"  SELECT a.id," \
	"         a.expires_on," \
	"         liaison_agreement_last_activity(a, liaison_agreement_today(a)) AS last," \
	"         liaison_agreement_dormant(a, liaison_agreement_today(a)) AS dormant," \
	"         liaison_agreement_expiring(a, liaison_agreement_today(a)) AS expiring" \
	"    FROM agreements a" \
	"   WHERE liaison_agreement_live(a.stage)), " \
	"due AS (" \
	"  SELECT st.id, 'agreement.dormant' AS type, st.last AS key" \
	"    FROM st" \
	"   WHERE st.dormant" \
	"  UNION ALL" \
	"  SELECT st.id, 'agreement.expiring', st.expires_on" \
	"    FROM st" \
	"   WHERE st.expiring), " \
	"fresh AS (" \
	"  SELECT d.*" \
	"    FROM due d" \
	"   WHERE NOT EXISTS (SELECT 1" \
	"                       FROM agreement_notices n" \
	"                      WHERE n.agreement_id = d.id" \
	"                        AND n.type = d.type" \
	"                        AND n.key = d.key)" \
	"   ORDER BY d.id, d.type" \
	"   LIMIT $1::int), " \
	"ins AS (" \
	"  INSERT INTO agreement_notices (agreement_id, type, key)" \
	"  SELECT id, type, key" \
	"    FROM fresh " \
	"  ON CONFLICT DO NOTHING" \
	"  RETURNING agreement_id, type), " \
	"msgs AS (" \
	"  INSERT INTO webhook_messages (id, endpoint_id, type, agreement_id)" \
	"  SELECT liaison_message_id(), w, ins.type, a.id" \
	"    FROM ins" \
	"    JOIN agreements a ON a.id = ins.agreement_id," \
	"         liaison_agreement_endpoints(a, ins.type) w" \
	"  RETURNING 1) " \
	"SELECT (SELECT count(*) FROM st WHERE dormant)," \
	"       (SELECT count(*) FROM st WHERE expiring)," \
	"       (SELECT count(*) FROM ins)," \
	"       (SELECT count(*) FROM msgs)"

/* Rows whose instants were computed in SQL (sql/031), $1 at most, with
 * what event_times reads (rdates as their all_day writes them) and the
 * instants they hold (last_end_utc NULL: no end). */
#define SCHED_REPAIR_READ \
	"SELECT e.id, e.version, e.timezone, e.all_day," \
	"       to_char(e.start_local, 'YYYY-MM-DD\"T\"HH24:MI:SS')," \
	"       to_char(e.end_local, 'YYYY-MM-DD\"T\"HH24:MI:SS')," \
	"       e.rrule," \
	"       array_to_json(ARRAY(SELECT to_char(r, CASE WHEN e.all_day THEN 'YYYY-MM-DD'" \
	"                                             ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS' END)" \
	"                             FROM unnest(e.rdates) AS r))::text," \
	"       extract(epoch FROM e.start_utc)::bigint," \
	"       extract(epoch FROM e.end_utc)::bigint," \
	"       extract(epoch FROM nullif(e.last_end_utc, 'infinity'))::bigint," \
	"       extract(epoch FROM e.rdates_from)::bigint" \
	"  FROM events_instants_due d" \
	"  JOIN events e ON e.id = d.event_id" \
	" ORDER BY d.event_id" \
	" LIMIT $1::integer"
/* The rows read ($1, at versions $2) that are still at those versions
 * are locked in id order (as 029's follow locks overrides) and leave the
 * list; those of them whose instants differ ($3) get the daemon's ($4
 * start, $5 end, $6 last end or NULL for none, $7 earliest RDATE or
 * NULL). No new version, no webhook: the wall times a calendar shows are
 * the same. A row written since stays listed, to be read again. */
#define SCHED_REPAIR_WRITE \
	"WITH l AS (" \
	"  SELECT e.id" \
	"    FROM events e" \
	"    JOIN unnest($1::uuid[], $2::integer[]) AS r(id, version)" \
	"      ON r.id = e.id" \
	"     AND r.version = e.version" \
	"   ORDER BY e.id" \
	"     FOR UPDATE OF e), " \
	"w AS (" \
	"  UPDATE events e" \
	"     SET start_utc = to_timestamp(x.s)," \
	"         end_utc = to_timestamp(x.e)," \
	"         last_end_utc = coalesce(to_timestamp(x.l), 'infinity')," \
	"         rdates_from = to_timestamp(x.f)" \
	"    FROM unnest($3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])" \
	"         AS x(id, s, e, l, f)" \
	"   WHERE e.id = x.id" \
	"     AND e.id IN (SELECT id FROM l)" \
	"  RETURNING e.id), " \
	"d AS (" \
	"  DELETE FROM events_instants_due q" \
	"   USING l" \
	"   WHERE q.event_id = l.id) " \
	"SELECT count(*) FROM w"

/* clang-format on */

#endif
