-- Buffer cache hits and temporary files per database (templates left out), since the last
-- statistics reset (since_reset is NULL when they were never reset).
SELECT d.datname,
       s.blks_hit,
       s.blks_read,
       s.temp_files,
       s.temp_bytes,
       pg_catalog.now() - s.stats_reset AS since_reset
FROM pg_catalog.pg_stat_database AS s
JOIN pg_catalog.pg_database AS d ON d.oid = s.datid
WHERE NOT d.datistemplate
ORDER BY d.datname
