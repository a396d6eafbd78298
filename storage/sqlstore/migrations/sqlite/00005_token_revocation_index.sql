-- +goose Up
-- One index per token table for revocation instead of two. Every token
-- row was indexed by grant_id and by session_id, two B-trees whose leaf
-- for a random grant or session each insert changes: with the key's and
-- expires_at's, most of what a token response writes. Now a token table
-- has one index, (session_id, grant_id): logout (DeleteSession) uses its
-- prefix, and RevokeGrant finds the sessions of a grant in grant_sessions
-- and then the tokens by (session_id, grant_id).
--
-- grant_sessions holds one row per (grant, session) that tokens were
-- issued for, until at least the last of those tokens expires (expires_at
-- is a token's expiry plus a day, moved on when a later token outlives
-- it, so a grant's refresh rotations rewrite it at most once a day). A
-- refresh rotation reads it (the claim returns its expiry) and writes
-- nothing to it.
--
-- Upgrade every node sharing a database together: code from before this
-- migration writes tokens without a grant_sessions row (RevokeGrant does
-- not find them until a newer node has rotated the family once; logout
-- does), and its RevokeGrant, without the grant_id indexes, scans the
-- token tables.
CREATE TABLE grant_sessions (
    grant_id   TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (grant_id, session_id)
);
CREATE INDEX grant_sessions_expires_at ON grant_sessions (expires_at);

INSERT INTO grant_sessions (grant_id, session_id, expires_at)
SELECT grant_id, session_id, MAX(expires_at) + 86400000 FROM (
    SELECT grant_id, session_id, expires_at FROM access_tokens WHERE grant_id <> ''
    UNION ALL
    SELECT grant_id, session_id, expires_at FROM refresh_tokens WHERE grant_id <> ''
) AS tokens GROUP BY grant_id, session_id;

DROP INDEX access_tokens_grant_id;
DROP INDEX access_tokens_session_id;
CREATE INDEX access_tokens_session_grant ON access_tokens (session_id, grant_id);
DROP INDEX refresh_tokens_grant_id;
DROP INDEX refresh_tokens_session_id;
CREATE INDEX refresh_tokens_session_grant ON refresh_tokens (session_id, grant_id);

-- +goose Down
DROP INDEX refresh_tokens_session_grant;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
DROP INDEX access_tokens_session_grant;
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id);
CREATE INDEX access_tokens_session_id ON access_tokens (session_id);
DROP TABLE grant_sessions;
