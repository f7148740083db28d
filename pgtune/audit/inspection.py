"""The access inspection as the audit reads it: ``pgtune.access.catalog``'s families, with the
ACLs of tables and sequences read grouped.

    inspection, relations = inspect_access(connect, ["app", "reporting"])

``pgtune.access.catalog.inspect_cluster`` reads one row per relation with every ACL item, and
the model holds one ``Grant`` per item and privilege: what a diff needs, but 1.8 million
objects at 20,000 tables held by 200 roles, for a review that prints a few hundred groups.
Here the same families are read (roles, memberships, databases once; schemas, columns,
functions, default privileges and policies per database, through ``read_cluster`` and
``read_database``), except the relations: ``queries/relation_acls.sql`` groups them on the
server by schema, kind, owner, RLS flags and ACL, and each group becomes one
:class:`~pgtune.audit.model.SharedAcl` (a few hundred at 20,000 tables), plus the inventory's
tables and sequences and the RLS flags of tables.

So the :class:`Inspection` returned is the inspection's, less the grants and owners of tables
and sequences (they are in the groups) and their grantors (the audit does not report who
granted what). Connections, the REPEATABLE READ snapshot per database, counting and the lines
of ``unreadable`` are as ``inspect_cluster`` has them.
"""

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, LiteralString, TypeVar

import psycopg
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row

from pgtune import pg
from pgtune.access import model
from pgtune.access.catalog import Connect, Inspection, convert
from pgtune.access.catalog import reader as access_reader
from pgtune.access.catalog.families import (
    ClusterPart,
    DatabasePart,
    read_cluster,
    read_database,
)
from pgtune.audit.model import SharedAcl
from pgtune.errors import UsageError

T = TypeVar("T")

PACKAGE = "pgtune.audit"
# The inspection's family this module reads grouped instead (relation_acls.sql).
RELATIONS = "relations"


@dataclass(frozen=True, slots=True)
class _SharedRow:
    """One group of relations_acls.sql."""

    schema: str
    kind: str  # "table" or "sequence"
    has_rls: bool
    rls_enabled: bool
    rls_forced: bool
    owner: str
    names: list[str]
    grantees: list[str] | None  # the ACL's items as parallel arrays, None when none
    privileges: list[str] | None
    grantable: list[bool] | None


class _Fetch:
    """Runs the inspection's query files on one connection (``families.Fetch``), counting
    them, but not its relations family; and the audit's own query files."""

    def __init__(self, conn: psycopg.Connection[Any], tally: list[int]) -> None:
        self.conn = conn
        self.tally = tally
        self.skipped = False

    def __call__(
        self, name: str, row: type[T], params: Mapping[str, object] | None = None
    ) -> Iterator[T]:
        if name == RELATIONS:
            self.skipped = True
            return iter(())
        return self._rows(access_reader.query(name), row, params)

    def audit(self, name: str, row: type[T]) -> Iterator[T]:
        return self._rows(pg.load_query(PACKAGE, name), row, None)

    def _rows(
        self, text: LiteralString, row: type[T], params: Mapping[str, object] | None
    ) -> Iterator[T]:
        self.tally[0] += 1
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            yield from cur.execute(text, params)


