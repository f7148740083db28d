-- Client sessions now, per role (sampled through the window for the peaks). Without
-- pg_read_all_stats other roles' sessions show no backend_type: counted when in a database.
SELECT a.usename AS role, pg_catalog.count(*)::int AS sessions
FROM pg_catalog.pg_stat_activity AS a
WHERE a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.datid IS NOT NULL)
GROUP BY a.usename
