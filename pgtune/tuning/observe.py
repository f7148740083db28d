"""Observing a live server: its cumulative statistics at the start and the end of a window (or
since their last reset), and the peak of its sessions sampled in between.

Everything degrades: a view the role may not read, or that this version lacks, is named in
``Observed.unreadable`` and the rules that need it are skipped. Nothing here decides anything:
``observed_rules.py`` turns the figures into settings.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from pgtune.pg import ServerCapabilities, load_query
from pgtune.tuning.health import CheckpointStats

T = TypeVar("T")
SINCE_RESET = "since-reset"
SAMPLE_EVERY = 1.0  # seconds between pg_stat_activity samples


@dataclass(frozen=True)
class Totals:
    taken_at: float  # server clock, epoch seconds
    wal_lsn: int | None
    blks_hit: int
    blks_read: int
    temp_files: int
    temp_bytes: int
    transactions: int
    stats_reset: float | None
    started_at: float


@dataclass(frozen=True)
class WalStats:
    wal_bytes: int
    stats_reset: float | None


@dataclass(frozen=True)
class BgwriterStats:
    buffers_clean: int
    maxwritten_clean: int
    buffers_backend: int
    stats_reset: float | None


@dataclass(frozen=True)
class TableStats:
    schema: str
    name: str
    live_rows: int
    dead_rows: int
    changes: int  # rows updated or deleted
    mod_since_analyze: int
    autovacuums: int
    options: list[str] | None


@dataclass(frozen=True)
class StatementStats:
    queryid: int
    role: str | None
    database: str | None
    query: str
    calls: int
    temp_bytes: int


@dataclass(frozen=True)
class Snapshot:
    totals: Totals
    wal: WalStats | None
    checkpoints: CheckpointStats | None
    bgwriter: BgwriterStats | None
    tables: tuple[TableStats, ...] | None
    statements: tuple[StatementStats, ...] | None


@dataclass(frozen=True)
class Observed:
    """What the server did in the window: counters' differences (or their values since reset)."""

    window: float  # seconds
    mode: str  # "5m" as asked, or "since-reset"
    wal_bytes: int | None
    transactions: int
    checkpoints_timed: int | None
    checkpoints_requested: int | None
    blks_hit: int
    blks_read: int
    temp_files: int
    temp_bytes: int
    buffers_clean: int | None
    maxwritten_clean: int | None
    buffers_backend: int | None
    peak_sessions: int | None  # client sessions at once, sampled
    peak_by_role: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    tables: tuple[TableStats, ...] | None = None  # changes in the window
    statements: tuple[StatementStats, ...] | None = None  # calls and temp bytes in the window
    unreadable: tuple[tuple[str, str], ...] = ()  # (what, why)
    notes: tuple[str, ...] = ()


def parse_window(text: str) -> float | None:
    """Seconds of ``--observe`` (``30s``, ``5m``, ``1h``), or None for ``since-reset``.

    >>> parse_window("5m"), parse_window("90s"), parse_window("1h"), parse_window("since-reset")
    (300.0, 90.0, 3600.0, None)
    """
    from pgtune.errors import UsageError

    text = text.strip().lower()
    if text == SINCE_RESET:
        return None
    units = {"s": 1, "m": 60, "min": 60, "h": 3600}
    for suffix in sorted(units, key=len, reverse=True):
        number = text.removesuffix(suffix)
        if number != text and number.replace(".", "", 1).isdigit():
            seconds = float(number) * units[suffix]
            if seconds >= 1:
                return seconds
    raise UsageError(f"invalid --observe {text!r}: use a duration such as '5m' or 'since-reset'")


