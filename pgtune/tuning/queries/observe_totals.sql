-- Cumulative counters summed over every database, and where WAL is now (observe.py takes this
-- at the start and at the end of the window). wal_lsn is NULL on a standby.
SELECT EXTRACT(epoch FROM pg_catalog.clock_timestamp())::float8 AS taken_at,
       (CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
             ELSE pg_catalog.pg_current_wal_lsn() - '0/0'::pg_catalog.pg_lsn END)::bigint
           AS wal_lsn,
       coalesce(pg_catalog.sum(s.blks_hit), 0)::bigint AS blks_hit,
       coalesce(pg_catalog.sum(s.blks_read), 0)::bigint AS blks_read,
       coalesce(pg_catalog.sum(s.temp_files), 0)::bigint AS temp_files,
       coalesce(pg_catalog.sum(s.temp_bytes), 0)::bigint AS temp_bytes,
       coalesce(pg_catalog.sum(s.xact_commit + s.xact_rollback), 0)::bigint AS transactions,
       EXTRACT(epoch FROM pg_catalog.max(s.stats_reset))::float8 AS stats_reset,
       EXTRACT(epoch FROM pg_catalog.pg_postmaster_start_time())::float8
           AS started_at
FROM pg_catalog.pg_stat_database AS s
