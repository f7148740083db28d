"""One access entry on one database's objects → its grants and default privileges."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat

from pgtune.access.model import (
    PUBLIC,
    DefaultObjectType,
    DefaultPrivilege,
    Grant,
    Inventory,
    Item,
    ObjectRef,
    function_ref,
)
from pgtune.access.policy.document import AccessEntry, Pattern
from pgtune.access.policy.patterns import covers_everything, function_matches, name_matches
from pgtune.access.policy.problems import Problem, did_you_mean

# A Grant from an (object, grantee, privilege, grantable) tuple, without a Python-level call.
_new_grant: Callable[[Iterable[object]], Grant] = partial(tuple.__new__, Grant)


# Per table or sequence, the item sets of the entries that grant on it (grouped expansion).
Contributions = dict[ObjectRef, list[frozenset[Item]]]


@dataclass
class Expansion:
    grants: set[Grant] = field(default_factory=set)
    defaults: set[DefaultPrivilege] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    # Grouped: grants on tables and sequences (without columns) go here instead of ``grants``.
    relations: Contributions | None = None

    def grant_on(
        self, refs: list[ObjectRef], role: str, privileges: tuple[str, ...], option: bool
    ) -> None:
        """Every privilege on every relation in ``refs``."""
        if self.relations is None:
            self.grants.update(_grants(refs, role, privileges, option))
            return
        items = frozenset((role, p, option) for p in privileges)
        relations = self.relations
        for ref in refs:
            found = relations.get(ref)
            if found is None:
                relations[ref] = [items]
            else:
                found.append(items)


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


# One relation: (schema, name, owner, its ObjectRef).
Relation = tuple[str, str, str, ObjectRef]


class Index:
    """An inventory's tables and sequences per schema, built once per database (a scan of
    every object of the database per access entry was O(entries x objects)), each with the
    inspection's ObjectRef (``Inventory.refs``) so both sides of the diff share them."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.kinds: dict[str, dict[str, list[Relation]]] = {}

    def relations(self, kind: str) -> dict[str, list[Relation]]:
        """schema -> its relations of ``kind``, in the inventory's order."""
        found = self.kinds.get(kind)
        if found is None:
            inv = self.inventory
            objects = inv.tables if kind == "table" else inv.sequences
            found = {}
            refs, db = inv.refs, inv.database
            for (schema, name), owner in objects.items():
                ref = refs.get((kind, schema, name))
                if ref is None:
                    ref = ObjectRef("table" if kind == "table" else "sequence", db, schema, name)
                found.setdefault(schema, []).append((schema, name, owner, ref))
            self.kinds[kind] = found
        return found


def _relations(
    entry: AccessEntry,
    by_schema: dict[str, list[Relation]],
    patterns: tuple[Pattern, ...],
    kind: str,
    out: Expansion,
) -> list[Relation]:
    """The tables or sequences the patterns select."""
    wanted = set(entry.schemas)  # in the inventory's order, as a scan of it would find them
    schemas = [relations for schema, relations in by_schema.items() if schema in wanted]
    if any(p.text == "*" for p in patterns):
        found = [relation for relations in schemas for relation in relations]
        names = {name for relations in schemas for _, name, _, _ in relations}
        matched = {p.text for p in patterns if p.is_glob or p.text in names}
    else:
        # A pattern that is exactly the name of an object in the entry's schemas names that
        # object alone: `a[1]` is the table "a[1]" when it exists, not also "a1".
        names = {name for relations in schemas for _, name, _, _ in relations}
        exact = {p.text for p in patterns if p.text in names}
        globs = [p.text for p in patterns if p.text not in exact]
        found = [
            relation
            for relations in schemas
            for relation in relations
            if relation[1] in exact or any(name_matches(g, relation[1]) for g in globs)
        ]
        # every exact pattern names an object found; a glob is matched by a name found
        found_names = {name for _, name, _, _ in found} if globs else set()
        matched = exact | {g for g in globs if any(name_matches(g, n) for n in found_names)}
    out.problems += _missing_literals(kind, patterns, matched, entry)
    return found


def _tables(entry: AccessEntry, index: Index, out: Expansion) -> None:
    privileges = entry.privileges.table
    if not privileges:
        return
    inventory = index.inventory
    db, role, option = entry.database, entry.role, entry.grant_option
    relations = _relations(entry, index.relations("table"), entry.tables, "table", out)
    if not entry.columns:
        # an owner holds every privilege on what it owns
        out.grant_on(
            [ref for _, _, owner, ref in relations if owner != role], role, privileges, option
        )
        return
    for schema, table, owner, _ in relations:
        if owner == role:
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


def _sequences(entry: AccessEntry, index: Index, out: Expansion) -> None:
    privileges = entry.privileges.sequence
    if not privileges:
        return
    role, option = entry.role, entry.grant_option
    relations = _relations(entry, index.relations("sequence"), entry.sequences, "sequence", out)
    out.grant_on([ref for _, _, owner, ref in relations if owner != role], role, privileges, option)


def _grants(
    refs: list[ObjectRef], role: str, privileges: tuple[str, ...], option: bool
) -> Iterator[Grant]:
    """Every privilege on every object, built in C (hundreds of thousands per policy)."""
    for p in privileges:
        yield from map(_new_grant, zip(refs, repeat(role), repeat(p), repeat(option)))


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
            ref = function_ref(db, schema, name, args, types)
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


def expand_entry(
    entry: AccessEntry,
    inventory: Inventory,
    owners: tuple[str, ...],
    index: Index | None = None,
    relations: Contributions | None = None,
) -> Expansion:
    """``index``: the inventory's :class:`Index`, shared by the entries of one database.
    ``relations``: grouped, the grants on tables and sequences (without columns) are added to
    it, per relation, instead of ``Expansion.grants``."""
    index = index if index is not None and index.inventory is inventory else Index(inventory)
    out = Expansion(relations=relations)
    _containers(entry, inventory, out)
    _tables(entry, index, out)
    _sequences(entry, index, out)
    _functions(entry, inventory, out)
    _defaults(entry, owners, out)
    return out
