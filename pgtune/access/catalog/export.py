"""A policy file (docs/access-policy.md) written from a live cluster, so adoption starts from
what exists: ``export_policy(inspection, databases)``.

What the file says, planned against the same cluster, changes nothing. What the format cannot
say is listed in the file's header as comments (and a plan would change it): grants and
default privileges to predefined roles, default privileges for types and schemas,
per-database role settings, '-infinity' expiry dates, databases that could not be read.
Passwords are never exported.
"""

from collections.abc import Sequence
from typing import Any

import yaml

from pgtune.access import model
from pgtune.access.catalog.export_access import export_access
from pgtune.access.catalog.export_entries import default_grant_entries
from pgtune.access.catalog.reader import Inspection
from pgtune.gcpasses import fewer_gc_passes
from pgtune.names import one_line

# PostgreSQL's built-in privileges for PUBLIC, which only revoke_public can take away.
PUBLIC_DATABASE_DEFAULTS = ("CONNECT", "TEMPORARY")
# Schema public: PUBLIC may USAGE (and CREATE before 15). CREATE is listed whenever PUBLIC
# lacks it, so the file keeps it revoked on a server of any version.
PUBLIC_SCHEMA_DEFAULTS = ("USAGE", "CREATE")
RESERVED_ROLES = ("public", "none", model.PUBLIC_KEYWORD)
_ROLE_FLAGS = ("login", "superuser", "createdb", "createrole", "replication", "bypassrls")
_FLOW_MAX = 80  # a mapping of scalars shorter than this is written on one line


def _exported(name: str) -> bool:
    """Roles the policy may define: not predefined (pg_*) nor a reserved name."""
    return not name.startswith("pg_") and name not in RESERVED_ROLES


