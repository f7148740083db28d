-- Role memberships before PostgreSQL 16: no per-grant INHERIT / SET options (inheritance
-- follows the member's rolinherit), so they are NULL = not managed. One grant per pair: any
-- role with ADMIN OPTION (or a superuser) removes it whoever granted it, so no grantors.
SELECT g.rolname AS group_name,
       m.rolname AS member_name,
       pg_catalog.bool_or(a.admin_option) AS admin,
       NULL::boolean AS inherit,
       NULL::boolean AS set_option,
       NULL::text[] AS grantors
FROM pg_catalog.pg_auth_members AS a
JOIN pg_catalog.pg_roles AS g ON g.oid = a.roleid
JOIN pg_catalog.pg_roles AS m ON m.oid = a.member
GROUP BY g.rolname, m.rolname
ORDER BY g.rolname, m.rolname
