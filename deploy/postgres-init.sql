-- First-start initialisation of the Postgres database used by docker-compose.yml.
-- Run by the postgres image's entrypoint (psql, as the superuser, in the database POSTGRES_DB)
-- from /docker-entrypoint-initdb.d/, only when the data volume is empty.
--
-- Creates one schema per service and one login role per service that owns its schema and can
-- reach nothing else: role idp_<schema>, schema <schema>, search_path = <schema>.
-- Passwords come from the container environment (<SCHEMA>_DB_PASSWORD, set in
-- docker-compose.yml) through psql's \getenv (psql 15+). The same file works against a managed
-- Postgres: export the six variables and run
--   psql -v ON_ERROR_STOP=1 -d <db> -f deploy/postgres-init.sql
-- Re-running it is harmless: roles get their password reset, existing schemas are kept.

\set ON_ERROR_STOP on

\getenv pw_auth AUTH_DB_PASSWORD
\getenv pw_tenants TENANTS_DB_PASSWORD
\getenv pw_apps APPS_DB_PASSWORD
\getenv pw_users USERS_DB_PASSWORD
\getenv pw_login LOGIN_DB_PASSWORD
\getenv pw_riskbits RISKBITS_DB_PASSWORD

-- Hand the passwords to the DO block below as session settings (psql variables are not
-- interpolated inside dollar quotes). An unset variable leaves its setting empty and the block
-- stops with a message naming it.
\if :{?pw_auth}
SET idp_init.pw_auth = :'pw_auth';
\endif
\if :{?pw_tenants}
SET idp_init.pw_tenants = :'pw_tenants';
\endif
\if :{?pw_apps}
SET idp_init.pw_apps = :'pw_apps';
\endif
\if :{?pw_users}
SET idp_init.pw_users = :'pw_users';
\endif
\if :{?pw_login}
SET idp_init.pw_login = :'pw_login';
\endif
\if :{?pw_riskbits}
SET idp_init.pw_riskbits = :'pw_riskbits';
\endif

-- Nobody but the roles granted below may connect, and nobody may use the public schema.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
REVOKE ALL ON SCHEMA public FROM PUBLIC;

DO $init$
DECLARE
    svc  text;
    role text;
    pw   text;
BEGIN
    FOREACH svc IN ARRAY ARRAY['auth', 'tenants', 'apps', 'users', 'login', 'riskbits'] LOOP
        role := 'idp_' || svc;
        pw := current_setting('idp_init.pw_' || svc, true);
        IF pw IS NULL OR pw = '' THEN
            RAISE EXCEPTION 'environment variable %_DB_PASSWORD is not set', upper(svc);
        END IF;

        IF EXISTS (SELECT FROM pg_roles WHERE rolname = role) THEN
            EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', role, pw);
        ELSE
            EXECUTE format(
                'CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT '
                'NOREPLICATION PASSWORD %L', role, pw);
        END IF;
        EXECUTE format('ALTER ROLE %I SET search_path = %I', role, svc);

        -- The role owns its schema: its migrations create and alter tables there, including
        -- diesel's __diesel_schema_migrations.
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, role);
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc, role);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);

        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), role);
    END LOOP;
END
$init$;

RESET idp_init.pw_auth;
RESET idp_init.pw_tenants;
RESET idp_init.pw_apps;
RESET idp_init.pw_users;
RESET idp_init.pw_login;
RESET idp_init.pw_riskbits;
