DROP TABLE IF EXISTS app_roles;
DROP TABLE IF EXISTS app_attributes;
DROP TABLE IF EXISTS app_web_origins;
DROP TABLE IF EXISTS app_redirect_uris;
DROP TABLE IF EXISTS apps;
