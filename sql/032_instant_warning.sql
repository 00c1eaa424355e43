-- 032_instant_warning.sql: a trigger that was handed instants (029, 030)
-- but not the one it needs says so.
--
-- It then converts with AT TIME ZONE, which may be an hour off what the
-- daemon computes. A writer that hands none (psql) is not warned about;
-- the daemon hands them for every row it knows of before its write, so a
-- miss means a row came in meanwhile (an override made while its series
-- was written, a checklist task while a visit was), or a bug. The warning
-- reaches the daemon's log (dbpool.c). The row is right again when it is
-- next written: an override by its own write, a deadline by its visit's
-- (030 then converts every task's day again).
CREATE OR REPLACE FUNCTION liaison_local_instant(local timestamp, zone text, hints jsonb,
                                                 otherwise timestamptz)
    RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    key text := zone || ' ' || to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS');
    at double precision := (hints ->> key)::double precision;
BEGIN
    IF at IS NOT NULL THEN
        RETURN to_timestamp(at);
    END IF;
    IF hints IS NOT NULL THEN
        RAISE WARNING 'no instant was handed for % (%): converted with AT TIME ZONE',
            key, otherwise;
    END IF;
    RETURN otherwise;
END $$;
