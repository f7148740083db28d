-- The columns of every table-like relation (for the inventory), in order, and their
-- column-level ACL items. attacl has no built-in default: NULL means no column privileges.
-- One row per relation, like relations.sql: the names as an array by attnum; the ACL items,
-- rare, as a JSON array of [column, grantee, privilege, grantable, grantor] (NULL when there
-- are none; grantor NULL when the table owner granted it, grantee '' for PUBLIC).
SELECT n.nspname AS schema,
       c.relname AS table_name,
       pg_catalog.array_agg(t.attname::text ORDER BY t.attnum) AS columns,
       CASE WHEN pg_catalog.bool_or(t.attacl IS NOT NULL) THEN (
           SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                      g.attname,
                      CASE e.grantee WHEN 0 THEN ''
                      ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END,
                      e.privilege_type,
                      e.is_grantable,
                      CASE WHEN e.grantor <> c.relowner
                           THEN pg_catalog.pg_get_userbyid(e.grantor)::text END))
           FROM pg_catalog.pg_attribute AS g
           CROSS JOIN LATERAL pg_catalog.aclexplode(g.attacl) AS e
           WHERE g.attrelid = c.oid AND g.attnum > 0 AND NOT g.attisdropped
             AND g.attacl IS NOT NULL AND e.grantee <> c.relowner)
       END AS acl
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute AS t ON t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND dep.objid = c.oid AND dep.deptype = 'e')
GROUP BY c.oid, n.nspname, c.relname, c.relowner
ORDER BY n.nspname, c.relname
