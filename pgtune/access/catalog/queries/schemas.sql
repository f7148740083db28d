-- Schemas of this database with owner and ACL items (NULL nspacl = acldefault: owner only).
-- System schemas (pg_catalog, pg_toast, pg_temp_N, pg_toast_temp_N, information_schema) and
-- schemas belonging to an extension are not ours to manage.
SELECT n.nspname AS schema,
       pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
       a.grantee,
       a.privilege,
       a.grantable,
       a.grantor
FROM pg_catalog.pg_namespace AS n
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN ''
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable,
           -- NULL when the owner granted it; PUBLIC (grantee 0) is ''
           CASE WHEN e.grantor <> n.nspowner
                THEN pg_catalog.pg_get_userbyid(e.grantor)::text END AS grantor
    FROM pg_catalog.aclexplode(
        coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) AS e
    WHERE e.grantee <> n.nspowner
) AS a ON true
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
        AND dep.objid = n.oid AND dep.deptype = 'e')
-- a privilege's items from other grantors before the owner's (families._grantor)
ORDER BY n.nspname, a.grantee, a.privilege, a.grantor NULLS LAST
