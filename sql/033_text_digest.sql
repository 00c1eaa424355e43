-- 033_text_digest.sql: each stored VEVENT's SHA-256 beside its text, so
-- that a daemon that has just started takes a feed's stored texts without
-- hashing them again (a feed's ETag is made of its texts' digests; hashing
-- the 4.9 MB of a 10,000-event feed was a fifth of the daemon's CPU for a
-- cold feed, and on its path: the texts come last).
--
-- NULL where it is not known (rows written before, or by a daemon of an
-- earlier version): the reader hashes the text then. Such a daemon writes
-- a text over without its digest, which would leave a digest that is not
-- the text's; the trigger forgets it instead. The WHEN clause keeps the
-- function out of every write that brings its own digest.
--
-- No CHECK on the column: adding one would scan the whole table under an
-- exclusive lock, and the reader takes only 32 bytes (64 hex digits) as a
-- digest anyway. Rows stored before keep no digest until they are written
-- again: a backfill would rewrite every row for a millisecond of a cold
-- feed.
ALTER TABLE vevent_texts
    ADD COLUMN digest bytea;

CREATE FUNCTION liaison_text_digest_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.digest := NULL;
    RETURN NEW;
END $$;

CREATE TRIGGER vevent_texts_digest
    BEFORE UPDATE ON vevent_texts
    FOR EACH ROW
    WHEN (NEW.body IS DISTINCT FROM OLD.body
          AND NEW.digest IS NOT DISTINCT FROM OLD.digest)
    EXECUTE FUNCTION liaison_text_digest_forget();
