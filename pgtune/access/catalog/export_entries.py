"""Building the ``access:`` entries of an exported policy from grants sorted by kind.

The policy format expresses default privileges only through access entries whose patterns are
``*``: such an entry grants its privileges on every existing object of the schema *and*, FOR
ROLE each of ``default_privileges.owners``, IN SCHEMA, on future ones. So a live default
privilege is exported as a ``*`` entry only when that reading reproduces the live state
exactly: every owner in the list has the same per-schema default privileges for the grantee,
and the grantee already holds them on every object of the kind in the schema. Everything else
is exported as literal names (``tables: [orders]``), and default privileges that do not fit
are listed in the notes.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pgtune.access import model

_OBJTYPE = {"table": "tables", "sequence": "sequences", "function": "functions"}
_PATTERN_KEY = _OBJTYPE  # the access entry's pattern list has the same name
_RELATION_KINDS = ("table", "sequence", "function")
_GLOB = re.compile(r"([*?\[])")


def literal_pattern(name: str) -> str:
    """A name as a pattern matching only itself (glob characters bracketed).

    >>> literal_pattern("orders"), literal_pattern("a*b?[c]")
    ('orders', 'a[*]b[?][[]c]')
    """
    return _GLOB.sub(r"[\1]", name)


def ordered(kind: str, privileges: Iterable[str]) -> list[str]:
    """Privileges in PostgreSQL's order (model.PRIVILEGES), as the policy format lists them."""
    held = set(privileges)
    return [p for p in model.PRIVILEGES[kind] if p in held]


@dataclass
class AccessExport:
    entries: list[dict[str, Any]] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # default privileges no '*' entry reproduces: (database, owner, role, schema or None for
    # global ones, grant option) -> kind -> privileges, written as default_privileges.grants
    explicit_defaults: dict[tuple[str, str, str, str | None, bool], dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )


# (database, role, kind, schema) -> object key -> privileges. The key is the name, (name, args)
# for functions, (table, column) for columns.
Held = dict[tuple[str, str, str, str], dict[Any, set[str]]]
# (database, schema, objtype, grantee) -> owner -> privileges
Defaults = dict[tuple[str, str, str, str], dict[str, set[str]]]


# schema -> (object key, owner) of one kind of object, in the inventory's order
BySchema = dict[str, list[tuple[Any, str]]]


def _by_schema(inventory: model.Inventory, kind: str) -> BySchema:
    """The objects of ``kind`` per schema: built once per database and kind (a scan of every
    object per role and schema was quadratic on large clusters)."""
    index: BySchema = defaultdict(list)
    if kind == "function":
        for (s, n, a), o in inventory.functions.items():
            index[s].append(((n, a), o))
        return index
    source = inventory.tables if kind == "table" else inventory.sequences
    for (s, n), o in source.items():
        index[s].append((n, o))
    return index


def _objects(index: BySchema, schema: str, role: str) -> list[Any]:
    """Keys of the objects of the index's kind in ``schema`` that ``role`` does not own."""
    return [key for key, owner in index.get(schema, ()) if owner != role]


def _pattern(kind: str, key: Any) -> str | None:
    if kind != "function":
        return literal_pattern(key)
    name, args = key
    if "(" in name or ")" in name:
        return None  # "name(args)" could not be split back apart
    return f"{literal_pattern(name)}({args})"


def _entry(role: str, database: str, kind: str, privileges: Iterable[str]) -> dict[str, Any]:
    return {"role": role, "database": database, "privileges": {kind: ordered(kind, privileges)}}


def _star_privileges(
    owners: list[str], found: dict[str, set[str]], held: dict[Any, set[str]], objects: list[Any]
) -> set[str]:
    """The privileges a ``*`` entry may carry, or an empty set (see the module docstring)."""
    relevant = [found.get(owner, set()) for owner in owners]
    if not relevant or not relevant[0] or any(d != relevant[0] for d in relevant):
        return set()
    star = relevant[0]
    return star if all(star <= held.get(key, set()) for key in objects) else set()


