-- Apps (OAuth clients). The columns are what the platform acts on; the rest of Keycloak's
-- client representation is in app_attributes, one row per top-level field, as JSON text.
CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    client_id TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    public_client BOOLEAN NOT NULL,
    bearer_only BOOLEAN NOT NULL,
    standard_flow_enabled BOOLEAN NOT NULL,
    implicit_flow_enabled BOOLEAN NOT NULL,
    direct_access_grants_enabled BOOLEAN NOT NULL,
    service_accounts_enabled BOOLEAN NOT NULL,
    secret_sealed TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant, client_id)
);

CREATE TABLE app_redirect_uris (
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    uri TEXT NOT NULL,
    PRIMARY KEY (app_id, uri)
);

CREATE TABLE app_web_origins (
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    PRIMARY KEY (app_id, origin)
);

CREATE TABLE app_attributes (
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_id, name)
);

-- Client roles (realm-management's view-users, manage-clients, ...).
CREATE TABLE app_roles (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    UNIQUE (app_id, name)
);
