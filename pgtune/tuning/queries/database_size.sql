-- The databases' total size, as the shared_buffers rule counts it (tuning/datasize.py measures
-- the same files under base/ when the data directory is local). pg_database_size needs CONNECT
-- on the database or pg_read_all_stats: the sum counts only readable ones, and all_readable
-- says whether that is every database (otherwise the size is not used).
SELECT pg_catalog.sum(pg_catalog.pg_database_size(d.oid)) FILTER (WHERE d.readable)::bigint
           AS total_bytes,
       pg_catalog.bool_and(d.readable) AS all_readable
FROM (
    SELECT oid,
           pg_catalog.has_database_privilege(oid, 'CONNECT')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER') AS readable
    FROM pg_catalog.pg_database
) AS d
