DROP INDEX IF EXISTS sessions_browser_session;
ALTER TABLE sessions DROP COLUMN browser_session_id;
DROP TABLE IF EXISTS browser_sessions;
