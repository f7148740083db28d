-- How long the server has run: counters younger than that still show the cold start.
SELECT pg_catalog.now() - pg_catalog.pg_postmaster_start_time() AS uptime
