-- +goose Up
-- Counter verifications of e-card codes (issue 13 §4), one row per request
-- to POST /ecard/verify, success or refusal: the record until the audit
-- chain exists. The number is kept masked only, never in full.
CREATE TABLE counter_verifications (
    id            TEXT   NOT NULL PRIMARY KEY,
    client_id     TEXT   NOT NULL,
    verified_at   BIGINT NOT NULL,
    outcome       TEXT   NOT NULL,
    number_masked TEXT   NOT NULL,
    binding_id    TEXT   NOT NULL
);
CREATE INDEX counter_verifications_client ON counter_verifications (client_id, verified_at);

-- +goose Down
DROP TABLE counter_verifications;
