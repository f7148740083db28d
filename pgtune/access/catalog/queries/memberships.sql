-- Role memberships (PostgreSQL 16+). Since 16 the same membership may be granted once per
-- grantor, each with its own options; the model has one membership per (group, member), whose
-- options are what the member effectively gets: any grant with the option gives it. The
-- grantors are listed: a plain REVOKE only removes the current user's grant, the others need
-- REVOKE ... GRANTED BY each of them.
SELECT g.rolname AS group_name,
       m.rolname AS member_name,
       pg_catalog.bool_or(a.admin_option) AS admin,
       pg_catalog.bool_or(a.inherit_option) AS inherit,
       pg_catalog.bool_or(a.set_option) AS set_option,
       pg_catalog.array_agg(DISTINCT pg_catalog.pg_get_userbyid(a.grantor)::text) AS grantors
FROM pg_catalog.pg_auth_members AS a
JOIN pg_catalog.pg_roles AS g ON g.oid = a.roleid
JOIN pg_catalog.pg_roles AS m ON m.oid = a.member
GROUP BY g.rolname, m.rolname
ORDER BY g.rolname, m.rolname
