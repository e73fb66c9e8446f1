-- KOBIL's tenant list looks a username up across tenants.
CREATE INDEX users_username ON users (username);

-- A group's children are listed (and counted) by parent.
CREATE INDEX user_groups_parent ON user_groups (tenant, parent_id, name);

-- Multi-valued group attributes, one row per value.
CREATE TABLE group_attributes (
    group_id TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (group_id, name, position)
);

-- KOBIL's postal addresses of a user; at most one per user has default_address set. The
-- address fields (title, type, city, ...) are one JSON object as text: nothing queries them,
-- and KOBIL's list of them grows.
CREATE TABLE user_addresses (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    default_address BOOLEAN NOT NULL,
    created_timestamp BIGINT NOT NULL
);
CREATE INDEX user_addresses_user ON user_addresses (user_id, created_timestamp);
CREATE INDEX user_addresses_tenant ON user_addresses (tenant);
-- One default address per user, even under concurrent writes.
CREATE UNIQUE INDEX user_addresses_one_default ON user_addresses (user_id) WHERE default_address;
