"""The catalog families: one query each, turned into parts of the model.

``read_cluster`` runs the cluster-wide families (roles, memberships, database ACLs) once;
``read_database`` the per-database ones (schemas, relations, columns, functions, default
privileges, policies). Both take a ``Fetch`` so they never see a connection: the caller owns
transactions, counting and error handling.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from sys import intern
from typing import Protocol, TypeVar

from pgtune.access import model
from pgtune.access.catalog import convert
from pgtune.access.catalog.rows import (
    AclItemRow,
    ColumnsRow,
    DatabaseRow,
    DefaultAclRow,
    FunctionRow,
    MembershipRow,
    PolicyRow,
    RelationGroupRow,
    RelationRow,
    RoleRow,
    SchemaRow,
)

T = TypeVar("T")

# A Grant from an (object, grantee, privilege, grantable) tuple without a Python-level call:
# tuple.__new__ on the named tuple class (hundreds of thousands per database).
_new_grant: Callable[[Iterable[object]], model.Grant] = partial(tuple.__new__, model.Grant)

# pg_auth_members has per-grant INHERIT and SET options since PostgreSQL 16.
MEMBERSHIP_OPTIONS_SINCE = 16


class Fetch(Protocol):
    """Run the query file ``name`` and yield its rows as ``row`` instances (one at a time:
    a 20k-table catalog has hundreds of thousands of ACL rows)."""

    def __call__(
        self, name: str, row: type[T], params: Mapping[str, object] | None = None
    ) -> Iterator[T]: ...


@dataclass(frozen=True)
class DatabaseFacts:
    """What pg_database says about a requested database, readable from any database."""

    owner: str
    allow_connections: bool
    can_connect: bool  # the inspecting role holds CONNECT (directly, by membership or PUBLIC)


@dataclass(frozen=True)
class ClusterPart:
    roles: dict[str, model.Role]
    memberships: frozenset[model.Membership]
    databases: dict[str, DatabaseFacts]
    grants: tuple[model.Grant, ...]  # on the databases themselves
    # (object, grantee, privilege) -> grantors other than the owner (ClusterState.grantors)
    grantors: dict[tuple[model.ObjectRef, str, str], set[str]] = field(default_factory=dict)


@dataclass
class DatabasePart:
    """Everything read from one database; ``inventory`` is filled last."""

    database: str
    grants: list[model.Grant] = field(default_factory=list)
    owners: dict[model.ObjectRef, str] = field(default_factory=dict)
    default_privileges: list[model.DefaultPrivilege] = field(default_factory=list)
    rls_tables: dict[model.TableRef, model.RlsTable] = field(default_factory=dict)
    policies: dict[tuple[model.TableRef, str], model.RlsPolicy] = field(default_factory=dict)
    # (object, grantee, privilege) -> grantors other than the owner (ClusterState.grantors)
    grantors: dict[tuple[model.ObjectRef, str, str], set[str]] = field(default_factory=dict)
    inventory: model.Inventory | None = None
    function_types: dict[tuple[str, str, str], str] = field(default_factory=dict)
    refs: dict[tuple[str, str, str], model.ObjectRef] = field(default_factory=dict)
    # tables and sequences -> their items, with ``grouped`` (ClusterState.relation_grants)
    relation_grants: dict[model.ObjectRef, frozenset[model.Item]] = field(default_factory=dict)


def membership_query(major: int) -> str:
    return "memberships" if major >= MEMBERSHIP_OPTIONS_SINCE else "memberships_pre16"


def read_cluster(fetch: Fetch, major: int, databases: Sequence[str]) -> ClusterPart:
    roles = {row.name: convert.role(row) for row in fetch("roles", RoleRow)}
    memberships = frozenset(
        convert.membership(row) for row in fetch(membership_query(major), MembershipRow)
    )
    facts: dict[str, DatabaseFacts] = {}
    grants: list[model.Grant] = []
    grantors: dict[tuple[model.ObjectRef, str, str], set[str]] = {}
    for row in fetch("databases", DatabaseRow, {"databases": list(databases)}):
        facts[row.database] = DatabaseFacts(row.owner, row.allow_connections, row.can_connect)
        granted = convert.grant(model.ObjectRef("database", row.database), row)
        if granted is not None:
            grants.append(granted)
            _grantor(grantors, granted, row.grantor, row.owner)
    return ClusterPart(roles, memberships, facts, tuple(grants), grantors)


def _grantor(
    into: dict[tuple[model.ObjectRef, str, str], set[str]],
    granted: model.Grant,
    grantor: str | None,
    owner: str,
) -> None:
    """Remember who granted an item when someone other than the owner did (None: the owner).
    The owner is listed too when it granted the same privilege as well; the queries order a
    privilege's items with the owner's last, so its item comes after the others."""
    key = (granted.object, granted.grantee, granted.privilege)
    if grantor is not None:
        into.setdefault(key, set()).add(grantor)
    elif key in into:
        into[key].add(owner)


def _row_grantors(
    into: dict[tuple[model.ObjectRef, str, str], set[str]],
    items: list[tuple[model.ObjectRef, str, str, str | None]],
    owner: str,
) -> None:
    """The grantors of one object's items (object, grantee, privilege, grantor), for the rare
    object where someone other than its owner granted something."""
    foreign = {(o, g, p) for o, g, p, by in items if by is not None}
    for obj, grantee, privilege, by in items:
        if (obj, grantee, privilege) in foreign:
            into.setdefault((obj, grantee, privilege), set()).add(owner if by is None else by)


def read_database(fetch: Fetch, database: str, *, grouped: bool = False) -> DatabasePart:
    """``grouped``: read tables and sequences grouped by ACL (relation_groups.sql) into
    ``relation_grants`` instead of one Grant per item in ``grants``."""
    part = DatabasePart(database)
    schemas = _schemas(fetch, part)
    tables, sequences = _relation_groups(fetch, part) if grouped else _relations(fetch, part)
    columns = _columns(fetch, part)
    functions = _functions(fetch, part)
    part.default_privileges.extend(
        convert.default_privilege(database, row) for row in fetch("default_acl", DefaultAclRow)
    )
    for row in fetch("policies", PolicyRow):
        policy = convert.policy(database, row)
        part.policies[(policy.table, policy.name)] = policy
    part.inventory = model.Inventory(
        database, schemas, tables, sequences, functions, columns, part.function_types, part.refs
    )
    return part


def _add(part: DatabasePart, obj: model.ObjectRef, owner: str | None, row: AclItemRow) -> None:
    """Record an object's owner (once) and the grant its row carries, if any."""
    if owner is not None:
        part.owners.setdefault(obj, owner)
    granted = convert.grant(obj, row)
    if granted is not None:
        part.grants.append(granted)
        _grantor(part.grantors, granted, getattr(row, "grantor", None), owner or "")


