-- 025_first_key.sql: an org's first admin key, which the host makes
-- (POST /v1/orgs/{slug}/keys, api/orgs_sql.h SQL_ORG_FIRST_KEY), is made
-- once even when asked for at once. The statement's check that the org
-- has no live key reads its own snapshot, so two statements at once each
-- saw none and each inserted one. The index makes the second wait for the
-- first and fail (unique violation, answered 409 as when the check sees
-- the key). A revoked first key leaves room for a new one, as the check
-- does when an org has no live key at all.
ALTER TABLE api_keys ADD COLUMN first boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX api_keys_first ON api_keys (org_id) WHERE first AND revoked_at IS NULL;
