-- Service accounts: the `spona_` tokens an institution's own system uses, now that people
-- sign in through the identity provider.
--
-- Every new token expires within 90 days of its issue (`spona tokens issue --expires-in-days`,
-- 1 to 90). NOT VALID: tokens issued before this rule keep working until revoked, and
-- `spona tokens list` shows them as never expiring so that operators replace them.
ALTER TABLE access_tokens
    ADD CONSTRAINT access_tokens_expire_within_90_days
    CHECK (expires_at IS NOT NULL AND expires_at <= created_at + interval '90 days') NOT VALID;

-- When each token was last used, to find the ones nobody uses any more. Its own table, written
-- by the server at most every few minutes per token: the tokens table stays read-only to the
-- server, and its change notifications (which empty every server's token cache) are not set off
-- by ordinary use.
CREATE TABLE access_token_use (
    token_id     uuid        PRIMARY KEY REFERENCES access_tokens (id) ON DELETE CASCADE,
    last_used_at timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON access_token_use TO spona_app;
