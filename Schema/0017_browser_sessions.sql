-- The dashboard's browser sessions: a person signed in through the identity provider gets a
-- random session token in an HttpOnly cookie; only its SHA-256 is kept here, so that a copy of
-- this table (a backup, a replica) opens no session. A sign-in under way ('pending') keeps its
-- PKCE verifier under the hash of its `state` for a few minutes, and is used once.
--
-- Sessions are state of the edge, not facts of the network: never events, never in a view.
-- Every server process reads and writes the same rows, so that a browser may land on any.
CREATE TABLE browser_sessions (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    kind       text        NOT NULL CHECK (kind IN ('pending', 'signed_in')),
    data       jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (expires_at <= created_at + interval '12 hours')
);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON browser_sessions TO spona_app;
