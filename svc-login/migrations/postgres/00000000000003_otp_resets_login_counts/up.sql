-- OTP parameters (Keycloak's credentialData) and per-credential login counts (NEVIS).
ALTER TABLE credentials ADD COLUMN credential_data TEXT;
ALTER TABLE credentials ADD COLUMN login_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN last_login_at BIGINT;

-- FOLIO password reset actions: single use, expiring; the id is a bearer secret (it travels
-- in the reset link), so only its SHA-256 is kept.
CREATE TABLE password_reset_actions (
    id_hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_reset_actions_user ON password_reset_actions (tenant, user_id);
