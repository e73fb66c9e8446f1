DROP INDEX IF EXISTS credentials_user;
DROP TABLE IF EXISTS credentials;
