-- Timed vs requested checkpoints, PostgreSQL 17 and later.
SELECT num_timed AS timed,
       num_requested AS requested,
       pg_catalog.now() - stats_reset AS since_reset
FROM pg_catalog.pg_stat_checkpointer
