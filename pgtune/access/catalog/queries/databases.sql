-- The requested databases: owner, whether we may connect, and their ACL items.
-- A NULL datacl means PostgreSQL's built-in default (PUBLIC CONNECT and TEMPORARY), which
-- acldefault() spells out. The owner's own items are dropped: ownership implies them.
-- Grantee 0 (PUBLIC) is '' (no role can have an empty name), so a role named "PUBLIC" is
-- never taken for it. The grantor is given only when it is not the owner.
-- LEFT JOIN: a database whose ACL is empty still gets one row (with NULL grantee).
SELECT d.datname AS database,
       pg_catalog.pg_get_userbyid(d.datdba) AS owner,
       d.datallowconn AS allow_connections,
       pg_catalog.has_database_privilege(d.oid, 'CONNECT') AS can_connect,
       a.grantee,
       a.privilege,
       a.grantable,
       a.grantor
FROM pg_catalog.pg_database AS d
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN ''
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable,
           -- NULL when the owner granted it (a plain REVOKE by owner or superuser removes it)
           CASE WHEN e.grantor <> d.datdba
                THEN pg_catalog.pg_get_userbyid(e.grantor)::text END AS grantor
    FROM pg_catalog.aclexplode(
        coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) AS e
    WHERE e.grantee <> d.datdba
) AS a ON true
WHERE d.datname = ANY(%(databases)s)
-- a privilege's items from other grantors before the owner's (families._grantor)
ORDER BY d.datname, a.grantee, a.privilege, a.grantor NULLS LAST
