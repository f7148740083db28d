-- WAL written since pg_stat_wal was reset (PostgreSQL 14 and later).
SELECT wal_bytes::bigint AS wal_bytes,
       pg_catalog.date_part('epoch', stats_reset)::float8 AS stats_reset
FROM pg_catalog.pg_stat_wal
