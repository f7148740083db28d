"""A policy on the objects that exist → the desired `ClusterState` and the `Scope` of the diff.

Pure: the caller inspects the live databases into one `Inventory` each (every database listed
under ``databases:``) and passes the server's major version. Problems that only the objects
can reveal (a literal table or column that does not exist, MAINTAIN before 17, ...) are
reported together as one `PolicyError`, with their lines.

Representation, shared with the catalog inspector (both sides must use the same forms):

- **No grants to an object's owner.** The owner holds every privilege implicitly; the
  inspector drops the owner's own ACL items (``aclexplode(...) WHERE grantee <> owner``), so the
  desired state never contains them either (nor default privileges FOR ROLE r TO r).
- **PUBLIC revocations** are ``Scope.public_revocations``: Grants with grantee ``PUBLIC`` that
  must *not* exist (database CONNECT / TEMPORARY, schema CREATE / USAGE, and with
  ``revoke_public_function_execute`` EXECUTE on every function of every managed schema). The
  desired ``ClusterState.grants`` never holds a PUBLIC grant; the live side shows what PUBLIC
  holds (NULL ACLs read through ``acldefault``), and the diff revokes what is in both.
- **Default privileges revoked from PUBLIC.** PostgreSQL's built-in default lets PUBLIC
  execute every new function. ``ALTER DEFAULT PRIVILEGES FOR ROLE r REVOKE EXECUTE ON
  FUNCTIONS FROM PUBLIC`` does not add a "revoked" row: it stores a *global* pg_default_acl
  entry (defaclnamespace = 0, objtype 'f') whose ACL is the default minus PUBLIC, i.e.
  ``{r=X/r}``. (It must be global: a per-schema entry can only add to the global default.)
  So the state holds the *effective* global default ACL: the inspector reads, for functions
  and types, the stored global entry, else ``acldefault(objtype, role)``, and emits
  ``DefaultPrivilege(db, r, None, "functions", "PUBLIC", "EXECUTE")`` while PUBLIC still has
  it. The absence of that DefaultPrivilege means "revoked". The policy asks for the absence
  through ``Scope.public_default_revocations`` (one such DefaultPrivilege per database and each
  ``default_privileges.owners`` role); ``ClusterState.default_privileges`` never holds a
  PUBLIC entry.
- **Default privileges for grantees** are per schema (``IN SCHEMA``), FOR ROLE each of
  ``default_privileges.owners``, for the table / sequence / function privileges of each access
  entry whose patterns for that kind include ``*`` (and, for tables, no column list).
- **Memberships**: options as written; ``inherit`` / ``set`` left None (not managed) when
  not written, and always None before PostgreSQL 16, which has no such options (a written
  value the server cannot honour is a problem, not silently dropped).
- **RLS expressions** go through ``canonicalize(table, expression)`` when given, so they
  compare with the server's ``pg_get_expr`` form; without it they stay as written.
"""

from collections.abc import Callable
from dataclasses import replace
from itertools import chain
from typing import TypeVar

from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    DefaultObjectType,
    DefaultPrivilege,
    Grant,
    Inventory,
    Item,
    Membership,
    ObjectRef,
    RlsPolicy,
    RlsTable,
    Scope,
    TableRef,
    function_ref,
    strongest_items,
    without_grant_option,
)
from pgtune.access.policy.document import Policy
from pgtune.access.policy.expand_access import Contributions, Index, expand_entry
from pgtune.access.policy.names import format_table
from pgtune.access.policy.problems import PolicyError, Problem, did_you_mean

Canonicalize = Callable[[TableRef, str], str]
_G = TypeVar("_G", Grant, DefaultPrivilege)


def _inventories(
    policy: Policy, inventories: dict[str, Inventory], problems: list[Problem]
) -> dict[str, Inventory]:
    """The inventory of every listed database whose listed schemas all exist."""
    found: dict[str, Inventory] = {}
    for name, spec in sorted(policy.databases.items()):
        inventory = inventories.get(name)
        if inventory is None:
            problems.append(
                Problem(
                    policy.line("database", name),
                    f"database {name!r} does not exist{did_you_mean(name, inventories)}",
                )
            )
            continue
        found[name] = inventory
        for schema in spec.schemas:
            if schema not in inventory.schemas:
                problems.append(
                    Problem(
                        policy.line("schema", name, schema),
                        f"schema {schema!r} does not exist in database {name!r}"
                        + did_you_mean(schema, inventory.schemas),
                    )
                )
    return found


