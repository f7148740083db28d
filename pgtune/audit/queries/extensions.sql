-- Installed extensions, with their member functions PUBLIC may execute and member
-- foreign-data wrappers PUBLIC may use (NULL ACLs read through acldefault: functions default
-- to PUBLIC EXECUTE, wrappers to nothing).
-- A function counts only when executing it can give more than the caller already has: it is
-- SECURITY DEFINER, or written in an untrusted language (C, internal: what the extension's
-- own code does is checked by nothing but this EXECUTE). A SECURITY INVOKER function in a
-- trusted language (sql, plpgsql) runs with the caller's own rights, so whatever it calls is
-- checked against the caller: adminpack's pg_file_rename(text, text), a SQL wrapper around
-- the 3-argument C function revoked from PUBLIC, fails for PUBLIC like the C function does.
SELECT pg_catalog.current_database() AS database,
       e.extname AS name,
       n.nspname AS schema,
       e.extversion AS version,
       ARRAY(SELECT ARRAY[fn.nspname::pg_catalog.text, p.proname::pg_catalog.text,
                          pg_catalog.pg_get_function_identity_arguments(p.oid)]
             FROM pg_catalog.pg_depend AS d
             JOIN pg_catalog.pg_proc AS p ON p.oid = d.objid
             JOIN pg_catalog.pg_namespace AS fn ON fn.oid = p.pronamespace
             JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
             WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
               AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND d.refobjid = e.oid AND d.deptype = 'e'
               AND (p.prosecdef OR NOT l.lanpltrusted)
               AND EXISTS (
                   SELECT FROM pg_catalog.aclexplode(
                       coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a
                   WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
             ORDER BY 1) AS public_functions,
       ARRAY(SELECT w.fdwname::pg_catalog.text
             FROM pg_catalog.pg_depend AS d
             JOIN pg_catalog.pg_foreign_data_wrapper AS w ON w.oid = d.objid
             WHERE d.classid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass
               AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND d.refobjid = e.oid AND d.deptype = 'e'
               AND EXISTS (
                   SELECT FROM pg_catalog.aclexplode(
                       coalesce(w.fdwacl, pg_catalog.acldefault('F', w.fdwowner))) AS a
                   WHERE a.grantee = 0 AND a.privilege_type = 'USAGE')
             ORDER BY 1) AS public_wrappers
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
ORDER BY e.extname
