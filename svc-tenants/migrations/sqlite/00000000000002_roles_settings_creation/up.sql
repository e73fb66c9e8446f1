-- Realm roles (Keycloak's KEYCLOAK_ROLE for realms); attributes are Keycloak's
-- name -> [values] map as JSON text.
CREATE TABLE realm_roles (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A composite realm role and the realm roles it contains.
CREATE TABLE realm_role_composites (
    parent_id TEXT NOT NULL REFERENCES realm_roles (id) ON DELETE CASCADE,
    child_id TEXT NOT NULL REFERENCES realm_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (parent_id, child_id)
);

-- The realm's key-value settings (the `attributes` map of the realm representation, KOBIL's
-- tenant settings and app settings), one row per key so concurrent writers of different keys
-- do not overwrite each other. The value is JSON text.
CREATE TABLE tenant_settings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- How far the KOBIL tenant creation got, so a failed one can be retried where it stopped.
-- `steps` is a JSON object: step name -> PENDING / SUCCESS / FAILED.
CREATE TABLE tenant_creations (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    admin_username TEXT NOT NULL,
    admin_email TEXT NOT NULL,
    admin_user_id TEXT,
    default_app_id TEXT,
    steps TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