def _public_revocations(
    policy: Policy, inventories: dict[str, Inventory]
) -> tuple[frozenset[Grant], frozenset[DefaultPrivilege]]:
    grants: set[Grant] = set()
    defaults: set[DefaultPrivilege] = set()
    for name, spec in policy.databases.items():
        grants |= {Grant(ObjectRef("database", name), PUBLIC, p) for p in spec.revoke_public}
        for schema in spec.schemas.values():
            ref = ObjectRef("schema", name, schema.name)
            grants |= {Grant(ref, PUBLIC, p) for p in schema.revoke_public}
        if not policy.settings.revoke_public_function_execute:
            continue
        inventory = inventories.get(name)
        for schema_name, function, args in sorted(inventory.functions if inventory else {}):
            if schema_name in spec.schemas:
                types = (
                    inventory.function_types.get((schema_name, function, args))
                    if inventory
                    else None
                )
                ref = function_ref(name, schema_name, function, args, types)
                grants.add(Grant(ref, PUBLIC, "EXECUTE"))
        defaults |= {
            DefaultPrivilege(name, owner, None, "functions", PUBLIC, "EXECUTE")
            for owner in policy.default_owners
        }
    return frozenset(grants), frozenset(defaults)


_DEFAULT_OBJTYPES: tuple[tuple[str, DefaultObjectType], ...] = (
    ("table", "tables"),
    ("sequence", "sequences"),
    ("function", "functions"),
)


def _default_grants(policy: Policy, problems: list[Problem]) -> set[DefaultPrivilege]:
    """``default_privileges.grants``: exactly as written, in schemas the policy manages (or
    global: ``schemas`` not written)."""
    defaults: set[DefaultPrivilege] = set()
    for grant in policy.default_grants:
        spec = policy.databases.get(grant.database)
        schemas: tuple[str | None, ...] = (None,) if grant.schemas is None else grant.schemas
        missing = [s for s in grant.schemas or () if spec is None or s not in spec.schemas]
        if spec is None or missing:
            where = f"schema {missing[0]!r} of " if spec is not None else ""
            problems.append(
                Problem(
                    grant.line,
                    f"default privileges: {where}database {grant.database!r} is not listed "
                    "under databases:",
                )
            )
            continue
        if grant.owner == grant.role:
            continue  # an owner holds everything on what it creates
        defaults |= {
            DefaultPrivilege(
                grant.database, grant.owner, schema, objtype, grant.role, p, grant.grant_option
            )
            for schema in schemas
            for kind, objtype in _DEFAULT_OBJTYPES
            for p in grant.privileges.of(kind)
        }
    return defaults


def _strongest(items: set[_G]) -> frozenset[_G]:
    """One item per privilege and grantee: given both with and without grant option (by two
    entries), with it — as the inspector merges the live side (catalog.convert)."""
    shadowed = {without_grant_option(item) for item in items if item.grantable}
    return frozenset(items - shadowed)


def _shared(relations: Contributions) -> dict[ObjectRef, frozenset[Item]]:
    """Each relation's items, merged as ``_strongest`` merges Grants; relations granted by the
    same entries share one set."""
    merged: dict[tuple[frozenset[Item], ...], frozenset[Item]] = {}
    out: dict[ObjectRef, frozenset[Item]] = {}
    for ref, contributions in relations.items():
        key = tuple(contributions)
        items = merged.get(key)
        if items is None:
            items = merged[key] = strongest_items(chain.from_iterable(contributions))
        out[ref] = items
    return out


def _memberships(policy: Policy, major: int, problems: list[Problem]) -> frozenset[Membership]:
    if major >= 16:
        return frozenset(policy.memberships)
    kept: set[Membership] = set()
    for m in policy.memberships:
        line = policy.line("membership", m.group, m.member)
        member = policy.roles.get(m.member)
        # Before 16 a member may always SET ROLE, and inherits per its own INHERIT attribute.
        if m.set is False:
            problems.append(
                Problem(
                    line,
                    f"membership {m.member!r} in {m.group!r}: set: false needs "
                    f"PostgreSQL 16 or later (the server is {major})",
                )
            )
        if m.inherit is not None and member is not None and m.inherit != member.inherit:
            problems.append(
                Problem(
                    line,
                    f"membership {m.member!r} in {m.group!r}: inherit per membership needs "
                    f"PostgreSQL 16 or later (the server is {major}); before 16 it follows "
                    f"the role's own inherit attribute",
                )
            )
        kept.add(replace(m, inherit=None, set=None))
    return frozenset(kept)


def _rls(
    policy: Policy,
    inventories: dict[str, Inventory],
    canonicalize: Canonicalize | None,
    problems: list[Problem],
) -> tuple[dict[TableRef, RlsTable], dict[tuple[TableRef, str], RlsPolicy]]:
    tables: dict[TableRef, RlsTable] = {}
    policies: dict[tuple[TableRef, str], RlsPolicy] = {}
    for spec in policy.rls:
        t = spec.table
        inventory = inventories.get(t.database)
        if inventory is None:
            continue  # the database itself is reported missing
        if (t.schema, t.name) not in inventory.tables:
            names = [n for s, n in inventory.tables if s == t.schema]
            problems.append(
                Problem(
                    spec.line,
                    f"table {format_table(t)} does not exist{did_you_mean(t.name, names)}",
                )
            )
            continue
        tables[t] = RlsTable(t, enabled=spec.enable, forced=spec.force)
        for p in spec.policies:
            if canonicalize is not None:
                p = replace(
                    p,
                    using=None if p.using is None else canonicalize(t, p.using),
                    with_check=None if p.with_check is None else canonicalize(t, p.with_check),
                )
            policies[t, p.name] = p
    return tables, policies


