-- +goose Up
-- Refresh rotation that survives a client crash (issue 18 §8):
-- clients.refresh_reuse_grace_ms is how long after a refresh token was
-- rotated the client may present it again and get a fresh pair in the same
-- family (0: strict, reuse revokes the family).
ALTER TABLE clients ADD COLUMN refresh_reuse_grace_ms BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE clients DROP COLUMN refresh_reuse_grace_ms;
