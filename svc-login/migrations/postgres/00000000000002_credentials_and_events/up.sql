-- The first migration's placeholder table is replaced by the real credential store.
DROP INDEX IF EXISTS credentials_user;
DROP TABLE IF EXISTS credentials;

-- Every secret a user proves: a bcrypt hash (password) or a sealed TOTP seed (otp).
CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    credential_type TEXT NOT NULL,
    secret_data TEXT NOT NULL,
    temporary BOOLEAN NOT NULL,
    user_label TEXT,
    created_date BIGINT NOT NULL
);
CREATE INDEX credentials_user ON credentials (tenant, user_id, credential_type);

-- Hashes of earlier passwords, for the policy's passwordHistory(n).
CREATE TABLE password_history (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_date BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (tenant, user_id, created_date);

-- The last successful login and password change of each user (the security report).
CREATE TABLE login_facts (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    last_login_at BIGINT,
    last_password_change_at BIGINT,
    PRIMARY KEY (tenant, user_id)
);

-- Accounts locked for good by permanentLockout, until an admin clears them.
CREATE TABLE permanent_lockouts (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    locked_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

-- Login attempts and other security events.
CREATE TABLE security_events (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT,
    event_type TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX security_events_tenant_time ON security_events (tenant, created_at);
CREATE INDEX security_events_user_time ON security_events (tenant, user_id, created_at);