def expand(
    policy: Policy,
    inventories: dict[str, Inventory],
    *,
    major: int,
    canonicalize: Canonicalize | None = None,
    grouped: bool = False,
) -> tuple[ClusterState, Scope]:
    """The desired state of what ``policy`` manages, on the objects in ``inventories``
    (database name → Inventory), for a server of version ``major``; and the Scope.

    ``grouped``: grants on tables and sequences are in ``ClusterState.relation_grants`` (item
    sets shared by the relations that get the same ones), not in ``grants``."""
    problems: list[Problem] = []
    found = _inventories(policy, inventories, problems)
    grants: set[Grant] = set()
    defaults: set[DefaultPrivilege] = set()
    indexes = {name: Index(inventory) for name, inventory in found.items()}
    relations: Contributions | None = {} if grouped else None
    for entry in policy.access:
        if major < 17 and "MAINTAIN" in entry.privileges.table:
            problems.append(
                Problem(
                    entry.line, f"MAINTAIN needs PostgreSQL 17 or later (the server is {major})"
                )
            )
        inventory = found.get(entry.database)
        if inventory is None:
            continue
        expansion = expand_entry(
            entry, inventory, policy.default_owners, indexes[entry.database], relations
        )
        grants |= expansion.grants
        defaults |= expansion.defaults
        problems += expansion.problems
    defaults |= _default_grants(policy, problems)
    memberships = _memberships(policy, major, problems)
    rls_tables, rls_policies = _rls(policy, found, canonicalize, problems)
    public_grants, public_defaults = _public_revocations(policy, found)
    if problems:
        raise PolicyError(policy.source, problems)

    owners: dict[ObjectRef, str] = {}
    if policy.settings.manage_ownership:
        for name, spec in policy.databases.items():
            for schema in spec.schemas.values():
                if schema.owner is not None:
                    owners[ObjectRef("schema", name, schema.name)] = schema.owner
    state = ClusterState(
        roles=dict(policy.roles),
        memberships=memberships,
        grants=_strongest(grants),
        default_privileges=_strongest(defaults),
        relation_grants=_shared(relations) if relations else {},
        rls_tables=rls_tables,
        policies=rls_policies,
        owners=owners,
    )
    scope = Scope(
        roles=frozenset(policy.roles),
        databases=frozenset(policy.databases),
        schemas=frozenset(
            (name, schema) for name, spec in policy.databases.items() for schema in spec.schemas
        ),
        rls_tables=frozenset(rls_tables),
        drop_roles=policy.settings.drop_unmanaged_roles,
        manage_ownership=policy.settings.manage_ownership,
        public_revocations=public_grants,
        public_default_revocations=public_defaults,
        unmanaged_roles=policy.settings.unmanaged_roles,
        complete=True,
        public_allowed=_public_allowed(policy, found, major, grants),
    )
    return state, scope


# PostgreSQL's built-in privileges for PUBLIC on the objects the model has: a database's
# (acldefault 'd') and a function's (acldefault 'f'); schema public's initial ACL (initdb):
# USAGE, and CREATE before 15.
PUBLIC_DATABASE_DEFAULTS = ("CONNECT", "TEMPORARY")
PUBLIC_FUNCTION_DEFAULTS = ("EXECUTE",)


def _public_allowed(
    policy: Policy, inventories: dict[str, Inventory], major: int, granted: set[Grant]
) -> frozenset[Grant]:
    """What PUBLIC may keep on managed objects without the policy granting it: PostgreSQL's
    built-in defaults, minus what ``revoke_public`` / ``revoke_public_function_execute`` take
    away. Held, they are left alone; missing, they are not granted back (only an access entry
    for PUBLIC grants). Everything else PUBLIC holds there is revoked."""
    allowed: set[Grant] = set()
    for name, spec in policy.databases.items():
        database = ObjectRef("database", name)
        allowed |= {
            Grant(database, PUBLIC, p)
            for p in PUBLIC_DATABASE_DEFAULTS
            if p not in spec.revoke_public
        }
        schema = spec.schemas.get("public")
        if schema is not None:
            kept = ("USAGE", "CREATE") if major < 15 else ("USAGE",)
            ref = ObjectRef("schema", name, "public")
            allowed |= {Grant(ref, PUBLIC, p) for p in kept if p not in schema.revoke_public}
        inventory = inventories.get(name)
        if policy.settings.revoke_public_function_execute or inventory is None:
            continue
        for schema_name, function, args in inventory.functions:
            if schema_name in spec.schemas:
                ref = ObjectRef("function", name, schema_name, function, args=args)
                allowed |= {Grant(ref, PUBLIC, p) for p in PUBLIC_FUNCTION_DEFAULTS}
    return frozenset(allowed - granted)
