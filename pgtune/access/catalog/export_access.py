"""Sorting live grants and default privileges into what the policy format can say.

Grants to exported roles become access entries (``export_entries``); PUBLIC's are the
business of ``revoke_public`` and ``revoke_public_function_execute``; the rest (grants to
predefined roles, WITH GRANT OPTION, default privileges for all schemas, ...) becomes a note.
"""

from collections import defaultdict
from collections.abc import Sequence
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


def _sort_grants(
    state: model.ClusterState, roles: set[str], databases: Sequence[str], out: AccessExport
) -> tuple[dict[tuple[str, str], set[str]], dict[tuple[str, str], dict[str, set[str]]], Held, Held]:
    database_grants: dict[tuple[str, str], set[str]] = defaultdict(set)
    schema_grants: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    relations: Held = defaultdict(lambda: defaultdict(set))
    columns: Held = defaultdict(lambda: defaultdict(set))
    with_option: dict[tuple[model.ObjectRef, str], list[str]] = defaultdict(list)
    # One pass in any order (a sort of every grant dominated exports of large clusters); only
    # the grants that become notes are sorted, so the notes keep the grants' order.
    predefined: list[model.Grant] = []
    grantable: list[tuple[model.Grant, str]] = []
    for grant in state.grants:
        obj, role = grant.object, grant.grantee
        if obj.database not in databases:
            continue
        if role == model.PUBLIC:
            if obj.kind not in ("table", "sequence", "column"):
                continue  # revoke_public and revoke_public_function_execute say these
            role = model.PUBLIC_KEYWORD  # an access entry `role: PUBLIC`
        if role not in roles and role != model.PUBLIC_KEYWORD:
            predefined.append(grant)
            continue
        if grant.grantable:
            grantable.append((grant, role))
        schema, name = obj.schema or "", obj.name or ""
        if obj.kind == "database":
            database_grants[(obj.database, role)].add(grant.privilege)
        elif obj.kind == "schema":
            schema_grants[(obj.database, role)][schema].add(grant.privilege)
        elif obj.kind == "column":
            key: Any = (name, obj.column)
            columns[(obj.database, role, "column", schema)][key].add(grant.privilege)
        else:
            key = (name, obj.args) if obj.kind == "function" else name
            relations[(obj.database, role, obj.kind, schema)][key].add(grant.privilege)
    for grant in sorted(predefined):
        out.notes.append(
            f"{describe(grant.object)}: {grant.grantee!r} holds {grant.privilege}: grants to "
            "predefined roles are not expressed"
        )
    for grant, role in sorted(grantable, key=lambda item: item[0]):
        with_option[(grant.object, role)].append(grant.privilege)
    for (obj, role), privileges in with_option.items():
        out.notes.append(
            f"{describe(obj)}: {role!r} may grant {', '.join(privileges)} to others "
            "(WITH GRANT OPTION): not expressed; a plan would revoke the grant option"
        )
    return database_grants, schema_grants, relations, columns


def _default_key(d: model.DefaultPrivilege) -> tuple[str, ...]:
    # schema None (every schema) does not compare with a name: sort it first
    return (d.database, d.owner, d.schema or "", d.objtype, d.grantee, d.privilege)


def _sort_defaults(
    state: model.ClusterState, roles: set[str], databases: Sequence[str], out: AccessExport
) -> Defaults:
    """Per-schema default privileges for exported roles; every other kind is a note."""
    defaults: Defaults = defaultdict(lambda: defaultdict(set))
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
        if d.grantee not in roles:
            out.notes.append(f"default privileges: {what}: not expressed (PUBLIC or predefined)")
        elif d.schema is None or d.objtype not in ("tables", "sequences", "functions"):
            out.notes.append(
                f"default privileges: {what}: not expressed (the format has per-schema default "
                "privileges for tables, sequences and functions only); a plan would revoke it"
            )
        else:
            if d.grantable:
                out.notes.append(f"default privileges: {what} WITH GRANT OPTION: not expressed")
            defaults[(d.database, d.schema, d.objtype, d.grantee)][d.owner].add(d.privilege)
    readable = {d.database for d in state.default_privileges if d.database in databases}
    for owner in sorted(roles):
        for database in sorted(readable):
            usage = model.DefaultPrivilege(database, owner, None, "types", model.PUBLIC, "USAGE")
            if usage not in state.default_privileges:
                out.notes.append(
                    f"default privileges: PUBLIC USAGE on new types FOR ROLE {owner!r} in "
                    f"{database!r} was revoked: not expressed"
                )
    return defaults


def _public_function_execute(
    state: model.ClusterState,
    inventories: dict[str, model.Inventory],
    owners: list[str],
    out: AccessExport,
) -> bool:
    """Whether ``revoke_public_function_execute`` describes the live state: PUBLIC may execute
    none of the functions and none of the owners' future functions. A mixture is a note."""
    functions = [
        model.ObjectRef("function", db, s, n, a)
        for db, inventory in inventories.items()
        for s, n, a in inventory.functions
    ]
    runnable = [f for f in functions if model.Grant(f, model.PUBLIC, "EXECUTE") in state.grants]
    pairs = [(db, owner) for db in inventories for owner in owners]
    open_defaults = [
        (db, owner)
        for db, owner in pairs
        if model.DefaultPrivilege(db, owner, None, "functions", model.PUBLIC, "EXECUTE")
        in state.default_privileges
    ]
    if not functions and not pairs:
        return False
    if not runnable and not open_defaults:
        return True
    if len(runnable) < len(functions) or len(open_defaults) < len(pairs):
        out.notes.append(
            f"PUBLIC may execute {len(runnable)} of {len(functions)} functions, and the new "
            f"functions of {len(open_defaults)} of {len(pairs)} (database, owner) pairs: "
            "revoke_public_function_execute revokes from all or none, so it is not set"
        )
    return False


def export_access(
    state: model.ClusterState,
    inventories: dict[str, model.Inventory],
    roles: set[str],
    databases: Sequence[str],
) -> tuple[AccessExport, bool]:
    """The access entries, default privilege owners and notes; and whether to set
    ``revoke_public_function_execute``. ``inventories`` holds the exported databases only."""
    out = AccessExport()
    database_grants, schema_grants, relations, columns = _sort_grants(state, roles, databases, out)
    defaults = _sort_defaults(state, roles, databases, out)
    owners = sorted({owner for per_owner in defaults.values() for owner in per_owner})
    # Owners that revoked EXECUTE on their future functions from PUBLIC are default owners too,
    # if that is what the setting can say.
    closed = [
        owner
        for owner in sorted(roles)
        for db in inventories
        if model.DefaultPrivilege(db, owner, None, "functions", model.PUBLIC, "EXECUTE")
        not in state.default_privileges
    ]
    candidates = sorted(set(owners) | set(closed))
    revoke_execute = _public_function_execute(state, inventories, candidates, out)
    out.owners = candidates if revoke_execute else owners
    container_entries(database_grants, schema_grants, out)
    relation_entries(relations, defaults, out.owners, inventories, out)
    column_entries(columns, out)
    # one role's entries together, each database's in turn (the sort is stable: within
    # them, database, schema, table, sequence, function, column entries keep their order)
    out.entries.sort(key=lambda entry: (entry["role"], entry["database"]))
    return out, revoke_execute