def relation_entries(
    held: Held,
    defaults: Defaults,
    owners: list[str],
    inventories: dict[str, model.Inventory],
    out: AccessExport,
    *,
    grant_option: bool = False,
) -> None:
    """Tables, sequences and functions: a ``*`` entry where the defaults allow, then literals.
    ``grant_option``: the grants and defaults are those held WITH GRANT OPTION (the caller
    marks the entries)."""
    keys = set(held) | {
        (db, grantee, kind, schema)
        for (db, schema, objtype, grantee) in defaults
        for kind in _RELATION_KINDS
        if _OBJTYPE[kind] == objtype
    }
    indexes: dict[tuple[str, str], BySchema] = {}
    for database, role, kind, schema in sorted(keys):
        if (database, kind) not in indexes:
            indexes[(database, kind)] = _by_schema(inventories[database], kind)
        objects = _objects(indexes[(database, kind)], schema, role)
        mine = held.get((database, role, kind, schema), {})
        found = defaults.get((database, schema, _OBJTYPE[kind], role), {})
        listed = [o for o in owners if o != role]
        star = _star_privileges(listed, found, mine, objects)
        for owner, privileges in sorted(found.items()):
            if privileges and (not star or owner not in listed):
                # e.g. several owners whose defaults differ, or an owner that is not one of
                # default_privileges.owners: said exactly, per owner
                key = (database, owner, role, schema, grant_option)
                out.explicit_defaults[key][kind] |= privileges
        if star:
            entry = _entry(role, database, kind, star)
            entry["schemas"] = [schema]
            out.entries.append(entry)
        by_privileges: dict[frozenset[str], list[str]] = defaultdict(list)
        for key, privileges in sorted(mine.items()):
            rest = privileges - star
            pattern = _pattern(kind, key)
            if pattern is None:
                out.notes.append(
                    f"{kind} {schema!r}.{key!r} in {database!r}: {role!r} holds "
                    f"{', '.join(ordered(kind, rest))}; its name cannot be written as a pattern"
                )
            elif rest:
                by_privileges[frozenset(rest)].append(pattern)
        for shared, patterns in sorted(by_privileges.items(), key=lambda i: sorted(i[1])):
            entry = _entry(role, database, kind, shared)
            entry["schemas"] = [schema]
            entry[_PATTERN_KEY[kind]] = sorted(patterns)
            out.entries.append(entry)


def default_grant_entries(out: AccessExport) -> list[dict[str, Any]]:
    """``default_privileges.grants``: one per database, owner, role, grant option and
    privileges, with the schemas that share them; global ones (no IN SCHEMA) without
    ``schemas``."""
    Kinds = tuple[tuple[str, tuple[str, ...]], ...]
    grouped: dict[tuple[str, str, str, bool, Kinds], list[str | None]] = defaultdict(list)
    for (database, owner, role, schema, option), kinds in sorted(
        out.explicit_defaults.items(), key=lambda item: (*item[0][:3], item[0][3] or "", item[0][4])
    ):
        privileges = tuple((k, tuple(ordered(k, kinds[k]))) for k in _RELATION_KINDS if kinds[k])
        if privileges:
            grouped[(database, owner, role, option, privileges)].append(schema)
    entries: list[dict[str, Any]] = []
    for (database, owner, role, option, shared), schemas in sorted(grouped.items()):
        named = sorted(s for s in schemas if s is not None)
        for where in ([None] if None in schemas else []) + ([named] if named else []):
            entry: dict[str, Any] = {"owner": owner, "role": role, "database": database}
            if where is not None:
                entry["schemas"] = where
            entry["privileges"] = {kind: list(privileges) for kind, privileges in shared}
            if option:
                entry["grant_option"] = True
            entries.append(entry)
    return entries


def column_entries(held: Held, out: AccessExport) -> None:
    """One entry per table and privilege set, naming its columns."""
    for (database, role, _, schema), columns in sorted(held.items()):
        tables: dict[tuple[str, frozenset[str]], list[str]] = defaultdict(list)
        for (table, column), privileges in columns.items():
            tables[(table, frozenset(privileges))].append(column)
        for (table, shared), names in sorted(
            tables.items(), key=lambda i: (i[0][0], ordered("column", i[0][1]))
        ):
            out.entries.append(
                {
                    "role": role,
                    "database": database,
                    "privileges": {"table": ordered("column", shared)},
                    "schemas": [schema],
                    "tables": [literal_pattern(table)],
                    "columns": sorted(names),
                }
            )


def container_entries(
    database_grants: dict[tuple[str, str], set[str]],
    schema_grants: dict[tuple[str, str], dict[str, set[str]]],
    out: AccessExport,
) -> None:
    """Database privileges, then schema privileges grouped by identical privilege sets."""
    for (database, role), privileges in sorted(database_grants.items()):
        out.entries.append(_entry(role, database, "database", privileges))
    for (database, role), schemas in sorted(schema_grants.items()):
        groups: dict[frozenset[str], list[str]] = defaultdict(list)
        for schema, privileges in schemas.items():
            groups[frozenset(privileges)].append(schema)
        for shared, names in sorted(groups.items(), key=lambda i: sorted(i[1])):
            entry = _entry(role, database, "schema", shared)
            entry["schemas"] = sorted(names)
            out.entries.append(entry)