def _schemas(fetch: Fetch, part: DatabasePart) -> dict[str, str]:
    schemas: dict[str, str] = {}
    for row in fetch("schemas", SchemaRow):
        schemas[row.schema] = row.owner
        _add(part, model.ObjectRef("schema", part.database, row.schema), row.owner, row)
    return schemas


def _relations(
    fetch: Fetch, part: DatabasePart
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    tables: dict[tuple[str, str], str] = {}
    sequences: dict[tuple[str, str], str] = {}
    grants, refs = part.grants, part.refs
    for row in fetch("relations", RelationRow):
        schema, owner = intern(row.schema), intern(row.owner)
        if row.kind == "sequence":
            sequences[schema, row.name] = owner
            obj = model.ObjectRef("sequence", part.database, schema, row.name)
        else:
            tables[schema, row.name] = owner
            obj = model.ObjectRef("table", part.database, schema, row.name)
        refs[obj.kind, schema, row.name] = obj
        part.owners[obj] = owner
        # One ObjectRef shared by the relation's grants; grantee and privilege names interned
        # (a few hundred distinct strings across hundreds of thousands of grants: less memory,
        # and equal names compare by identity); the grants built in C.
        if row.grantees and row.privileges and row.grantable:
            if not len(row.grantees) == len(row.privileges) == len(row.grantable):
                raise ValueError(f"relation {row.schema}.{row.name}: ACL arrays differ in length")
            grants.extend(
                map(
                    _new_grant,
                    zip(
                        repeat(obj),
                        map(intern, row.grantees),
                        map(intern, row.privileges),
                        row.grantable,
                    ),
                )
            )
            if row.grantors and any(by is not None for by in row.grantors):
                # rare: granted by a holder of the grant option, not the owner
                _row_grantors(
                    part.grantors,
                    [
                        (obj, grantee, privilege, by)
                        for grantee, privilege, by in zip(
                            row.grantees, row.privileges, row.grantors, strict=True
                        )
                    ],
                    row.owner,
                )
        if row.has_rls:
            ref = model.TableRef(part.database, row.schema, row.name)
            part.rls_tables[ref] = model.RlsTable(ref, row.rls_enabled, row.rls_forced)
    return tables, sequences


_NO_ITEMS: frozenset[model.Item] = frozenset()


def _relation_groups(
    fetch: Fetch, part: DatabasePart
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """What ``_relations`` reads, from one row per schema, kind, owner, RLS flags and ACL: each
    group's items are merged once (grantable wins, as merge_grantors does) and that set is
    shared by its relations in ``part.relation_grants``."""
    relations: list[tuple[str, str, RelationGroupRow, str, frozenset[model.Item]]] = []
    for row in fetch("relation_groups", RelationGroupRow):
        schema, owner = intern(row.schema), intern(row.owner)
        items = _NO_ITEMS
        if row.grantees and row.privileges and row.grantable:
            items = model.strongest_items(
                zip(
                    map(intern, row.grantees),
                    map(intern, row.privileges),
                    row.grantable,
                    strict=True,
                )
            )
        relations.extend((schema, name, row, owner, items) for name in row.names)
    # the order relations.sql reads them in (its ORDER BY; names compare as C, as here)
    relations.sort(key=lambda r: (r[0], r[1]))
    tables: dict[tuple[str, str], str] = {}
    sequences: dict[tuple[str, str], str] = {}
    refs, owners, held = part.refs, part.owners, part.relation_grants
    for schema, name, row, owner, items in relations:
        if row.kind == "sequence":
            sequences[schema, name] = owner
            obj = model.ObjectRef("sequence", part.database, schema, name)
        else:
            tables[schema, name] = owner
            obj = model.ObjectRef("table", part.database, schema, name)
        refs[obj.kind, schema, name] = obj
        owners[obj] = owner
        held[obj] = items
        if row.grantors and any(by is not None for by in row.grantors):
            # rare: granted by a holder of the grant option, not the owner
            _row_grantors(
                part.grantors,
                [
                    (obj, grantee, privilege, by)
                    for grantee, privilege, by in zip(
                        row.grantees or (), row.privileges or (), row.grantors, strict=True
                    )
                ],
                owner,
            )
        if row.has_rls:
            ref = model.TableRef(part.database, schema, name)
            part.rls_tables[ref] = model.RlsTable(ref, row.rls_enabled, row.rls_forced)
    return tables, sequences


def _columns(fetch: Fetch, part: DatabasePart) -> dict[tuple[str, str], tuple[str, ...]]:
    columns: dict[tuple[str, str], tuple[str, ...]] = {}
    for row in fetch("columns", ColumnsRow):
        columns[row.schema, row.table_name] = tuple(row.columns)
        items: list[tuple[model.ObjectRef, str, str, str | None]] = []
        for col, grantee, privilege, grantable, *grantor in row.acl or ():
            obj = model.ObjectRef("column", part.database, row.schema, row.table_name, column=col)
            part.grants.append(model.Grant(obj, grantee, privilege, grantable))
            items.append((obj, grantee, privilege, grantor[0] if grantor else None))
        if any(by is not None for *_, by in items):
            owner = part.owners.get(
                model.ObjectRef("table", part.database, row.schema, row.table_name), ""
            )
            _row_grantors(part.grantors, items, owner)
    return columns


def _functions(fetch: Fetch, part: DatabasePart) -> dict[tuple[str, str, str], str]:
    functions: dict[tuple[str, str, str], str] = {}
    for row in fetch("functions", FunctionRow):
        functions[(row.schema, row.name, row.args)] = row.owner
        if row.arg_types is not None:
            part.function_types[(row.schema, row.name, row.args)] = row.arg_types
        obj = model.function_ref(part.database, row.schema, row.name, row.args, row.arg_types)
        _add(part, obj, row.owner, row)
    return functions
