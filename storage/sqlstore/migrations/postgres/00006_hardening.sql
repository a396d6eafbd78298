-- +goose Up
-- Hardening (issue 11):
--   - auth_requests.browser_hash: the SHA-256 of the cookie of the browser
--     that started the request; every login step and the callback check it.
--   - auth_requests.id_token_hint: the subject an id_token_hint named
--     ("client sub"), for prompt=none with a hint for another citizen.
--   - access_tokens.claims, refresh_tokens.claims: the claims request
--     parameter kept with the grant, for verified_claims at userinfo.
--   - sessions.secret_hash: the SHA-256 of the secret half of the session
--     cookie, rotated at every step-up while the session id stays.
--   - service_providers.idp_initiated and relay_states: IdP-initiated SSO
--     only for SPs that opted in, with a RelayState allow-list.
--   - sessions_account_id: the account page lists a citizen's sessions.
ALTER TABLE auth_requests ADD COLUMN browser_hash BYTEA;
ALTER TABLE auth_requests ADD COLUMN id_token_hint TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN claims BYTEA;
ALTER TABLE refresh_tokens ADD COLUMN claims BYTEA;
ALTER TABLE sessions ADD COLUMN secret_hash BYTEA;
ALTER TABLE service_providers ADD COLUMN idp_initiated BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE service_providers ADD COLUMN relay_states TEXT NOT NULL DEFAULT 'null';
CREATE INDEX sessions_account_id ON sessions (account_id);

-- +goose Down
DROP INDEX sessions_account_id;
ALTER TABLE service_providers DROP COLUMN relay_states;
ALTER TABLE service_providers DROP COLUMN idp_initiated;
ALTER TABLE sessions DROP COLUMN secret_hash;
ALTER TABLE refresh_tokens DROP COLUMN claims;
ALTER TABLE access_tokens DROP COLUMN claims;
ALTER TABLE auth_requests DROP COLUMN id_token_hint;
ALTER TABLE auth_requests DROP COLUMN browser_hash;
