-- +goose Up
-- Protocol-neutral auth requests (OIDC or SAML), the client settings of the
-- release and subject policies, SAML service providers and the session's
-- SAML participants, single-use keys, consents and event counters.

ALTER TABLE auth_requests ADD COLUMN protocol     TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN required_acr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN claims       BYTEA;

ALTER TABLE clients ADD COLUMN allowed_claims         TEXT    NOT NULL DEFAULT 'null';
ALTER TABLE clients ADD COLUMN public_subject         BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN sector_identifier_uri  TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT    NOT NULL DEFAULT '';

CREATE TABLE service_providers (
    id             TEXT   NOT NULL PRIMARY KEY,
    entity_id      TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    metadata       BYTEA  NOT NULL,
    min_acr        TEXT   NOT NULL,
    attributes     TEXT   NOT NULL,
    name_id_format TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX service_providers_entity_id ON service_providers (entity_id);

CREATE TABLE session_participants (
    session_id        TEXT   NOT NULL,
    entity_id         TEXT   NOT NULL,
    name_id           TEXT   NOT NULL,
    name_id_format    TEXT   NOT NULL,
    name_qualifier    TEXT   NOT NULL,
    sp_name_qualifier TEXT   NOT NULL,
    session_index     TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (session_id, entity_id)
);

CREATE TABLE once_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX once_keys_expires_at ON once_keys (expires_at);

CREATE TABLE consents (
    account_id TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE counters (
    id         TEXT   NOT NULL PRIMARY KEY,
    count      INTEGER NOT NULL,
    since      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX counters_expires_at ON counters (expires_at);

-- +goose Down
DROP TABLE counters;
DROP TABLE consents;
DROP TABLE once_keys;
DROP TABLE session_participants;
DROP TABLE service_providers;
ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
ALTER TABLE clients DROP COLUMN sector_identifier_uri;
ALTER TABLE clients DROP COLUMN public_subject;
ALTER TABLE clients DROP COLUMN allowed_claims;
ALTER TABLE auth_requests DROP COLUMN claims;
ALTER TABLE auth_requests DROP COLUMN required_acr;
ALTER TABLE auth_requests DROP COLUMN protocol;
