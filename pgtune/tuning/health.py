"""The statistics that inform tuning, read from the live server and turned into advice.

Reading (``read_health``) degrades: a view the role may not read is listed in
``Health.unreadable`` and its advice is skipped. Advising (``advise``) is pure, one line per
topic, with the numbers that led to it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar

import psycopg
from psycopg.rows import TupleRow, class_row

from pgtune.pg import ServerCapabilities, load_query
from pgtune.tuning.tempfiles import (
    TempSources,
    by_memory,
    describe,
    read_log,
    read_statements,
)
from pgtune.units import human_size

Level = Literal["ok", "info", "warning"]
T = TypeVar("T")

# Below this many block accesses (800 MB) the hit ratio mostly shows a cold start.
MIN_BLOCK_ACCESSES = 100_000
# Ratios are judged only over at least this long since the server started and since the
# statistics began: right after a start every block is read once into a cold cache.
MIN_WINDOW = timedelta(hours=1)
# Below this many checkpoints the timed / requested split says little (one manual CHECKPOINT).
MIN_CHECKPOINTS = 5
REQUESTED_CHECKPOINTS_MAX = 0.10
CONNECTION_USE_MAX = 0.80
# The hit ratio a workload should reach: OLTP-ish workloads live in shared_buffers.
HIT_RATIO_MIN = {"web": 0.99, "oltp": 0.99, "mixed": 0.98, "desktop": 0.95, "dw": 0.90}


@dataclass(frozen=True)
class DatabaseStats:
    datname: str
    blks_hit: int
    blks_read: int
    temp_files: int
    temp_bytes: int
    since_reset: timedelta | None


@dataclass(frozen=True)
class CheckpointStats:
    timed: int
    requested: int
    since_reset: timedelta | None


@dataclass(frozen=True)
class ConnectionStats:
    client_backends: int
    unidentified_backends: int
    max_connections: int
    reserved_connections: int


@dataclass(frozen=True)
class Unreadable:
    name: str
    kind: Literal["setting", "view"]
    reason: str


@dataclass(frozen=True)
class ServerTimes:
    uptime: timedelta  # since pg_postmaster_start_time()


@dataclass(frozen=True)
class Health:
    databases: tuple[DatabaseStats, ...] | None = None
    uptime: timedelta | None = None
    temp_sources: TempSources | None = None
    checkpoints: CheckpointStats | None = None
    connections: ConnectionStats | None = None
    unreadable: tuple[Unreadable, ...] = field(default=())


@dataclass(frozen=True)
class Advice:
    topic: str
    level: Level
    message: str


def _fetch(
    conn: psycopg.Connection[TupleRow],
    query: str,
    row: type[T],
    view: str,
    missing: list[Unreadable],
) -> list[T] | None:
    """Rows of one health query, or None (and an entry in ``missing``) when not permitted."""
    with conn.cursor(row_factory=class_row(row)) as cur:
        try:
            return cur.execute(load_query("pgtune.tuning", query)).fetchall()
        except psycopg.errors.InsufficientPrivilege as exc:
            reason = (exc.diag.message_primary or "permission denied").strip()
            missing.append(Unreadable(view, "view", reason))
            return None


def read_health(
    conn: psycopg.Connection[TupleRow], caps: ServerCapabilities, log: Path | None = None
) -> Health:
    """The health views; the temporary files' statements from ``log`` when given, else from
    pg_stat_statements when it is installed."""
    missing: list[Unreadable] = []
    databases = _fetch(conn, "database_stats", DatabaseStats, "pg_stat_database", missing)
    if caps.has_checkpointer_view:
        checkpoints = _fetch(
            conn, "checkpoints_checkpointer", CheckpointStats, "pg_stat_checkpointer", missing
        )
    else:
        checkpoints = _fetch(
            conn, "checkpoints_bgwriter", CheckpointStats, "pg_stat_bgwriter", missing
        )
    connections = _fetch(conn, "connections", ConnectionStats, "pg_stat_activity", missing)
    times = _fetch(conn, "server_times", ServerTimes, "pg_postmaster_start_time", missing)
    return Health(
        databases=tuple(databases) if databases is not None else None,
        uptime=times[0].uptime if times else None,
        temp_sources=read_log(log) if log is not None else read_statements(conn),
        checkpoints=checkpoints[0] if checkpoints else None,
        connections=connections[0] if connections else None,
        unreadable=tuple(missing),
    )


def since(age: timedelta | None) -> str:
    """When the counters started, for people.

    >>> since(None), since(timedelta(days=3, hours=5)), since(timedelta(minutes=7))
    ('since statistics began', 'in the last 3.2 days', 'in the last 7 min')
    """
    if age is None:
        return "since statistics began"
    seconds = age.total_seconds()
    if seconds >= 86400:
        return f"in the last {seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"in the last {seconds / 3600:.1f} h"
    return f"in the last {max(1, round(seconds / 60))} min"


def too_young(uptime: timedelta | None, stats_age: timedelta | None) -> str | None:
    """Why statistics cannot be judged yet, or None when their window is long enough.

    >>> too_young(timedelta(minutes=4), None)
    'the server started 4 min ago'
    >>> too_young(timedelta(days=9), timedelta(minutes=30))
    'the statistics were reset 30 min ago'
    >>> too_young(timedelta(days=9), None) is None
    True
    """
    if uptime is not None and uptime < MIN_WINDOW:
        return f"the server started {since(uptime).removeprefix('in the last ')} ago"
    if stats_age is not None and stats_age < MIN_WINDOW:
        return f"the statistics were reset {since(stats_age).removeprefix('in the last ')} ago"
    return None


def cache_hit_advice(
    databases: Sequence[DatabaseStats], workload: str, uptime: timedelta | None = None
) -> Advice:
    """
    >>> db = DatabaseStats("app", 950_000, 50_000, 0, 0, None)
    >>> cache_hit_advice([db], "oltp").message.split(":")[0]
    'buffer cache hit ratio 95.00% (950000 hits, 50000 reads since statistics began) < 99%'
    >>> cache_hit_advice([db], "oltp", timedelta(minutes=3)).level
    'info'
    """
    hits = sum(d.blks_hit for d in databases)
    reads = sum(d.blks_read for d in databases)
    total = hits + reads
    minimum = HIT_RATIO_MIN.get(workload, 0.99)
    if total < MIN_BLOCK_ACCESSES:
        return Advice(
            "cache_hit_ratio",
            "info",
            f"buffer cache hit ratio not judged: only {total} block accesses so far "
            f"(needs {MIN_BLOCK_ACCESSES}; a cold cache would skew it)",
        )
    ratio = hits / total
    oldest = max((d.since_reset for d in databases), key=_age_key, default=None)
    numbers = f"{ratio:.2%} ({hits} hits, {reads} reads {since(oldest)})"
    young = too_young(uptime, oldest)
    if young is not None:
        return Advice(
            "cache_hit_ratio",
            "info",
            f"buffer cache hit ratio {numbers} not judged: {young}, and a cache that has just "
            "started reads every block once (judged after 1 h of uptime and statistics)",
        )
    if ratio < minimum:
        return Advice(
            "cache_hit_ratio",
            "warning",
            f"buffer cache hit ratio {numbers} < {minimum:.0%}: the working set does not fit "
            "shared_buffers; raise shared_buffers if memory allows (reads may still hit the "
            "OS cache)",
        )
    return Advice(
        "cache_hit_ratio",
        "ok",
        f"buffer cache hit ratio {numbers} >= {minimum:.0%} for a {workload} workload",
    )


def _age_key(age: timedelta | None) -> timedelta:
    return timedelta.max if age is None else age


def temp_file_advice(
    databases: Sequence[DatabaseStats],
    live: Callable[[str], str | None],
    sources: TempSources | None = None,
) -> list[Advice]:
    """One line per database that wrote temporary files, then who wrote them: a setting is
    named only for the statements pgtune can see (pg_stat_statements or the log).

    >>> db = DatabaseStats("app", 1, 1, 3, 48 * 1024**2, timedelta(hours=2))
    >>> [a.message.split(";")[0] for a in temp_file_advice([db], lambda n: None)]
    ["database 'app' wrote 3 temporary files (48 MB) in the last 2.0 h", 'temporary files from an unknown source']
    """  # noqa: E501

    def now(name: str) -> str:
        value = live(name)
        return f" (now {value})" if value else ""

    spilling = [d for d in databases if d.temp_files > 0]
    if not spilling:
        return [
            Advice(
                "temp_files",
                "ok",
                f"no temporary files in {len(databases)} database(s): sorts and hashes fit "
                f"work_mem{now('work_mem')}",
            )
        ]
    advice = [
        Advice(
            "temp_files",
            "info",
            f"database {d.datname!r} wrote {d.temp_files} temporary files "
            f"({human_size(d.temp_bytes)}) {since(d.since_reset)}",
        )
        for d in spilling
    ]
    if sources is None or sources.statements is None:
        why = sources.source if sources is not None else "no per-statement source was read"
        return [
            *advice,
            Advice(
                "temp_files",
                "info",
                "temporary files from an unknown source; sorts and hashes past work_mem and "
                "index builds (CREATE INDEX, REINDEX, CLUSTER) past maintenance_work_mem look "
                f"alike in pg_stat_database: {why}",
            ),
        ]
    groups = by_memory(sources.statements)
    if not groups:
        advice.append(
            Advice(
                "temp_files",
                "info",
                f"no statement in {sources.source} wrote temporary files (since reset or "
                "rotated): their source is unknown",
            )
        )
    if "work_mem" in groups:
        advice.append(
            Advice(
                "temp_files",
                "warning",
                f"sorts and hashes spill past work_mem{now('work_mem')} ({sources.source}): "
                f"{describe(groups['work_mem'])}; raise work_mem for them (per role if memory "
                "is tight)",
            )
        )
    if "maintenance_work_mem" in groups:
        advice.append(
            Advice(
                "temp_files",
                "info",
                "maintenance spilled past maintenance_work_mem"
                f"{now('maintenance_work_mem')}, not work_mem ({sources.source}): "
                f"{describe(groups['maintenance_work_mem'])}",
            )
        )
    return advice


def checkpoint_advice(stats: CheckpointStats, max_wal_size: str | None) -> Advice:
    """
    >>> checkpoint_advice(CheckpointStats(10, 30, None), "1GB").level
    'warning'
    >>> checkpoint_advice(CheckpointStats(100, 2, None), "1GB").level
    'ok'
    """
    total = stats.timed + stats.requested
    counts = f"{stats.requested} of {total} checkpoints requested, {stats.timed} timed"
    if total < MIN_CHECKPOINTS:
        return Advice(
            "checkpoints",
            "info",
            f"checkpoints not judged: {counts} {since(stats.since_reset)} "
            f"(needs {MIN_CHECKPOINTS})",
        )
    share = stats.requested / total
    current = f" (now {max_wal_size})" if max_wal_size else ""
    if share > REQUESTED_CHECKPOINTS_MAX:
        return Advice(
            "checkpoints",
            "warning",
            f"{counts} ({share:.0%}) {since(stats.since_reset)} > "
            f"{REQUESTED_CHECKPOINTS_MAX:.0%}: WAL fills max_wal_size{current} before "
            "checkpoint_timeout; raise max_wal_size (manual CHECKPOINTs and base backups "
            "also count as requested)",
        )
    return Advice(
        "checkpoints",
        "ok",
        f"{counts} ({share:.0%}) {since(stats.since_reset)}: max_wal_size{current} fits the "
        "write load",
    )


def connection_advice(stats: ConnectionStats) -> Advice:
    """
    >>> connection_advice(ConnectionStats(90, 0, 100, 3)).level
    'warning'
    >>> connection_advice(ConnectionStats(5, 2, 100, 3)).message
    'connections 7 of max_connections 100 (7%, counting 2 sessions of other roles ...'
    """
    used = stats.client_backends + stats.unidentified_backends
    share = used / stats.max_connections if stats.max_connections else 0.0
    numbers = f"connections {used} of max_connections {stats.max_connections} ({share:.0%}"
    if stats.unidentified_backends:
        numbers += (
            f", counting {stats.unidentified_backends} sessions of other roles whose type "
            "is hidden without pg_read_all_stats"
        )
    numbers += f"; {stats.reserved_connections} reserved)"
    if share > CONNECTION_USE_MAX:
        return Advice(
            "connections",
            "warning",
            f"{numbers} > {CONNECTION_USE_MAX:.0%}: add a pooler (pgbouncer, transaction mode) "
            "before raising max_connections; each connection costs memory",
        )
    return Advice("connections", "ok", f"{numbers}: headroom left")


def advise(health: Health, workload: str, live: Callable[[str], str | None]) -> list[Advice]:
    """Advice from whatever could be read; ``live(name)`` gives a live setting, pretty."""
    advice: list[Advice] = []
    if health.databases is not None:
        advice.append(cache_hit_advice(health.databases, workload, health.uptime))
        advice += temp_file_advice(health.databases, live, health.temp_sources)
    if health.checkpoints is not None:
        advice.append(checkpoint_advice(health.checkpoints, live("max_wal_size")))
    if health.connections is not None:
        advice.append(connection_advice(health.connections))
    return advice
