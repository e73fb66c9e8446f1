DROP INDEX IF EXISTS password_reset_actions_user;
DROP TABLE IF EXISTS password_reset_actions;
ALTER TABLE credentials DROP COLUMN last_login_at;
ALTER TABLE credentials DROP COLUMN login_count;
ALTER TABLE credentials DROP COLUMN credential_data;
