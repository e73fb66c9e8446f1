ALTER TABLE app_roles DROP COLUMN attributes;
