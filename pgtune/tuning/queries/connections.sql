-- Client sessions against the connection limit. Without pg_read_all_stats (pg_monitor has it)
-- other roles' sessions show no backend_type: those attached to a database are counted apart.
SELECT pg_catalog.count(*) FILTER (WHERE a.backend_type = 'client backend') AS client_backends,
       pg_catalog.count(*) FILTER (WHERE a.backend_type IS NULL AND a.datid IS NOT NULL)
           AS unidentified_backends,
       pg_catalog.current_setting('max_connections')::int AS max_connections,
       pg_catalog.current_setting('superuser_reserved_connections')::int
           + coalesce(pg_catalog.current_setting('reserved_connections', true)::int, 0)
           AS reserved_connections
FROM pg_catalog.pg_stat_activity AS a
