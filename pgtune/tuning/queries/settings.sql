-- Every parameter the connected role may see. Without pg_read_all_settings (pg_monitor has it)
-- PostgreSQL leaves some rows out entirely, e.g. shared_preload_libraries: absent = not readable.
SELECT name, setting, unit, vartype, context, source, enumvals, pending_restart
FROM pg_catalog.pg_settings
ORDER BY name
