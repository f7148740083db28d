-- Background writer, PostgreSQL 13 to 15: buffers written by backends themselves.
SELECT buffers_clean::bigint AS buffers_clean,
       maxwritten_clean::bigint AS maxwritten_clean,
       buffers_backend::bigint AS buffers_backend,
       pg_catalog.date_part('epoch', stats_reset)::float8 AS stats_reset
FROM pg_catalog.pg_stat_bgwriter
