"""Connections, snapshots, counting and degradation around the catalog families."""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row

from pgtune.access import model
from pgtune.access.catalog import convert
from pgtune.access.catalog.families import (
    ClusterPart,
    DatabasePart,
    read_cluster,
    read_database,
)
from pgtune.errors import UsageError
from pgtune.pg import ConnectError, load_query, require_supported

T = TypeVar("T")
Connect = Callable[[str], psycopg.Connection[Any]]

PACKAGE = "pgtune.access.catalog"
PASSWORDS_HIDDEN = "role passwords: not visible without superuser (not needed)"


@dataclass(frozen=True)
class Inspection:
    """What the live cluster holds, in the model's canonical form."""

    state: model.ClusterState
    inventories: dict[str, model.Inventory]  # the databases that could be read
    major: int
    unreadable: tuple[str, ...]  # what could not be read, one line each
    queries: int  # SQL statements run (BEGIN / COMMIT not counted)


@cache
def query(name: str) -> LiteralString:
    """The text of ``queries/<name>.sql``, read once per process."""
    return load_query(PACKAGE, name)


class _Counted:
    """Runs query files on one connection, counting them in a shared tally."""

    def __init__(self, conn: psycopg.Connection[Any], tally: list[int]) -> None:
        self.conn = conn
        self.tally = tally

    def __call__(
        self, name: str, row: type[T], params: Mapping[str, object] | None = None
    ) -> Iterator[T]:
        self.tally[0] += 1
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            yield from cur.execute(query(name), params)


@contextmanager
def _snapshot(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """One read-only REPEATABLE READ transaction, so all families see the same catalogs.

    A connection already inside a transaction (the caller's) is used as it is.
    """
    if conn.info.transaction_status == TransactionStatus.IDLE:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    with conn.transaction():
        yield


def _server_version(conn: psycopg.Connection[Any]) -> str:
    return conn.info.parameter_status("server_version") or str(conn.info.server_version)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


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


def inspect_cluster(
    connect: Connect, databases: Sequence[str], *, grouped: bool = False
) -> Inspection:
    """Read roles, memberships, privileges, default privileges and RLS from a live cluster.

    ``connect(dbname)`` returns a new connection, which is used for that database only and
    closed. Cluster-wide families are read through the first database that accepts us. A
    database that cannot be read is listed in ``Inspection.unreadable``; when none can,
    :class:`ConnectError` says why for each.

    ``grouped``: tables and sequences are read grouped by ACL on the server and their grants
    held per object as shared item sets (``ClusterState.relation_grants``), not as one Grant
    per item in ``ClusterState.grants`` (what plans and exports of large clusters read).
    """
    wanted = list(dict.fromkeys(databases))
    if not wanted:
        raise UsageError("no database to inspect")
    tally = [0]
    cluster: ClusterPart | None = None
    parts: dict[str, DatabasePart] = {}
    failures: dict[str, str] = {}
    major = 0
    superuser = False
    for database in wanted:
        if cluster is not None and (reason := _why_not(cluster, database)):
            failures[database] = reason
            continue
        try:
            conn = connect(database)
        except ConnectError as exc:  # pgtune.pg.connect: already one line, password masked
            failures[database] = str(exc)
            continue
        except psycopg.Error as exc:
            failures[database] = f"cannot connect: {_one_line(exc)}"
            continue
        with conn:
            major = conn.info.server_version // 10000
            require_supported(conn.info.server_version, _server_version(conn))
            superuser = superuser or conn.info.parameter_status("is_superuser") == "on"
            fetch = _Counted(conn, tally)
            try:
                with _snapshot(conn):
                    if cluster is None:
                        cluster = read_cluster(fetch, major, wanted)
                    parts[database] = read_database(fetch, database, grouped=grouped)
            except psycopg.errors.InsufficientPrivilege as exc:
                if cluster is None:
                    raise
                failures[database] = f"permission denied: {_one_line(exc)}"
    if cluster is None:
        raise ConnectError(
            "cannot read the catalogs: "
            + "; ".join(f"database {db!r}: {why}" for db, why in failures.items())
        )
    unreadable = [] if superuser else [PASSWORDS_HIDDEN]
    for database in wanted:  # the facts explain early failures better than libpq's message
        if database in failures:
            reason = _why_not(cluster, database) or failures[database]
            unreadable.append(f"database {database!r}: {reason}")
    return Inspection(
        state=_state(cluster, parts.values()),
        inventories={db: part.inventory for db, part in parts.items() if part.inventory},
        major=major,
        unreadable=tuple(unreadable),
        queries=tally[0],
    )


def _state(cluster: ClusterPart, parts: Iterable[DatabasePart]) -> model.ClusterState:
    grants: list[model.Grant] = list(cluster.grants)
    defaults: list[model.DefaultPrivilege] = []
    owners: dict[model.ObjectRef, str] = {
        model.ObjectRef("database", db): fact.owner for db, fact in cluster.databases.items()
    }
    rls: dict[model.TableRef, model.RlsTable] = {}
    policies: dict[tuple[model.TableRef, str], model.RlsPolicy] = {}
    grantors = dict(cluster.grantors)
    relation_grants: dict[model.ObjectRef, frozenset[model.Item]] = {}
    for part in parts:
        grantors.update(part.grantors)
        relation_grants.update(part.relation_grants)
        grants.extend(part.grants)
        defaults.extend(part.default_privileges)
        owners.update(part.owners)
        rls.update(part.rls_tables)
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
        relation_grants=relation_grants,
    )
