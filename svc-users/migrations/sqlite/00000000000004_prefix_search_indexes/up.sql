-- SQLite serves LIKE prefixes from the existing indexes (with case_sensitive_like off it
-- needs NOCASE ones, which lower-cased columns make unnecessary); nothing to add. The
-- migration exists so both backends keep one version list.
SELECT 1;
