-- Tables (ordinary, partitioned, foreign), views, materialized views and sequences: owner,
-- RLS flags and ACL items (NULL relacl = acldefault: owner only). Extension members and
-- system schemas are excluded.
-- One row per relation, its ACL items aggregated as a JSON array of [grantee, privilege,
-- grantable], one per grantee and privilege (items from several grantors merged: grantable if
-- any is): a 20k-table catalog has ~10x more ACL items than relations, and one row per item
-- costs far more to transfer and build than one small JSON document per relation.
SELECT n.nspname AS schema,
       c.relname AS name,
       CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
       -- row level security exists only on ordinary and partitioned tables
       c.relkind IN ('r', 'p') AS has_rls,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       (SELECT coalesce(pg_catalog.json_agg(
                   pg_catalog.json_build_array(i.grantee, i.privilege, i.grantable)),
               '[]'::pg_catalog.json)
        FROM (
            SELECT CASE e.grantee WHEN 0 THEN 'PUBLIC'
                   ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
                   e.privilege_type AS privilege,
                   pg_catalog.bool_or(e.is_grantable) AS grantable
            -- acldefault spells sequences 's' (pg_class says 'S')
            FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault(
                CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))) AS e
            WHERE e.grantee <> c.relowner
            GROUP BY e.grantee, e.privilege_type
        ) AS i) AS acl
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S')
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY n.nspname, c.relname
