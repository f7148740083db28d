-- The value the configuration files give each parameter (the last one read wins): for a
-- setting pending restart, the value the next restart brings. error is NULL, or 'setting could
-- not be applied' for a postmaster-context value waiting for the restart. Readable by superusers
-- only unless granted (pg_monitor does not include it).
SELECT DISTINCT ON (f.name) f.name, f.setting, f.error
FROM pg_catalog.pg_file_settings AS f
WHERE f.name IS NOT NULL
ORDER BY f.name, f.seqno DESC