class _Reader:
    """Runs the observation queries, remembering what could not be read (once each)."""

    def __init__(self, conn: psycopg.Connection[Any], caps: ServerCapabilities) -> None:
        self.conn = conn
        self.caps = caps
        self.unreadable: dict[str, str] = {}

    def rows(self, query: sql.Composable | str, row: type[T], what: str) -> list[T] | None:
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            try:
                return cur.execute(query).fetchall()  # type: ignore[arg-type]
            except (
                psycopg.errors.InsufficientPrivilege,
                psycopg.errors.ObjectNotInPrerequisiteState,
                psycopg.errors.UndefinedTable,
                psycopg.errors.UndefinedColumn,
            ) as exc:
                self.unreadable.setdefault(
                    what, (exc.diag.message_primary or type(exc).__name__).strip()
                )
                return None

    def one(self, name: str, row: type[T], what: str) -> T | None:
        found = self.rows(load_query("pgtune.tuning", name), row, what)
        return found[0] if found else None

    def statements(self) -> tuple[StatementStats, ...] | None:
        found = self.conn.execute(
            "SELECT n.nspname FROM pg_catalog.pg_extension AS e"
            " JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_stat_statements'"
        ).fetchone()
        if found is None:
            self.unreadable.setdefault(
                "pg_stat_statements",
                "not installed in this database: work_mem is not sized from spills",
            )
            return None
        query = sql.SQL(
            "SELECT s.queryid::bigint AS queryid, r.rolname AS role, d.datname AS database,"
            " s.query, s.calls::bigint AS calls,"
            " (s.temp_blks_written * pg_catalog.current_setting('block_size')::bigint)::bigint"
            " AS temp_bytes"
            " FROM {}.pg_stat_statements AS s"
            " LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = s.userid"
            " LEFT JOIN pg_catalog.pg_database AS d ON d.oid = s.dbid"
            " WHERE s.temp_blks_written > 0 AND s.queryid IS NOT NULL"
        ).format(sql.Identifier(found[0]))
        rows = self.rows(query, StatementStats, "pg_stat_statements")
        return tuple(rows) if rows is not None else None

    def snapshot(self) -> Snapshot:
        totals = self.one("observe_totals", Totals, "pg_stat_database")
        if totals is None:
            raise psycopg.errors.InsufficientPrivilege("cannot read pg_stat_database")
        major = self.caps.major
        wal = self.one("observe_wal", WalStats, "pg_stat_wal") if major >= 14 else None
        checkpoints = self.one(
            "checkpoints_checkpointer" if major >= 17 else "checkpoints_bgwriter",
            CheckpointStats,
            "pg_stat_checkpointer" if major >= 17 else "pg_stat_bgwriter",
        )
        bgwriter = self.one(
            "observe_bgwriter_io" if major >= 16 else "observe_bgwriter",
            BgwriterStats,
            "pg_stat_io" if major >= 16 else "pg_stat_bgwriter",
        )
        tables = self.rows(load_query("pgtune.tuning", "observe_tables"), TableStats, "tables")
        return Snapshot(
            totals,
            wal,
            checkpoints,
            bgwriter,
            tuple(tables) if tables is not None else None,
            self.statements(),
        )

    def sessions(self) -> dict[str, int]:
        rows = self.conn.execute(load_query("pgtune.tuning", "observe_activity")).fetchall()
        return {str(r[0]) if r[0] is not None else "": int(r[1]) for r in rows}


def _minus(end: int | None, start: int | None) -> int | None:
    return None if end is None or start is None else max(0, end - start)