def _role(role: model.Role, notes: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {flag: True for flag in _ROLE_FLAGS if getattr(role, flag)}
    if not role.inherit:
        spec["inherit"] = False
    if role.connection_limit != -1:
        spec["connection_limit"] = role.connection_limit
    if role.valid_until == "-infinity":
        notes.append(f"role {role.name!r} is VALID UNTIL '-infinity' (never valid): not expressed")
    elif role.valid_until is not None:
        spec["valid_until"] = role.valid_until
    if role.settings:
        spec["settings"] = dict(role.settings)
    if role.comment is not None:
        spec["comment"] = role.comment
    return spec


def _membership(m: model.Membership) -> dict[str, Any]:
    spec: dict[str, Any] = {"group": m.group, "member": m.member, "admin": m.admin}
    if m.inherit is not None:
        spec["inherit"] = m.inherit
    if m.set is not None:
        spec["set"] = m.set
    return spec


def _public_containers(state: model.ClusterState, database: str) -> dict[model.ObjectRef, set[str]]:
    """PUBLIC's privileges on ``database`` and its schemas, from one pass over the grants (a
    pass per schema was quadratic on large clusters)."""
    held: dict[model.ObjectRef, set[str]] = {}
    for g in state.grants:
        obj = g.object
        if (
            g.grantee == model.PUBLIC
            and obj.kind in ("database", "schema")
            and obj.database == database
        ):
            held.setdefault(obj, set()).add(g.privilege)
    return held


def _database(state: model.ClusterState, inventory: model.Inventory) -> dict[str, Any]:
    name = inventory.database
    spec: dict[str, Any] = {}
    public = _public_containers(state, name)
    held = public.get(model.ObjectRef("database", name), set())
    revoked = [p for p in PUBLIC_DATABASE_DEFAULTS if p not in held]
    if revoked:
        spec["revoke_public"] = revoked
    # what PUBLIC holds beyond the built-in defaults is a `role: PUBLIC` access entry
    schemas: dict[str, Any] = {}
    for schema, owner in sorted(inventory.schemas.items()):
        held = public.get(model.ObjectRef("schema", name, schema), set())
        defaults = PUBLIC_SCHEMA_DEFAULTS if schema == "public" else ()
        schema_spec: dict[str, Any] = {"owner": owner}
        revoked = [p for p in defaults if p not in held]
        if revoked:
            schema_spec["revoke_public"] = revoked
        schemas[schema] = schema_spec
    spec["schemas"] = schemas
    return spec


def _table_text(table: model.TableRef) -> str | dict[str, str]:
    """``database.schema.table``, or the long form when a part would need quoting."""
    parts = (table.database, table.schema, table.name)
    if any("." in p or p.startswith('"') for p in parts):
        return {"database": table.database, "schema": table.schema, "name": table.name}
    return ".".join(parts)


def _rls(state: model.ClusterState, databases: Sequence[str]) -> list[dict[str, Any]]:
    """Tables with RLS enabled, forced or holding policies, each with all its policies."""
    by_table: dict[model.TableRef, list[model.RlsPolicy]] = {}
    for (table, _), policy in state.policies.items():
        by_table.setdefault(table, []).append(policy)
    entries: list[dict[str, Any]] = []
    for table, flags in sorted(state.rls_tables.items()):
        policies = by_table.get(table, [])
        if table.database not in databases or not (flags.enabled or flags.forced or policies):
            continue
        entry: dict[str, Any] = {
            "table": _table_text(table),
            "enable": flags.enabled,
            "force": flags.forced,
        }
        if policies:
            entry["policies"] = [_policy(p) for p in sorted(policies, key=lambda p: p.name)]
        entries.append(entry)
    return entries


def _policy(policy: model.RlsPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": policy.name, "command": policy.command}
    if not policy.permissive:
        spec["permissive"] = False
    if policy.roles != (model.PUBLIC,):
        spec["roles"] = [model.PUBLIC_KEYWORD if r == model.PUBLIC else r for r in policy.roles]
    if policy.using is not None:
        spec["using"] = policy.using
    if policy.with_check is not None:
        spec["with_check"] = policy.with_check
    return spec


def export_policy(inspection: Inspection, databases: Sequence[str]) -> str:
    """The policy file (YAML text) that describes ``databases`` of the inspected cluster."""
    # Millions of short-lived sets and tuples on a large cluster: the default GC thresholds
    # spent more time collecting than exporting (7.0 -> 2.8 s for 1.8M grants), as in plans.
    with fewer_gc_passes():
        return _export_policy(inspection, databases)


def _export_policy(inspection: Inspection, databases: Sequence[str]) -> str:
    state = inspection.state
    notes: list[str] = []
    exported = [db for db in dict.fromkeys(databases) if db in inspection.inventories]
    notes += [
        f"database {db!r} was not read, so it is not in this file: "
        + next((line for line in inspection.unreadable if f"{db!r}" in line), "not inspected")
        for db in dict.fromkeys(databases)
        if db not in inspection.inventories
    ]
    roles = {name: role for name, role in sorted(state.roles.items()) if _exported(name)}
    role_specs = {name: _role(role, notes) for name, role in roles.items()}
    memberships = [_membership(m) for m in sorted(state.memberships) if m.member in roles]
    database_specs = {db: _database(state, inspection.inventories[db]) for db in exported}
    # PUBLIC's grants beyond PostgreSQL's defaults are `role: PUBLIC` access entries.
    inventories = {db: inspection.inventories[db] for db in exported}
    access, revoke_execute = export_access(
        state, inventories, set(roles), exported, inspection.major
    )
    notes += access.notes

    document: dict[str, Any] = {"version": 1}
    if revoke_execute:
        document["settings"] = {"revoke_public_function_execute": True}
    document["roles"] = role_specs
    if memberships:
        document["memberships"] = memberships
    document["databases"] = database_specs
    if access.entries:
        document["access"] = access.entries
    default_grants = default_grant_entries(access)
    if access.owners or default_grants:
        document["default_privileges"] = {"owners": access.owners}
    if default_grants:
        document["default_privileges"]["grants"] = default_grants
    rls = _rls(state, exported)
    if rls:
        document["rls"] = rls
    return _header(inspection.major, notes) + yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )


def _header(major: int, notes: list[str]) -> str:
    lines = [
        f"# Access policy exported by pgtune from a live PostgreSQL {major} cluster.",
        "# Passwords are never exported: add password_env to the roles whose password pgtune",
        "# should set. Planned against the same cluster, this file changes nothing, except what",
        "# the notes below list.",
    ]
    if notes:
        lines.append("#")
        lines.append("# Not expressed in this file (a plan from it may change these):")
        lines += [f"#   - {one_line(note)}" for note in notes]  # one comment line each
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """Block style, except short mappings and lists of plain values, which read best inline."""


def _is_leaf(value: object) -> bool:
    return not isinstance(value, dict | list) or (
        isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)
    )


def _represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.MappingNode:
    flow = all(_is_leaf(v) for v in data.values()) and len(str(data)) <= _FLOW_MAX
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # A name with a line break (\n, NEL, U+2028 ...) or another control character goes in
    # double quotes, where YAML escapes it: plain or single-quoted, it would spill onto the next
    # line, and NEL / U+2028 would even read back as a different name.
    style = None if data.isprintable() else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)
