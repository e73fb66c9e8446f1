CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    client_id TEXT NOT NULL,
    name TEXT,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant, client_id)
);
