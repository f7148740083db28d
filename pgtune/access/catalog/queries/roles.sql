-- Every role with its attributes, cluster-wide settings and comment.
-- pg_roles, not pg_authid: it is readable by every role, and we never want password hashes.
SELECT r.rolname AS name,
       r.rolcanlogin AS login,
       r.rolsuper AS superuser,
       r.rolcreatedb AS createdb,
       r.rolcreaterole AS createrole,
       r.rolreplication AS replication,
       r.rolbypassrls AS bypassrls,
       r.rolinherit AS inherit,
       r.rolconnlimit AS connection_limit,
       -- psycopg cannot load +-infinity into a datetime: 'infinity' means "no expiry" (like
       -- NULL), '-infinity' "never valid", which gets its own flag
       CASE WHEN pg_catalog.isfinite(r.rolvaliduntil) THEN r.rolvaliduntil END AS valid_until,
       coalesce(r.rolvaliduntil = '-infinity'::timestamptz, false) AS never_valid,
       s.setconfig AS settings,
       d.description AS comment
FROM pg_catalog.pg_roles AS r
-- setdatabase = 0: ALTER ROLE ... SET; per-database role settings are not in the model
LEFT JOIN pg_catalog.pg_db_role_setting AS s ON s.setrole = r.oid AND s.setdatabase = 0
LEFT JOIN pg_catalog.pg_shdescription AS d
       ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
ORDER BY r.rolname
