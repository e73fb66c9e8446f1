DROP TABLE IF EXISTS user_addresses;
DROP TABLE IF EXISTS group_attributes;
DROP INDEX IF EXISTS user_groups_parent;
DROP INDEX IF EXISTS users_username;
