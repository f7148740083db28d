-- Default privileges of this database: what objects created later will carry.
--
-- A per-schema entry (defaclnamespace <> 0) adds to the global one and is taken as stored.
-- A global entry (defaclnamespace = 0) replaces PostgreSQL's built-in default for that owner
-- and object type; without one, the built-in default (acldefault) applies. The built-in
-- default grants PUBLIC something only for functions (EXECUTE) and types (USAGE), so for those
-- two the effective global ACL of every role is read: the stored entry, else acldefault. That
-- way "PUBLIC may execute future functions of R" is a row, and its absence means it was revoked.
-- The owner's own items are dropped, as for objects.
WITH effective AS (
    SELECT d.defaclrole AS owner_oid, d.defaclnamespace AS schema_oid,
           d.defaclobjtype AS objtype, d.defaclacl AS acl
    FROM pg_catalog.pg_default_acl AS d
    WHERE NOT (d.defaclnamespace = 0 AND d.defaclobjtype IN ('f', 'T'))
    UNION ALL
    SELECT r.oid, 0, k.objtype,
           coalesce(d.defaclacl, pg_catalog.acldefault(k.objtype, r.oid))
    FROM pg_catalog.pg_roles AS r
    CROSS JOIN (VALUES ('f'::"char"), ('T'::"char")) AS k (objtype)
    LEFT JOIN pg_catalog.pg_default_acl AS d
           ON d.defaclrole = r.oid AND d.defaclnamespace = 0 AND d.defaclobjtype = k.objtype
)
SELECT pg_catalog.pg_get_userbyid(f.owner_oid) AS owner,
       n.nspname AS schema,
       f.objtype::text AS objtype,
       CASE e.grantee WHEN 0 THEN ''
       ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
       e.privilege_type AS privilege,
       e.is_grantable AS grantable
FROM effective AS f
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = f.schema_oid
CROSS JOIN LATERAL pg_catalog.aclexplode(f.acl) AS e
WHERE e.grantee <> f.owner_oid
ORDER BY 1, 2, 3, 4, 5
