-- Tables (ordinary, partitioned, foreign), views, materialized views and sequences, grouped
-- server-side: one row per schema, kind, owner, row level security flags and ACL, with the
-- names of the relations that share them and that ACL's items once (the grouped inspection
-- that plans and exports read: inspect_cluster(..., grouped=True)). A 20k-table catalog holds
-- ~10x more ACL items than relations, yet a few hundred distinct ACLs.
-- Same rules as relations.sql: NULL relacl = acldefault (owner only), the owner's own items
-- dropped, PUBLIC (grantee 0) is '', grantors other than the owner kept apart (NULL for the
-- owner), extension members and system schemas left out; items ordered by the same full key.
WITH relation AS (
    SELECT c.relnamespace, c.relname, c.relowner, c.relacl,
           c.relkind = 'S' AS is_sequence,
           -- row level security exists only on ordinary and partitioned tables
           c.relkind IN ('r', 'p') AS has_rls,
           c.relrowsecurity AS rls_enabled,
           c.relforcerowsecurity AS rls_forced
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S')
      AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
      AND NOT EXISTS (
          SELECT FROM pg_catalog.pg_depend AS dep
          WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND dep.objid = c.oid AND dep.deptype = 'e')
), shared AS (
    -- aclitem[] only hashes (no ordering): a HashAggregate
    SELECT r.relnamespace, r.is_sequence, r.has_rls, r.rls_enabled, r.rls_forced, r.relowner,
           r.relacl, pg_catalog.array_agg(r.relname::text) AS names
    FROM relation AS r
    GROUP BY r.relnamespace, r.is_sequence, r.has_rls, r.rls_enabled, r.rls_forced,
             r.relowner, r.relacl
)
SELECT n.nspname AS schema,
       CASE WHEN s.is_sequence THEN 'sequence' ELSE 'table' END AS kind,
       s.has_rls,
       s.rls_enabled,
       s.rls_forced,
       pg_catalog.pg_get_userbyid(s.relowner) AS owner,
       s.names,
       -- the ACL's items as parallel arrays, NULL when there are none
       a.grantees,
       a.privileges,
       a.grantable,
       a.grantors
FROM shared AS s
JOIN pg_catalog.pg_namespace AS n ON n.oid = s.relnamespace
CROSS JOIN LATERAL (
    SELECT pg_catalog.array_agg(i.grantee ORDER BY i.grantee, i.privilege, i.grantable, i.grantor)
               AS grantees,
           pg_catalog.array_agg(i.privilege ORDER BY i.grantee, i.privilege, i.grantable, i.grantor)
               AS privileges,
           pg_catalog.array_agg(i.grantable ORDER BY i.grantee, i.privilege, i.grantable, i.grantor)
               AS grantable,
           pg_catalog.array_agg(i.grantor ORDER BY i.grantee, i.privilege, i.grantable, i.grantor)
               AS grantors
    FROM (
        SELECT CASE e.grantee WHEN 0 THEN ''
               ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END AS grantee,
               e.privilege_type AS privilege,
               e.is_grantable AS grantable,
               -- NULL when the owner granted it (the usual case)
               CASE WHEN e.grantor <> s.relowner
                    THEN pg_catalog.pg_get_userbyid(e.grantor)::text END AS grantor
        -- acldefault spells sequences 's' (pg_class says 'S')
        FROM pg_catalog.aclexplode(coalesce(s.relacl, pg_catalog.acldefault(
            CASE WHEN s.is_sequence THEN 's'::"char" ELSE 'r'::"char" END, s.relowner))) AS e
        WHERE e.grantee <> s.relowner
    ) AS i
) AS a
