DROP TABLE IF EXISTS tenant_attributes;
DROP TABLE IF EXISTS tenants;
