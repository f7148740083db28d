-- Columns of every table-like relation (for the inventory) with their column-level ACL items.
-- attacl has no built-in default: NULL means no column privileges, so no acldefault here.
SELECT n.nspname AS schema,
       c.relname AS table_name,
       t.attname AS column_name,
       t.attnum AS position,
       a.grantee,
       a.privilege,
       a.grantable
FROM pg_catalog.pg_attribute AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN 'PUBLIC'
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable
    FROM pg_catalog.aclexplode(t.attacl) AS e
    WHERE e.grantee <> c.relowner
) AS a ON true
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND t.attnum > 0 AND NOT t.attisdropped
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY n.nspname, c.relname, t.attnum
