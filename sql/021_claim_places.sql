-- 021_claim_places.sql: an endpoint's places hold across instances that
-- claim in the same instant (issue 19).
--
-- A claim (SCHED_CLAIM) counts what every instance holds of an endpoint
-- before it takes more. Two claims running together both counted from
-- snapshots taken before either had committed, both saw nothing held,
-- and between them sent up to twice webhook_endpoint_concurrency at once.
--
-- liaison_claim_held takes, for each endpoint given, a transaction-scoped
-- advisory lock (in endpoint order, so two claims cannot deadlock) and
-- only then counts what is held: a PL/pgSQL statement takes its own
-- snapshot, later than the lock, so it sees every claim that held the
-- lock before it (committed, since the lock ends with the transaction).
-- The claim's other reads keep their snapshot; a message another claim
-- took meanwhile is found no longer pending when it is locked (FOR UPDATE
-- reads the newest version), as before.
--
-- The two-key form of the lock, class 19021 (this file), never meets the
-- one-key lock of the migrations.

CREATE FUNCTION liaison_claim_held(eps uuid[], me uuid)
RETURNS TABLE (endpoint_id uuid, n bigint, others bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ep uuid;
BEGIN
    FOR ep IN SELECT DISTINCT x FROM unnest(eps) x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(19021, hashtext(ep::text));
    END LOOP;
    RETURN QUERY
        SELECT s.endpoint_id, count(*), count(*) FILTER (WHERE s.claimed_by <> me)
          FROM webhook_messages s
         WHERE s.state = 'sending'
           AND s.lease_until >= now()
           AND s.endpoint_id = ANY (eps)
         GROUP BY s.endpoint_id;
END
$$;