def difference(
    start: Snapshot, end: Snapshot, mode: str, peaks: dict[str, int], peak: int | None
) -> Observed:
    """The window's figures from two snapshots (pure)."""
    s, e = start.totals, end.totals
    wal = _minus(e.wal_lsn, s.wal_lsn)
    if wal is None and start.wal and end.wal:
        wal = _minus(end.wal.wal_bytes, start.wal.wal_bytes)
    tables = None
    if start.tables is not None and end.tables is not None:
        before = {(t.schema, t.name): t for t in start.tables}
        tables = tuple(
            replace(
                t,
                changes=t.changes - before[(t.schema, t.name)].changes,
                autovacuums=t.autovacuums - before[(t.schema, t.name)].autovacuums,
            )
            if (t.schema, t.name) in before
            else t
            for t in end.tables
        )
    statements = None
    if end.statements is not None:
        was = {st.queryid: st for st in start.statements or ()}
        statements = tuple(
            replace(
                st,
                calls=st.calls - (was[st.queryid].calls if st.queryid in was else 0),
                temp_bytes=st.temp_bytes - (was[st.queryid].temp_bytes if st.queryid in was else 0),
            )
            for st in end.statements
        )
        statements = tuple(st for st in statements if st.temp_bytes > 0 and st.calls > 0)
    cs, ce = start.checkpoints, end.checkpoints
    bs, be = start.bgwriter, end.bgwriter
    return Observed(
        window=max(1e-3, e.taken_at - s.taken_at),
        mode=mode,
        wal_bytes=wal,
        transactions=max(0, e.transactions - s.transactions),
        checkpoints_timed=_minus(ce.timed, cs.timed) if cs and ce else None,
        checkpoints_requested=_minus(ce.requested, cs.requested) if cs and ce else None,
        blks_hit=max(0, e.blks_hit - s.blks_hit),
        blks_read=max(0, e.blks_read - s.blks_read),
        temp_files=max(0, e.temp_files - s.temp_files),
        temp_bytes=max(0, e.temp_bytes - s.temp_bytes),
        buffers_clean=_minus(be.buffers_clean, bs.buffers_clean) if bs and be else None,
        maxwritten_clean=_minus(be.maxwritten_clean, bs.maxwritten_clean) if bs and be else None,
        buffers_backend=_minus(be.buffers_backend, bs.buffers_backend) if bs and be else None,
        peak_sessions=peak,
        peak_by_role=dict(peaks),
        tables=tables,
        statements=statements,
    )


def _since_reset(end: Snapshot) -> tuple[Snapshot, list[str]]:
    """A zero snapshot at the time the statistics began (their last reset, else the start)."""
    e = end.totals
    began = e.stats_reset if e.stats_reset is not None else e.started_at
    notes = []
    if e.stats_reset is None:
        notes.append(
            "statistics never reset: the window is counted from the server's start, and "
            "counters kept across restarts make the rates look higher than they are"
        )
    totals = Totals(began, None, 0, 0, 0, 0, 0, None, e.started_at)
    zero_wal = WalStats(0, None) if end.wal else None
    zero_ckpt = CheckpointStats(0, 0, None) if end.checkpoints else None
    zero_bg = BgwriterStats(0, 0, 0, None) if end.bgwriter else None
    tables = tuple(replace(t, changes=0, autovacuums=0) for t in end.tables or ())
    return Snapshot(totals, zero_wal, zero_ckpt, zero_bg, tables, ()), notes


def observe(
    conn: psycopg.Connection[Any],
    caps: ServerCapabilities,
    window: float | None,
    progress: Callable[[float, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Observed:
    """Sample the server for ``window`` seconds (None: use everything since the last reset)."""
    reader = _Reader(conn, caps)
    peaks: dict[str, int] = {}
    peak = 0
    samples = 0

    def sample() -> None:
        nonlocal peak, samples
        now = reader.sessions()
        samples += 1
        peak = max(peak, sum(now.values()))
        for role, n in now.items():
            peaks[role] = max(peaks.get(role, 0), n)

    if window is None:
        end = reader.snapshot()
        sample()
        start, notes = _since_reset(end)
        mode = SINCE_RESET
    else:
        start = reader.snapshot()
        began = time.monotonic()
        notes = []
        sample()
        while (elapsed := time.monotonic() - began) < window:
            if progress is not None:
                progress(elapsed, window)
            sleep(min(SAMPLE_EVERY, window - elapsed))
            sample()
        if progress is not None:
            progress(window, window)
        end = reader.snapshot()
        mode = f"{window:g}s"
    observed = difference(start, end, mode, peaks, peak)
    if window is None:
        notes.append("connections: only the sessions at this moment (no window was sampled)")
    return replace(
        observed,
        samples=samples,
        unreadable=tuple(reader.unreadable.items()),
        notes=tuple(notes),
    )
