-- Procedural languages of the current database: trusted or not, and whether PUBLIC holds
-- USAGE (a NULL ACL is the default, which grants it to PUBLIC).
SELECT pg_catalog.current_database() AS database,
       l.lanname AS name,
       l.lanpltrusted AS trusted,
       EXISTS (
           SELECT FROM pg_catalog.aclexplode(
               coalesce(l.lanacl, pg_catalog.acldefault('l', l.lanowner))) AS a
           WHERE a.grantee = 0 AND a.privilege_type = 'USAGE') AS public_usage
FROM pg_catalog.pg_language AS l
ORDER BY l.lanname
