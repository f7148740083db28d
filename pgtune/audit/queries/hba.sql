-- pg_hba.conf as the server parses it now (the file on disk, not necessarily loaded yet).
-- Readable by superusers, or with SELECT on the view and EXECUTE on pg_hba_file_rules().
-- A line with an error has NULL fields and the error text.
SELECT r.line_number,
       coalesce(r.type, '') AS type,
       coalesce(r.database, '{}') AS databases,
       coalesce(r.user_name, '{}') AS users,
       r.address,
       r.netmask,
       coalesce(r.auth_method, '') AS auth_method,
       r.error
FROM pg_catalog.pg_hba_file_rules AS r
ORDER BY r.line_number
