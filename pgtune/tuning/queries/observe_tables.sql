-- Rows changed per table (in the current database), the most changed first.
SELECT t.schemaname AS schema, t.relname AS name,
       t.n_live_tup::bigint AS live_rows,
       t.n_dead_tup::bigint AS dead_rows,
       (t.n_tup_upd + t.n_tup_del)::bigint AS changes,
       t.n_mod_since_analyze::bigint AS mod_since_analyze,
       t.autovacuum_count::bigint AS autovacuums,
       c.reloptions AS options
FROM pg_catalog.pg_stat_user_tables AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.relid
ORDER BY t.n_tup_upd + t.n_tup_del DESC
LIMIT 1000
