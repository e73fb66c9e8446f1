DROP TABLE IF EXISTS security_events;
DROP TABLE IF EXISTS permanent_lockouts;
DROP TABLE IF EXISTS login_facts;
DROP TABLE IF EXISTS password_history;
DROP TABLE IF EXISTS credentials;
CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    credential_type TEXT NOT NULL,
    secret_data TEXT NOT NULL,
    created_date BIGINT NOT NULL,
    user_label TEXT
);
CREATE INDEX credentials_user ON credentials (tenant, user_id);
