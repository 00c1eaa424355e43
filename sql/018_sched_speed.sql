-- 018_sched_speed.sql: the scheduler's statements at ten thousand
-- reminders a second (issue 19).
--
-- liaison_endpoint_sees_event (011, 013) keeps its rule, word for word,
-- but in PL/pgSQL: as a SQL function it cannot be inlined (its
-- sub-selects), so every call was planned afresh and cost about 0.3 ms,
-- which made firing 1,000 reminders take a second (tests/bench/webhooks.sh).
-- PL/pgSQL keeps its plans for the session, and the rule stops at the
-- first part that decides it: an org that may not see the event, or an
-- endpoint without a filter. Every caller asks it in a WHERE (a NULL of
-- the old function was never a yes), so "not true" answers false.

CREATE OR REPLACE FUNCTION liaison_endpoint_sees_event(w webhook_endpoints, e events)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF (e.visibility = 'network'
        OR e.org_id = w.org_id
        OR (SELECT o.slug FROM orgs o WHERE o.id = w.org_id) = ANY (e.partners)) IS NOT TRUE THEN
        RETURN false;
    END IF;
    IF w.filter = '{}'::jsonb THEN
        RETURN true;
    END IF;
    RETURN coalesce(liaison_filter_matches(w.filter, e)
                    AND (NOT w.filter ? 'people'
                         OR liaison_event_has_people(e.id, w.org_id, w.filter -> 'people')),
                    false);
END
$$;

-- Planning asks, for each queued event, when its earliest pending
-- reminder fires: without this index the only way there was every
-- pending reminder (reminders_due), once per queued event.
CREATE INDEX reminders_pending_event
    ON reminders (event_id, fire_at)
 WHERE state = 'pending';

-- A claim takes each endpoint's due messages in order, no more than the
-- endpoint may have claimed: one short walk of this index per endpoint,
-- where a walk of every due message, sorted, locked more than it took.
CREATE INDEX webhook_messages_endpoint_due
    ON webhook_messages (endpoint_id, next_attempt_at)
 WHERE state = 'pending';
