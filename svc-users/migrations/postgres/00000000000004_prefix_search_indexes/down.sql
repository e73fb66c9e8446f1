DROP INDEX IF EXISTS users_tenant_last_prefix;
DROP INDEX IF EXISTS users_tenant_first_prefix;
DROP INDEX IF EXISTS users_tenant_email_prefix;
DROP INDEX IF EXISTS users_tenant_username_prefix;
