-- Tables (ordinary, partitioned, foreign), views, materialized views and sequences: owner,
-- RLS flags and ACL items (NULL relacl = acldefault: owner only). Extension members and
-- system schemas are excluded.
-- One row per relation, its ACL items as three parallel arrays (NULL when it has none), all
-- ordered by the same full key so their elements line up: a 20k-table catalog has ~10x more ACL
-- items than relations, and a row per item costs far more to transfer and build in Python.
-- Items from several grantors are merged by the caller (convert.merge_grantors); grantors
-- other than the owner are kept apart (ClusterState.grantors), NULL for the owner.
SELECT n.nspname AS schema,
       c.relname AS name,
       CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
       -- row level security exists only on ordinary and partitioned tables
       c.relkind IN ('r', 'p') AS has_rls,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       pg_catalog.array_agg(a.grantee ORDER BY a.grantee, a.privilege, a.grantable, a.grantor)
           FILTER (WHERE a.grantee IS NOT NULL) AS grantees,
       pg_catalog.array_agg(a.privilege ORDER BY a.grantee, a.privilege, a.grantable, a.grantor)
           FILTER (WHERE a.grantee IS NOT NULL) AS privileges,
       pg_catalog.array_agg(a.grantable ORDER BY a.grantee, a.privilege, a.grantable, a.grantor)
           FILTER (WHERE a.grantee IS NOT NULL) AS grantable,
       pg_catalog.array_agg(a.grantor ORDER BY a.grantee, a.privilege, a.grantable, a.grantor)
           FILTER (WHERE a.grantee IS NOT NULL) AS grantors
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT CASE e.grantee WHEN 0 THEN ''
           ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
           e.privilege_type AS privilege,
           e.is_grantable AS grantable,
           -- NULL when the owner granted it (the usual case); PUBLIC (grantee 0) is ''
           CASE WHEN e.grantor <> c.relowner
                THEN pg_catalog.pg_get_userbyid(e.grantor)::text END AS grantor
    -- acldefault spells sequences 's' (pg_class says 'S')
    FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault(
        CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))) AS e
    WHERE e.grantee <> c.relowner
) AS a ON true
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S')
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND dep.objid = c.oid AND dep.deptype = 'e')
GROUP BY c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
         c.relowner
ORDER BY n.nspname, c.relname
