-- SECURITY DEFINER routines of the current database with the search_path pinned in their
-- proconfig (NULL when none is). System schemas and extension members are left out: the
-- former are PostgreSQL's, the latter the extension's (its own check looks at those).
SELECT pg_catalog.current_database() AS database,
       n.nspname AS schema,
       p.proname AS name,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       p.prosecdef AS security_definer,
       (SELECT pg_catalog.substr(c, pg_catalog.length('search_path=') + 1)
        FROM pg_catalog.unnest(p.proconfig) AS c
        WHERE c LIKE 'search\_path=%'
        LIMIT 1) AS search_path,
       l.lanname AS language
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE p.prosecdef
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS dep
      WHERE dep.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND dep.objid = p.oid AND dep.deptype = 'e')
ORDER BY n.nspname, p.proname, args
