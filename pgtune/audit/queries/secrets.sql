-- The kind of secret each role has, decided on the server: the hash itself never leaves it.
-- pg_authid is readable by superusers only (or whoever was granted SELECT on it). Since
-- PostgreSQL 10 a stored password is always a SCRAM verifier or an md5 hash.
SELECT a.rolname AS name,
       CASE WHEN a.rolpassword IS NULL THEN 'none'
            WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram'
            WHEN a.rolpassword LIKE 'md5%' THEN 'md5'
            ELSE 'unknown' END AS kind
FROM pg_catalog.pg_authid AS a
ORDER BY a.rolname
