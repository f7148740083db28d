-- The cluster's identity across reports: the system identifier initdb wrote into pg_control
-- (a standby shares its primary's). As text: a 64-bit number is not safe in every JSON reader.
-- pg_control_system() is executable by PUBLIC by default; where EXECUTE was revoked the audit
-- falls back to the address and says so.
SELECT s.system_identifier::pg_catalog.text AS system_identifier
FROM pg_catalog.pg_control_system() AS s
