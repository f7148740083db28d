-- Facts about the cluster as a whole: the bootstrap superuser (oid 10, created by initdb; it
-- cannot lose SUPERUSER, so it is the one superuser to keep) and the databases an audit reads
-- by default: every one that accepts connections, templates left out.
SELECT pg_catalog.pg_get_userbyid(10::pg_catalog.oid) AS bootstrap_superuser,
       ARRAY(SELECT d.datname::pg_catalog.text
             FROM pg_catalog.pg_database AS d
             WHERE d.datallowconn AND NOT d.datistemplate
             ORDER BY d.datname) AS databases
