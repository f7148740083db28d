"""Sorting live grants and default privileges into what the policy format can say.

Grants to exported roles and to PUBLIC become access entries (``export_entries``), those held
WITH GRANT OPTION in entries of their own (``grant_option: true``); PUBLIC's built-in
privileges are the business of ``revoke_public`` and ``revoke_public_function_execute``.
Default privileges become ``*`` entries where they can, else ``default_privileges.grants``
(PUBLIC's, global ones, grant options). The rest (grants to predefined roles, default
privileges on types and schemas, ...) becomes a note.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from pgtune.access import model
from pgtune.access.catalog.export_entries import (
    AccessExport,
    Defaults,
    Held,
    column_entries,
    container_entries,
    relation_entries,
)

PUBLIC_EXECUTE = ("functions", "EXECUTE")
PUBLIC_TYPE_USAGE = ("types", "USAGE")
# PostgreSQL's built-in privileges for PUBLIC that revoke_public says (policy/expand.py keeps
# them): on a database, and on schema public (CREATE only before 15).
_PUBLIC_DATABASE_KEPT = frozenset({"CONNECT", "TEMPORARY"})


def _public_schema_kept(major: int) -> frozenset[str]:
    return frozenset({"USAGE", "CREATE"} if major < 15 else {"USAGE"})


def describe(obj: model.ObjectRef) -> str:
    if obj.kind == "database":
        return f"database {obj.database!r}"
    if obj.kind == "schema":
        return f"schema {obj.schema!r} of {obj.database!r}"
    where = f"{obj.schema!r}.{obj.name!r}"
    if obj.kind == "function":
        where += f"({obj.args})"
    if obj.kind == "column":
        where += f".{obj.column!r}"
    return f"{obj.kind} {where} of {obj.database!r}"


def _held() -> Held:
    return defaultdict(lambda: defaultdict(set))


@dataclass
class _Sorted:
    """The grants of one kind (plain, or WITH GRANT OPTION), by what builds their entries."""

    databases: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    schemas: dict[tuple[str, str], dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    relations: Held = field(default_factory=_held)
    columns: Held = field(default_factory=_held)

    def add(self, grant: model.Grant, role: str) -> None:
        obj = grant.object
        schema, name = obj.schema or "", obj.name or ""
        if obj.kind == "database":
            self.databases[(obj.database, role)].add(grant.privilege)
        elif obj.kind == "schema":
            self.schemas[(obj.database, role)][schema].add(grant.privilege)
        elif obj.kind == "column":
            key: Any = (name, obj.column)
            self.columns[(obj.database, role, "column", schema)][key].add(grant.privilege)
        else:
            key = (name, obj.args) if obj.kind == "function" else name
            self.relations[(obj.database, role, obj.kind, schema)][key].add(grant.privilege)


def _public_builtin(grant: model.Grant, major: int) -> bool:
    """PUBLIC's privileges that revoke_public / revoke_public_function_execute say."""
    obj = grant.object
    if obj.kind == "database":
        return grant.privilege in _PUBLIC_DATABASE_KEPT
    if obj.kind == "schema":
        return obj.schema == "public" and grant.privilege in _public_schema_kept(major)
    return obj.kind == "function"  # entries only with revoke_public_function_execute


def _sort_grants(
    state: model.ClusterState,
    roles: set[str],
    databases: Sequence[str],
    major: int,
    out: AccessExport,
) -> tuple[_Sorted, _Sorted, Held]:
    """Plain grants, grants WITH GRANT OPTION, and PUBLIC's EXECUTE on functions."""
    plain, grantable = _Sorted(), _Sorted()
    public_functions = _held()
    # One pass in any order (a sort of every grant dominated exports of large clusters); only
    # the grants that become notes are sorted, so the notes keep the grants' order.
    predefined: list[model.Grant] = []
    for grant in state.grants:
        obj, role = grant.object, grant.grantee
        if obj.database not in databases:
            continue
        if role == model.PUBLIC:
            role = model.PUBLIC_KEYWORD  # an access entry `role: PUBLIC`
            if _public_builtin(grant, major):
                if obj.kind == "function":
                    key = (obj.name or "", obj.args)
                    where = (obj.database, role, "function", obj.schema or "")
                    public_functions[where][key].add(grant.privilege)
                continue
        elif role not in roles:
            predefined.append(grant)
            continue
        (grantable if grant.grantable else plain).add(grant, role)
    _sort_relations(state, roles, databases, plain, grantable, predefined)
    for grant in sorted(predefined):
        out.notes.append(
            f"{describe(grant.object)}: {grant.grantee!r} holds {grant.privilege}: grants to "
            "predefined roles are not expressed"
        )
    return plain, grantable, public_functions


