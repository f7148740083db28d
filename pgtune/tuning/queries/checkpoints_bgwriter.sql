-- Timed vs requested checkpoints, PostgreSQL 13 to 16.
SELECT checkpoints_timed AS timed,
       checkpoints_req AS requested,
       pg_catalog.now() - stats_reset AS since_reset
FROM pg_catalog.pg_stat_bgwriter
