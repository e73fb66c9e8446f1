DROP INDEX IF EXISTS signing_keys_tenant;
DROP TABLE IF EXISTS signing_keys;