def _sort_relations(
    state: model.ClusterState,
    roles: set[str],
    databases: Sequence[str],
    plain: _Sorted,
    grantable: _Sorted,
    predefined: list[model.Grant],
) -> None:
    """``_Sorted.add`` for the grants held as item sets (``ClusterState.relation_grants``):
    each set sorted once per schema and kind, its privilege sets shared by its objects."""
    groups: dict[tuple[int, str, str, str], tuple[frozenset[model.Item], list[str]]] = {}
    for obj, items in state.relation_grants.items():
        if not items or obj.database not in databases:
            continue
        key = (id(items), obj.database, obj.kind, obj.schema or "")
        group = groups.get(key)
        if group is None:
            groups[key] = (items, [obj.name or ""])
        else:
            group[1].append(obj.name or "")
    for (_, database, kind, schema), (items, names) in groups.items():
        by_role: dict[tuple[bool, str], set[str]] = defaultdict(set)
        for grantee, privilege, option in items:
            # PUBLIC's privileges on tables and sequences are `role: PUBLIC` entries (none of
            # them is a built-in default, see _public_builtin)
            role = model.PUBLIC_KEYWORD if grantee == model.PUBLIC else grantee
            if grantee != model.PUBLIC and grantee not in roles:
                for name in names:
                    obj = model.ObjectRef(kind, database, schema, name)  # type: ignore[arg-type]
                    predefined.append(model.Grant(obj, grantee, privilege, option))
                continue
            by_role[option, role].add(privilege)
        for (option, role), privileges in by_role.items():
            held = (grantable if option else plain).relations[(database, role, kind, schema)]
            if held.keys().isdisjoint(names):
                held.update(zip(names, repeat(privileges)))  # one set, read only from here
            else:
                for name in names:
                    held[name] = held[name] | privileges


def _default_key(d: model.DefaultPrivilege) -> tuple[str, ...]:
    # schema None (every schema) does not compare with a name: sort it first
    return (d.database, d.owner, d.schema or "", d.objtype, d.grantee, d.privilege)


_KIND = {"tables": "table", "sequences": "sequence", "functions": "function"}


def _sort_defaults(
    state: model.ClusterState, roles: set[str], databases: Sequence[str], out: AccessExport
) -> tuple[Defaults, Defaults]:
    """Per-schema default privileges for exported roles, plain and WITH GRANT OPTION (``*``
    entries where they fit); PUBLIC's and global ones straight to default_privileges.grants;
    every other kind is a note."""
    plain: Defaults = defaultdict(lambda: defaultdict(set))
    grantable: Defaults = defaultdict(lambda: defaultdict(set))
    for d in sorted(state.default_privileges, key=_default_key):
        if d.database not in databases or d.owner not in roles:
            continue  # predefined roles carry the built-in defaults only
        builtin = d.schema is None and (d.objtype, d.privilege) in (
            PUBLIC_EXECUTE,
            PUBLIC_TYPE_USAGE,
        )
        if d.grantee == model.PUBLIC and builtin:
            continue  # PostgreSQL's own default; EXECUTE is handled by the settings
        where = f"FOR ROLE {d.owner!r}" + (f" IN SCHEMA {d.schema!r}" if d.schema else "")
        what = f"{d.grantee!r} gets {d.privilege} on new {d.objtype} ({where}, {d.database!r})"
        if d.grantee not in roles and d.grantee != model.PUBLIC:
            out.notes.append(f"default privileges: {what}: not expressed (predefined role)")
        elif d.objtype not in _KIND:
            out.notes.append(
                f"default privileges: {what}: not expressed (the format has default "
                "privileges for tables, sequences and functions only); a plan would revoke it"
            )
        elif d.grantee == model.PUBLIC or d.schema is None:
            grantee = model.PUBLIC_KEYWORD if d.grantee == model.PUBLIC else d.grantee
            key = (d.database, d.owner, grantee, d.schema, d.grantable)
            out.explicit_defaults[key][_KIND[d.objtype]].add(d.privilege)
        else:
            into = grantable if d.grantable else plain
            into[(d.database, d.schema, d.objtype, d.grantee)][d.owner].add(d.privilege)
    readable = {d.database for d in state.default_privileges if d.database in databases}
    for owner in sorted(roles):
        for database in sorted(readable):
            usage = model.DefaultPrivilege(database, owner, None, "types", model.PUBLIC, "USAGE")
            if usage not in state.default_privileges:
                out.notes.append(
                    f"default privileges: PUBLIC USAGE on new types FOR ROLE {owner!r} in "
                    f"{database!r} was revoked: not expressed"
                )
    return plain, grantable


