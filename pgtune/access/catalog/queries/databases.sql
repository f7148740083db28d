-- The requested databases: owner, whether we may connect, and their ACL items.
-- A NULL datacl means PostgreSQL's built-in default (PUBLIC CONNECT and TEMPORARY), which
-- acldefault() spells out. The owner's own items are dropped: ownership implies them.
-- LEFT JOIN: a database whose ACL is empty still gets one row (with NULL grantee).
SELECT d.datname AS database,
       pg_catalog.pg_get_userbyid(d.datdba) AS owner,
       d.datallowconn AS allow_connections,
       pg_catalog.has_database_privilege(d.oid, 'CONNECT') AS can_connect,
       a.grantee,
       a.privilege,
       a.grantable
FROM pg_catalog.pg_database AS d
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN 'PUBLIC'
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable
    FROM pg_catalog.aclexplode(
        coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) AS e
    WHERE e.grantee <> d.datdba
) AS a ON true
WHERE d.datname = ANY(%(databases)s)
ORDER BY d.datname
