-- +goose Up
-- The last real-card check of an account, its last passed face check, and
-- its failed face checks in the
-- current window (the attempt limit holds across nodes and restarts).
ALTER TABLE accounts ADD COLUMN card_number          TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN card_status          TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN card_generation      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN card_checked_at      BIGINT;
ALTER TABLE accounts ADD COLUMN card_verified_at     BIGINT;
ALTER TABLE accounts ADD COLUMN face_verified_at     BIGINT;
ALTER TABLE accounts ADD COLUMN face_failures        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN face_failures_since  BIGINT;

-- +goose Down
ALTER TABLE accounts DROP COLUMN face_failures_since;
ALTER TABLE accounts DROP COLUMN face_failures;
ALTER TABLE accounts DROP COLUMN face_verified_at;
ALTER TABLE accounts DROP COLUMN card_verified_at;
ALTER TABLE accounts DROP COLUMN card_checked_at;
ALTER TABLE accounts DROP COLUMN card_generation;
ALTER TABLE accounts DROP COLUMN card_status;
ALTER TABLE accounts DROP COLUMN card_number;
