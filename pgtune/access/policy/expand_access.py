"""One access entry on one database's objects → its grants and default privileges."""

from dataclasses import dataclass, field

from pgtune.access.model import (
    PUBLIC,
    DefaultObjectType,
    DefaultPrivilege,
    Grant,
    Inventory,
    ObjectRef,
)
from pgtune.access.policy.document import AccessEntry, Pattern
from pgtune.access.policy.patterns import covers_everything, function_matches, name_matches
from pgtune.access.policy.problems import Problem, did_you_mean


@dataclass
class Expansion:
    grants: set[Grant] = field(default_factory=set)
    defaults: set[DefaultPrivilege] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


def _where(database: str, schemas: tuple[str, ...]) -> str:
    if len(schemas) == 1:
        return f"{database}.{schemas[0]}"
    if not schemas:
        return f"database {database!r} (the entry covers no schema)"
    return f"schemas {', '.join(schemas)} of database {database!r}"


def _missing_literals(
    kind: str, patterns: tuple[Pattern, ...], matched: set[str], entry: AccessEntry
) -> list[Problem]:
    """A name without glob characters names one object: it must exist. (A glob matching
    nothing is fine: the objects may not have been created yet.)"""
    return [
        Problem(
            p.line or entry.line,
            f"{kind} {p.text!r} does not exist in {_where(entry.database, entry.schemas)}",
        )
        for p in patterns
        if not p.is_glob and p.text not in matched
    ]


def _relations(
    entry: AccessEntry,
    objects: dict[tuple[str, str], str],
    patterns: tuple[Pattern, ...],
    kind: str,
    out: Expansion,
) -> list[tuple[str, str, str]]:
    """(schema, name, owner) of the tables or sequences the patterns select."""
    schemas = set(entry.schemas)
    if any(p.text == "*" for p in patterns):
        found = [(s, n, o) for (s, n), o in objects.items() if s in schemas]
        matched = {p.text for p in patterns if p.is_glob} | {
            p.text for p in patterns if any((s, p.text) in objects for s in schemas)
        }
    else:
        # A pattern that is exactly the name of an object in the entry's schemas names that
        # object alone: `a[1]` is the table "a[1]" when it exists, not also "a1".
        names = {name for schema, name in objects if schema in schemas}
        exact = {p.text for p in patterns if p.text in names}
        globs = [p.text for p in patterns if p.text not in exact]

        def hit(pattern: str, name: str) -> bool:
            return name == pattern if pattern in exact else name_matches(pattern, name)

        found = [
            (schema, name, owner)
            for (schema, name), owner in objects.items()
            if schema in schemas and (name in exact or any(name_matches(g, name) for g in globs))
        ]
        matched = {p.text for p in patterns for _, name, _ in found if hit(p.text, name)}
    out.problems += _missing_literals(kind, patterns, matched, entry)
    return found


def _tables(entry: AccessEntry, inventory: Inventory, out: Expansion) -> None:
    privileges = entry.privileges.table
    if not privileges:
        return
    db, role, option = entry.database, entry.role, entry.grant_option
    for schema, table, owner in _relations(entry, inventory.tables, entry.tables, "table", out):
        if owner == role:
            continue  # an owner holds every privilege on what it owns
        if not entry.columns:
            ref = ObjectRef("table", db, schema, table)
            out.grants.update([Grant(ref, role, p, option) for p in privileges])
            continue
        existing = inventory.columns.get((schema, table), ())
        for column in entry.columns:
            if column not in existing:
                out.problems.append(
                    Problem(
                        entry.line,
                        f"column {column!r} does not exist in table {db}.{schema}.{table}"
                        + did_you_mean(column, existing),
                    )
                )
                continue
            ref = ObjectRef("column", db, schema, table, column=column)
            out.grants |= {Grant(ref, role, p, option) for p in privileges}


def _sequences(entry: AccessEntry, inventory: Inventory, out: Expansion) -> None:
    privileges = entry.privileges.sequence
    if not privileges:
        return
    db, role, option = entry.database, entry.role, entry.grant_option
    for schema, name, owner in _relations(
        entry, inventory.sequences, entry.sequences, "sequence", out
    ):
        if owner != role:
            ref = ObjectRef("sequence", db, schema, name)
            out.grants.update([Grant(ref, role, p, option) for p in privileges])


def _functions(entry: AccessEntry, inventory: Inventory, out: Expansion) -> None:
    privileges = entry.privileges.function
    if not privileges:
        return
    db, role, option = entry.database, entry.role, entry.grant_option
    matched: set[str] = set()
    for (schema, name, args), owner in sorted(inventory.functions.items()):
        if schema not in entry.schemas:
            continue
        hits = {p.text for p in entry.functions if function_matches(p, name, args)}
        if not hits:
            continue
        matched |= hits
        if owner != role:
            types = inventory.function_types.get((schema, name, args))
            ref = ObjectRef("function", db, schema, name, args=args, types=types)
            out.grants |= {Grant(ref, role, p, option) for p in privileges}
    out.problems += _missing_literals("function", entry.functions, matched, entry)


def _containers(entry: AccessEntry, inventory: Inventory, out: Expansion) -> None:
    db, role, option = entry.database, entry.role, entry.grant_option
    database = ObjectRef("database", db)
    out.grants |= {Grant(database, role, p, option) for p in entry.privileges.database}
    for schema in entry.schemas:
        if inventory.schemas.get(schema) != role:
            ref = ObjectRef("schema", db, schema)
            out.grants |= {Grant(ref, role, p, option) for p in entry.privileges.schema}


def _defaults(entry: AccessEntry, owners: tuple[str, ...], out: Expansion) -> None:
    """ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA s, for every owner and schema — only
    for kinds whose patterns are ``*``: a future object cannot be matched against a narrower
    pattern, and column privileges have no default form."""
    kinds: list[tuple[DefaultObjectType, tuple[str, ...]]] = []
    if covers_everything(entry.tables) and not entry.columns:
        kinds.append(("tables", entry.privileges.table))
    if covers_everything(entry.sequences):
        kinds.append(("sequences", entry.privileges.sequence))
    if covers_everything(entry.functions):
        kinds.append(("functions", entry.privileges.function))
    if entry.role == PUBLIC:
        return  # an entry for PUBLIC grants on the objects that exist, no default privileges
    for owner in owners:
        if owner == entry.role:
            continue  # an owner's own objects: it holds everything already
        for schema in entry.schemas:
            for objtype, privileges in kinds:
                out.defaults |= {
                    DefaultPrivilege(
                        entry.database, owner, schema, objtype, entry.role, p, entry.grant_option
                    )
                    for p in privileges
                }


def expand_entry(entry: AccessEntry, inventory: Inventory, owners: tuple[str, ...]) -> Expansion:
    out = Expansion()
    _containers(entry, inventory, out)
    _tables(entry, inventory, out)
    _sequences(entry, inventory, out)
    _functions(entry, inventory, out)
    _defaults(entry, owners, out)
    return out