@contextmanager
def _snapshot(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """One read-only REPEATABLE READ transaction, as the inspection reads a database."""
    if conn.info.transaction_status == TransactionStatus.IDLE:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    with conn.transaction():
        yield


@dataclass
class _Relations:
    """The grouped relations of one database, and what the inventory and RLS take from them."""

    shared: list[SharedAcl]
    tables: dict[tuple[str, str], str]  # (schema, name) -> owner
    sequences: dict[tuple[str, str], str]
    rls: dict[model.TableRef, model.RlsTable]


def _relations(fetch: _Fetch, database: str) -> _Relations:
    found = _Relations([], {}, {}, {})
    for row in fetch.audit("relation_acls", _SharedRow):
        names = tuple(row.names)
        grants = frozenset(
            zip(
                row.grantees or (),
                map(sys.intern, row.privileges or ()),
                row.grantable or (),
                strict=True,
            )
        )
        kind: Literal["table", "sequence"] = "sequence" if row.kind == "sequence" else "table"
        found.shared.append(SharedAcl(database, row.schema, kind, row.owner, grants, names))
        into = found.sequences if kind == "sequence" else found.tables
        into.update(((row.schema, name), row.owner) for name in names)
        if row.has_rls:
            for name in names:
                ref = model.TableRef(database, row.schema, name)
                found.rls[ref] = model.RlsTable(ref, row.rls_enabled, row.rls_forced)
    if not fetch.skipped:
        # read_database no longer asks for "relations": the access inspection changed, and
        # relation_acls.sql (with this module) must follow it rather than read relations twice
        raise RuntimeError(f"the access inspection no longer reads {RELATIONS!r}")
    return found


def _why_not(facts: ClusterPart, database: str) -> str | None:
    """Why pg_database says we cannot read ``database``, or None if we should be able to."""
    fact = facts.databases.get(database)
    if fact is None:
        return "does not exist"
    if not fact.allow_connections:
        return "does not allow connections (datallowconn is false)"
    if not fact.can_connect:
        return "no CONNECT privilege"
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def inspect_access(
    connect: Connect, databases: Sequence[str]
) -> tuple[Inspection, tuple[SharedAcl, ...]]:
    """What ``inspect_cluster(connect, databases)`` reads, with the grants and owners of tables
    and sequences grouped (the module docstring). Raises as it does: :class:`ConnectError`
    when no database can be read."""
    wanted = list(dict.fromkeys(databases))
    if not wanted:
        raise UsageError("no database to inspect")
    tally = [0]
    cluster: ClusterPart | None = None
    parts: dict[str, tuple[DatabasePart, _Relations]] = {}
    failures: dict[str, str] = {}
    major = 0
    superuser = False
    for database in wanted:
        if cluster is not None and (reason := _why_not(cluster, database)):
            failures[database] = reason
            continue
        try:
            conn = connect(database)
        except pg.ConnectError as exc:  # already one line, password masked
            failures[database] = str(exc)
            continue
        except psycopg.Error as exc:
            failures[database] = f"cannot connect: {_one_line(exc)}"
            continue
        with conn:
            major = conn.info.server_version // 10000
            version = conn.info.parameter_status("server_version")
            pg.require_supported(conn.info.server_version, version or str(conn.info.server_version))
            superuser = superuser or conn.info.parameter_status("is_superuser") == "on"
            fetch = _Fetch(conn, tally)
            try:
                with _snapshot(conn):
                    if cluster is None:
                        cluster = read_cluster(fetch, major, wanted)
                    part = read_database(fetch, database)
                    parts[database] = (part, _relations(fetch, database))
            except psycopg.errors.InsufficientPrivilege as exc:
                if cluster is None:
                    raise
                failures[database] = f"permission denied: {_one_line(exc)}"
    if cluster is None:
        raise pg.ConnectError(
            "cannot read the catalogs: "
            + "; ".join(f"database {db!r}: {why}" for db, why in failures.items())
        )
    unreadable = [] if superuser else [access_reader.PASSWORDS_HIDDEN]
    for database in wanted:  # the facts explain early failures better than libpq's message
        if database in failures:
            reason = _why_not(cluster, database) or failures[database]
            unreadable.append(f"database {database!r}: {reason}")
    inspection = Inspection(
        state=_state(cluster, parts.values()),
        inventories={db: _inventory(db, *both) for db, both in parts.items()},
        major=major,
        unreadable=tuple(unreadable),
        queries=tally[0],
    )
    return inspection, tuple(s for _, relations in parts.values() for s in relations.shared)


def _inventory(database: str, part: DatabasePart, relations: _Relations) -> model.Inventory:
    read = part.inventory
    if read is None:  # read_database fills it
        raise RuntimeError(f"no inventory read for database {database!r}")
    return model.Inventory(
        database=database,
        schemas=read.schemas,
        tables=relations.tables,
        sequences=relations.sequences,
        functions=read.functions,
        columns=read.columns,
        function_types=read.function_types,
    )


def _state(
    cluster: ClusterPart, parts: Iterable[tuple[DatabasePart, _Relations]]
) -> model.ClusterState:
    grants: list[model.Grant] = list(cluster.grants)
    defaults: list[model.DefaultPrivilege] = []
    owners: dict[model.ObjectRef, str] = {
        model.ObjectRef("database", db): fact.owner for db, fact in cluster.databases.items()
    }
    rls: dict[model.TableRef, model.RlsTable] = {}
    policies: dict[tuple[model.TableRef, str], model.RlsPolicy] = {}
    grantors = dict(cluster.grantors)
    for part, relations in parts:
        grantors.update(part.grantors)
        grants.extend(part.grants)
        defaults.extend(part.default_privileges)
        owners.update(part.owners)
        rls.update(relations.rls)
        policies.update(part.policies)
    return model.ClusterState(
        roles=cluster.roles,
        memberships=cluster.memberships,
        grants=convert.merge_grantors(grants),
        default_privileges=convert.merge_grantors(defaults),
        rls_tables=rls,
        policies=policies,
        owners=owners,
        grantors={key: frozenset(names) for key, names in grantors.items()},
    )
