-- Functions, procedures, aggregates and window functions: identity arguments, owner and ACL
-- items. A NULL proacl means the built-in default, which includes PUBLIC EXECUTE.
SELECT n.nspname AS schema,
       p.proname AS name,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
       -- the argument types alone, which every statement accepts (identity arguments of an
       -- ordered-set aggregate say "x ORDER BY y", which GRANT / REVOKE ... ON ROUTINE do not)
       pg_catalog.oidvectortypes(p.proargtypes) AS arg_types,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       a.grantee,
       a.privilege,
       a.grantable,
       a.grantor
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN ''
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable,
           -- NULL when the owner granted it; PUBLIC (grantee 0) is ''
           CASE WHEN e.grantor <> p.proowner
                THEN pg_catalog.pg_get_userbyid(e.grantor)::text END AS grantor
    FROM pg_catalog.aclexplode(
        coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS e
    WHERE e.grantee <> p.proowner
) AS a ON true
WHERE p.prokind IN ('f', 'p', 'a', 'w')
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND dep.objid = p.oid AND dep.deptype = 'e')
-- a privilege's items from other grantors before the owner's (families._grantor)
ORDER BY n.nspname, p.proname, args, p.oid, a.grantee, a.privilege, a.grantor NULLS LAST
