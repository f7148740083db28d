-- Background writer, PostgreSQL 16 and later: backends' own writes come from pg_stat_io
-- (pg_stat_bgwriter.buffers_backend is gone in 17). Only the shared buffers' own evictions
-- (context 'normal'): bulk loads and VACUUM write through rings the background writer never cleans.
SELECT b.buffers_clean::bigint AS buffers_clean,
       b.maxwritten_clean::bigint AS maxwritten_clean,
       (SELECT coalesce(pg_catalog.sum(io.writes), 0)
        FROM pg_catalog.pg_stat_io AS io
        WHERE io.backend_type = 'client backend' AND io.object = 'relation'
          AND io.context = 'normal')::bigint
           AS buffers_backend,
       EXTRACT(epoch FROM b.stats_reset)::float8 AS stats_reset
FROM pg_catalog.pg_stat_bgwriter AS b
