-- The first migration's placeholder table is replaced by the real user store.
DROP INDEX IF EXISTS users_tenant_email;
DROP INDEX IF EXISTS users_tenant_created;
DROP TABLE IF EXISTS users;

-- Users. username and email are stored lower-cased (as Keycloak does); the *_lower name
-- columns serve case-insensitive searches through plain indexes on both backends.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    first_name_lower TEXT,
    last_name_lower TEXT,
    enabled BOOLEAN NOT NULL,
    email_verified BOOLEAN NOT NULL,
    created_timestamp BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    service_account_client_id TEXT,
    UNIQUE (tenant, username)
);
CREATE INDEX users_tenant_email ON users (tenant, email);
CREATE INDEX users_tenant_first ON users (tenant, first_name_lower);
CREATE INDEX users_tenant_last ON users (tenant, last_name_lower);
CREATE INDEX users_tenant_created ON users (tenant, created_timestamp, id);

-- Multi-valued attributes, one row per value.
CREATE TABLE user_attributes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX user_attributes_user ON user_attributes (user_id);
CREATE INDEX user_attributes_lookup ON user_attributes (tenant, name, value);

CREATE TABLE user_required_actions (
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    PRIMARY KEY (user_id, action)
);

-- Realm roles granted to a user directly.
CREATE TABLE user_realm_roles (
    user_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (user_id, role_name)
);
CREATE INDEX user_realm_roles_role ON user_realm_roles (tenant, role_name);

-- Client roles granted to a user directly: the app's id and its clientId (for token claims).
CREATE TABLE user_client_roles (
    user_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    app_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (user_id, app_id, role_name)
);
CREATE INDEX user_client_roles_role ON user_client_roles (tenant, app_id, role_name);

-- Groups form a tree per tenant; path is "/parent/child", unique per tenant.
CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id TEXT,
    path TEXT NOT NULL,
    UNIQUE (tenant, path)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE group_realm_roles (
    group_id TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (group_id, role_name)
);

CREATE TABLE group_client_roles (
    group_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (group_id, app_id, role_name)
);
