-- Row level security policies with the server's own deparsed expressions (pg_get_expr), the
-- form the desired side is canonicalised to. pg_policy is readable by every role.
SELECT n.nspname AS schema,
       c.relname AS table_name,
       p.polname AS name,
       p.polpermissive AS permissive,
       p.polcmd::text AS command,
       ARRAY(
           SELECT CASE r.role_oid WHEN 0 THEN ''
                  ELSE pg_catalog.pg_get_userbyid(r.role_oid)::text END
           FROM pg_catalog.unnest(p.polroles) AS r (role_oid)
       ) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_catalog.pg_policy AS p
JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY n.nspname, c.relname, p.polname
