-- +goose Up
-- Signing keys per use: OpenID Connect tokens ('' or 'oidc', the keys made
-- before this migration) and SAML ('saml'), each with its own rotation; a
-- SAML key carries the DER of its self-signed certificate, made once so
-- that every node publishes the same one.
ALTER TABLE signing_keys ADD COLUMN key_use     TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_keys ADD COLUMN certificate BYTEA;

-- +goose Down
ALTER TABLE signing_keys DROP COLUMN certificate;
ALTER TABLE signing_keys DROP COLUMN key_use;
