-- Functions, procedures, aggregates and window functions: identity arguments, owner and ACL
-- items. A NULL proacl means the built-in default, which includes PUBLIC EXECUTE.
SELECT n.nspname AS schema,
       p.proname AS name,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       a.grantee,
       a.privilege,
       a.grantable
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN 'PUBLIC'
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable
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
ORDER BY n.nspname, p.proname, args
