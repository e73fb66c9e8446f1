CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    enabled BOOLEAN NOT NULL,
    email_verified BOOLEAN NOT NULL,
    created_timestamp BIGINT NOT NULL,
    UNIQUE (tenant, username)
);
CREATE INDEX users_tenant_email ON users (tenant, email);
CREATE INDEX users_tenant_created ON users (tenant, created_timestamp);
