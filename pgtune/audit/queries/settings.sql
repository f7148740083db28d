-- The parameters the checks judge. Without pg_read_all_settings (pg_monitor has it) PostgreSQL
-- leaves superuser-only parameters out of pg_settings: a missing row means "not readable".
SELECT s.name, s.setting
FROM pg_catalog.pg_settings AS s
WHERE s.name = ANY(%(names)s)
ORDER BY s.name
