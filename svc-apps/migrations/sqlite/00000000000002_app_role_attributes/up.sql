-- Keycloak's role attributes (name -> [values]) as JSON text.
ALTER TABLE app_roles ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
