DROP INDEX IF EXISTS users_tenant_email;
DROP INDEX IF EXISTS users_tenant_created;
DROP TABLE IF EXISTS users;
