-- The initial CardSSO schema (PostgreSQL flavour): migrations/sqlite/00001_init.sql
-- with BLOB spelled BYTEA. Keep the two alike: the same versions, tables,
-- columns and indexes (TestPostgres/SameSchema compares them).
--   - times are BIGINT unix milliseconds (UTC), compared with < and >;
--   - string lists are JSON text ("null" for a nil list);
--   - binary values are BYTEA;
--   - booleans are BOOLEAN;
--   - no foreign keys: the rows of one table do not keep rows of another alive,
--     and the store decides what goes with what (DeleteSession, RevokeGrant).
-- Every column a query looks rows up by has an index. goose runs the file in
-- one transaction, under the store's advisory migration lock.

-- +goose Up
CREATE TABLE accounts (
    id                    TEXT    NOT NULL PRIMARY KEY,
    name                  TEXT    NOT NULL,
    ssn_sealed            BYTEA,
    ssn_index             BYTEA,
    ssn_masked            TEXT    NOT NULL,
    card_region           TEXT    NOT NULL,
    password_hash         TEXT    NOT NULL,
    real_name_verified_at BIGINT  NOT NULL,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);
-- NULL (an account without a number) may repeat; a blind index may not.
CREATE UNIQUE INDEX accounts_ssn_index ON accounts (ssn_index);

CREATE TABLE clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    secret_hash               BYTEA,
    is_public                 BOOLEAN NOT NULL,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    first_party               BOOLEAN NOT NULL,
    min_acr                   TEXT    NOT NULL,
    created_at                BIGINT  NOT NULL,
    updated_at                BIGINT  NOT NULL
);

CREATE TABLE auth_requests (
    id                    TEXT    NOT NULL PRIMARY KEY,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    scopes                TEXT    NOT NULL,
    response_type         TEXT    NOT NULL,
    response_mode         TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    prompt                TEXT    NOT NULL,
    max_age               BIGINT,
    acr_values            TEXT    NOT NULL,
    ui_locales            TEXT    NOT NULL,
    login_hint            TEXT    NOT NULL,
    login_state           BYTEA,
    done                  BOOLEAN NOT NULL,
    account_id            TEXT    NOT NULL,
    session_id            TEXT    NOT NULL,
    auth_time             BIGINT  NOT NULL,
    acr                   TEXT    NOT NULL,
    amr                   TEXT    NOT NULL,
    code_hash             BYTEA,
    code_used_at          BIGINT,
    created_at            BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL
);
-- NULL until a code is issued; an issued code hash is unique.
CREATE UNIQUE INDEX auth_requests_code_hash ON auth_requests (code_hash);
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

CREATE TABLE access_tokens (
    id         TEXT   NOT NULL PRIMARY KEY,
    grant_id   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    account_id TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    audience   TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    acr        TEXT   NOT NULL,
    amr        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id);
CREATE INDEX access_tokens_session_id ON access_tokens (session_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    hash       BYTEA  NOT NULL PRIMARY KEY,
    id         TEXT   NOT NULL,
    grant_id   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    account_id TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    audience   TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    acr        TEXT   NOT NULL,
    amr        TEXT   NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE sessions (
    id           TEXT   NOT NULL PRIMARY KEY,
    account_id   TEXT   NOT NULL,
    auth_time    BIGINT NOT NULL,
    acr          TEXT   NOT NULL,
    amr          TEXT   NOT NULL,
    clients      TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE signing_keys (
    id             TEXT   NOT NULL PRIMARY KEY,
    algorithm      TEXT   NOT NULL,
    state          TEXT   NOT NULL,
    private_sealed BYTEA,
    public_jwk     BYTEA,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    expires_at     BIGINT
);

-- One row that UpdateSigningKeys locks (SELECT id FROM signing_key_lock WHERE
-- id = 1 FOR UPDATE) so that rotations on several nodes never interleave.
CREATE TABLE signing_key_lock (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1)
);
INSERT INTO signing_key_lock (id) VALUES (1);

-- +goose Down
DROP TABLE signing_key_lock;
DROP TABLE signing_keys;
DROP TABLE sessions;
DROP TABLE refresh_tokens;
DROP TABLE access_tokens;
DROP TABLE auth_requests;
DROP TABLE clients;
DROP TABLE accounts;
