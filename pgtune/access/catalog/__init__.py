"""Live inspection of a cluster's access state: roles, memberships, privileges, default
privileges and row level security, read set-based into ``pgtune.access.model``.

    inspection = inspect_cluster(lambda db: pg.connect(dsn_for(db)), ["app", "reporting"])
    inspection.state        # model.ClusterState: what is
    inspection.inventories  # model.Inventory per readable database: what exists
    inspection.unreadable   # what could not be read, one line each

``export.export_policy(inspection, databases)`` writes the inspected state back as a policy
file (docs/access-policy.md), listing in its header what the format cannot express.

Every catalog family is one query (``queries/*.sql``): roles, memberships and the databases'
ACLs once per cluster, the rest once per database, in one read-only REPEATABLE READ
transaction per database. ``Inspection.queries`` counts them: 3 + 6 per readable database,
whatever the number of objects.

Representation (the live side of ``plan.diff``):

- **ACLs are effective ACLs.** A NULL ACL is PostgreSQL's built-in default, read through
  ``acldefault``, so PUBLIC CONNECT / TEMPORARY on databases, PUBLIC EXECUTE on functions and the
  version-dependent privileges of schema ``public`` are ordinary grants to PUBLIC.
- **Owners' own privileges are not grants.** Items whose grantee is the object's owner are
  dropped (ownership implies them; a diff must never revoke them). Owners are in
  ``ClusterState.owners`` for databases, schemas, tables, sequences and functions.
- **Grantors are kept apart.** The same privilege granted by several grantors is one
  ``Grant``, grantable if any grant is; where a role other than the object's owner granted it
  (WITH GRANT OPTION chains), ``ClusterState.grantors`` lists every grantor of that
  (object, grantee, privilege), the owner too when it also granted it, so the diff can revoke
  each item as its grantor.
- **PUBLIC is grantee 0**, read as ``''`` (model.PUBLIC: no role can have an empty name), never
  by the text "PUBLIC", which a real role may be called.
- **Kinds.** Tables, views, materialized views, foreign and partitioned tables are "table";
  functions, procedures, aggregates and window functions are "function" (a statement for them
  should say ``ON ROUTINE``, which fits every kind). Column grants come from ``attacl`` only.
  Types, domains, languages, large objects, tablespaces, foreign servers and parameters have no
  kind in the model and are not read.
- **Excluded:** system schemas (``pg_*``, ``information_schema``) and objects that belong to an
  extension (``pg_depend.deptype = 'e'``): from grants, owners, inventories, RLS and policies.
- **Default privileges are effective too.** A per-schema entry of ``pg_default_acl`` adds to the
  global one and is emitted as stored, one ``DefaultPrivilege`` per item. A global entry
  (schema None) *replaces* the built-in default, which gives PUBLIC EXECUTE on functions and
  PUBLIC USAGE on types; without one, the built-in default applies. So for functions and types
  the global ACL of *every* role is read as ``coalesce(stored, acldefault)``: a role that never
  ran ``ALTER DEFAULT PRIVILEGES`` has ``DefaultPrivilege(db, role, None, "functions",
  "PUBLIC", "EXECUTE")``, and after ``ALTER DEFAULT PRIVILEGES FOR ROLE r REVOKE EXECUTE ON
  FUNCTIONS FROM PUBLIC`` it has none: the absence of the PUBLIC entry *is* the revocation. The
  owner's own items are dropped here as well (so an owner revoking its own default privileges
  is not represented).
- **Roles**: all of them, predefined ``pg_*`` ones included (the diff filters by scope), from
  ``pg_roles``; ``valid_until`` is UTC ISO 8601 (``2027-01-01T00:00:00+00:00``), None for no
  expiry and for 'infinity' (both mean the same), "-infinity" for never valid; settings are
  ``ALTER ROLE ... SET`` (database 0) split at the first '=' and sorted; per-database role
  settings (``ALTER ROLE ... IN DATABASE``) are not read. ``password_env`` is always None.
- **Memberships**: one per (group, member). On 16+ a membership may be granted once per
  grantor: the options are OR-ed (what the member effectively gets), and ``grants`` keeps each
  grant with its own options (a revoke that takes a grant carrying ADMIN OPTION takes, with
  CASCADE, the grants its holder made). Before 16, ``inherit`` and ``set`` are None
  (inheritance follows the member's INHERIT attribute) and there are no grantors.
- **RLS**: ``rls_tables`` has every ordinary and partitioned table, with its flags; policies
  carry the server's ``pg_get_expr`` text and roles sorted, "PUBLIC" for the public role.

Without superuser: everything above is readable (``pg_roles``, ``pg_auth_members``,
``pg_db_role_setting``, ``pg_default_acl``, ``pg_policy`` are readable by every role) except
databases the role has no CONNECT privilege for, which are listed in ``unreadable``; their
database-level ACL and owner are still read, from ``pg_database``. Passwords are never read.
"""

from pgtune.access.catalog.reader import Connect, Inspection, inspect_cluster

__all__ = ["Connect", "Inspection", "inspect_cluster"]
