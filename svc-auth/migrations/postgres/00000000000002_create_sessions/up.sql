-- A login: durable here (a restart logs nobody out); revocations are also marked in the cache
-- for the gateway.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_refresh_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (tenant, user_id);

-- Refresh tokens by the SHA-256 of the token: each is spent once (rotation).
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
