-- Role memberships (PostgreSQL 16+). Since 16 the same membership may be granted once per
-- grantor, each with its own options; the model has one membership per (group, member), whose
-- options are what the member effectively gets: any grant with the option gives it. The
-- grantors are listed: a plain REVOKE only removes the current user's grant, the others need
-- REVOKE ... GRANTED BY each of them. The grantors whose grant carries each option are listed
-- too (a grant with ADMIN OPTION that is revoked takes, with CASCADE, the grants its holder
-- made: PostgreSQL tracks those dependencies from 16).
SELECT g.rolname AS group_name,
       m.rolname AS member_name,
       pg_catalog.bool_or(a.admin_option) AS admin,
       pg_catalog.bool_or(a.inherit_option) AS inherit,
       pg_catalog.bool_or(a.set_option) AS set_option,
       pg_catalog.array_agg(DISTINCT pg_catalog.pg_get_userbyid(a.grantor)::text) AS grantors,
       pg_catalog.array_agg(pg_catalog.pg_get_userbyid(a.grantor)::text)
           FILTER (WHERE a.admin_option) AS admin_grantors,
       pg_catalog.array_agg(pg_catalog.pg_get_userbyid(a.grantor)::text)
           FILTER (WHERE a.inherit_option) AS inherit_grantors,
       pg_catalog.array_agg(pg_catalog.pg_get_userbyid(a.grantor)::text)
           FILTER (WHERE a.set_option) AS set_grantors,
       -- Every grant of the pair is the one CREATE ROLE made itself when a CREATEROLE role
       -- (not a superuser) created the group: the bootstrap superuser as grantor, ADMIN
       -- without INHERIT or SET, and made by that CREATE ROLE, which takes the role's OID,
       -- then one for each IN ROLE grant of the new role, then this grant's. A superuser's
       -- explicit GRANT looks the same but for its OID: made later, other OIDs lie between
       -- (unless nothing took one since the CREATE ROLE: the catalog cannot tell that apart).
       -- When in doubt (an IN ROLE grant revoked since, another session's OID between) it
       -- is not one: pgtune reports it.
       pg_catalog.bool_and(
           a.grantor = 10::pg_catalog.oid
           AND a.admin_option AND NOT a.inherit_option AND NOT a.set_option
           AND a.oid::pg_catalog.int8 > g.oid::pg_catalog.int8
           AND a.oid::pg_catalog.int8 - g.oid::pg_catalog.int8 - 1 = (
               SELECT pg_catalog.count(*)
               FROM pg_catalog.pg_auth_members AS i
               WHERE i.member = a.roleid AND i.oid > g.oid AND i.oid < a.oid
           )
       ) AS creation_grant
FROM pg_catalog.pg_auth_members AS a
JOIN pg_catalog.pg_roles AS g ON g.oid = a.roleid
JOIN pg_catalog.pg_roles AS m ON m.oid = a.member
GROUP BY g.rolname, m.rolname
ORDER BY g.rolname, m.rolname
