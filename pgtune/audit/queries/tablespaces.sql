-- Every tablespace and its directory ('' for pg_default and pg_global, which live in the data
-- directory by design). Readable by every role; whether a location is inside the data
-- directory is judged against the data_directory setting (pg_read_all_settings).
SELECT t.spcname::pg_catalog.text AS name,
       pg_catalog.pg_tablespace_location(t.oid) AS location
FROM pg_catalog.pg_tablespace AS t
ORDER BY t.spcname