def _public_function_execute(
    state: model.ClusterState,
    inventories: dict[str, model.Inventory],
    roles: set[str],
    out: AccessExport,
) -> tuple[bool, set[str]]:
    """Whether to set ``revoke_public_function_execute``, and the roles that must not be
    default privilege owners then (PUBLIC may still execute their new functions).

    Set when PUBLIC may not execute some function, or some role revoked EXECUTE on its future
    functions from PUBLIC (in every exported database: those roles are default owners); the
    functions PUBLIC may execute are then ``role: PUBLIC`` entries."""
    functions = sum(len(inventory.functions) for inventory in inventories.values())
    runnable = sum(
        1
        for g in state.grants
        if g.grantee == model.PUBLIC
        and g.privilege == "EXECUTE"
        and g.object.kind == "function"
        and g.object.database in inventories
    )

    def open_in(role: str, db: str) -> bool:
        d = model.DefaultPrivilege(db, role, None, "functions", model.PUBLIC, "EXECUTE")
        return d in state.default_privileges

    closed = {r for r in roles if inventories and not any(open_in(r, db) for db in inventories)}
    partly = sorted(
        r for r in roles if r not in closed and not all(open_in(r, db) for db in inventories)
    )
    revoke = bool(closed) or runnable < functions
    if revoke and partly:
        out.notes.append(
            "PUBLIC may execute the new functions of "
            + ", ".join(repr(r) for r in partly)
            + " in some databases only: not expressed (revoke_public_function_execute "
            "revokes it for every default privilege owner in every database)"
        )
    return revoke, set(roles) - closed if revoke else set()


def _mark_grant_option(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        entry["grant_option"] = True


def export_access(
    state: model.ClusterState,
    inventories: dict[str, model.Inventory],
    roles: set[str],
    databases: Sequence[str],
    major: int = 15,
) -> tuple[AccessExport, bool]:
    """The access entries, default privilege owners and notes; and whether to set
    ``revoke_public_function_execute``. ``inventories`` holds the exported databases only."""
    out = AccessExport()
    plain, grantable, public_functions = _sort_grants(state, roles, databases, major, out)
    defaults, grantable_defaults = _sort_defaults(state, roles, databases, out)
    revoke_execute, not_owners = _public_function_execute(state, inventories, roles, out)
    if revoke_execute:
        for where, functions in public_functions.items():
            plain.relations[where] = functions
    # Owners whose per-schema defaults '*' entries may say; with revoke_public_function_execute
    # also the roles that revoked EXECUTE on their new functions from PUBLIC, never one that
    # did not (its default privileges are written out in default_privileges.grants instead).
    with_defaults = {
        owner for found in (defaults, grantable_defaults) for per in found.values() for owner in per
    }
    if revoke_execute:
        with_defaults |= set(roles) - not_owners
    out.owners = sorted(with_defaults - not_owners)
    container_entries(plain.databases, plain.schemas, out)
    relation_entries(plain.relations, defaults, out.owners, inventories, out)
    column_entries(plain.columns, out)
    start = len(out.entries)
    container_entries(grantable.databases, grantable.schemas, out)
    relation_entries(
        grantable.relations, grantable_defaults, out.owners, inventories, out, grant_option=True
    )
    column_entries(grantable.columns, out)
    _mark_grant_option(out.entries[start:])
    # one role's entries together, each database's in turn (the sort is stable: within
    # them, database, schema, table, sequence, function, column entries keep their order;
    # those WITH GRANT OPTION after the others)
    out.entries.sort(key=lambda entry: (entry["role"], entry["database"]))
    return out, revoke_execute
