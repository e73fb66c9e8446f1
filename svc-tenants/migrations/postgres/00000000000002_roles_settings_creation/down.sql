DROP TABLE IF EXISTS tenant_creations;
DROP TABLE IF EXISTS tenant_settings;
DROP TABLE IF EXISTS realm_role_composites;
DROP TABLE IF EXISTS realm_roles;
