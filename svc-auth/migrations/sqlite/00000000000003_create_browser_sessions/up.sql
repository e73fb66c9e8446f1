-- A browser's sign-in: the SSO session behind the KEYCLOAK_IDENTITY cookie, found by the
-- SHA-256 of the cookie. Each app the browser signs into while it lives gets its own session
-- row linked here, and they all end with it (logout, user disabled).
CREATE TABLE browser_sessions (
    id TEXT PRIMARY KEY,
    cookie_hash TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX browser_sessions_user ON browser_sessions (tenant, user_id);

ALTER TABLE sessions ADD COLUMN browser_session_id TEXT;
CREATE INDEX sessions_browser_session ON sessions (browser_session_id);
