DROP TABLE IF EXISTS group_client_roles;
DROP TABLE IF EXISTS group_realm_roles;
DROP TABLE IF EXISTS group_members;
DROP TABLE IF EXISTS user_groups;
DROP TABLE IF EXISTS user_client_roles;
DROP TABLE IF EXISTS user_realm_roles;
DROP TABLE IF EXISTS user_required_actions;
DROP TABLE IF EXISTS user_attributes;
DROP TABLE IF EXISTS users;
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
