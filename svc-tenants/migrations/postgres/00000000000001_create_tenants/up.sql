CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    enabled BOOLEAN NOT NULL,
    not_before BIGINT NOT NULL DEFAULT 0,
    creation_status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every other field of the realm representation, one row per top-level key, its value as JSON
-- text (like Keycloak's REALM_ATTRIBUTE): the representation is wide and grows with Keycloak.
CREATE TABLE tenant_attributes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
