"""Who wrote the temporary files: per statement from pg_stat_statements, or from the server log
(``log_temp_files``), else unknown.

pg_stat_database counts temporary files per database but not why: a sort or hash past
``work_mem`` and a CREATE INDEX / REINDEX / CLUSTER past ``maintenance_work_mem`` look the same
there. pgtune blames a setting only for statements it can see.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow, class_row

from pgtune.errors import UsageError
from pgtune.names import shown
from pgtune.units import human_size

Memory = Literal["work_mem", "maintenance_work_mem"]
TOP_STATEMENTS = 20
QUERY_WIDTH = 60

# Statements whose sorts run in maintenance_work_mem (index builds, CLUSTER, VACUUM).
_MAINTENANCE = re.compile(
    r"^\s*(create\s+(unique\s+)?index|reindex|cluster|vacuum|alter\s+table|"
    r"alter\s+index|add\s+constraint)\b",
    re.IGNORECASE,
)
# "LOG:  temporary file: path "base/pgsql_tmp/pgsql_tmp123.0", size 1400000"
_TEMP_LINE = re.compile(r'temporary file: path "([^"]*)", size (\d+)')
_STATEMENT_LINE = re.compile(r"\bSTATEMENT:\s+(.*)$")


@dataclass(frozen=True)
class TempStatement:
    query: str
    role: str | None
    database: str | None
    calls: int  # executions (pg_stat_statements) or temporary files (log)
    temp_bytes: int

    @property
    def memory(self) -> Memory:
        """The setting whose limit this statement's sorts and hashes passed.

        >>> TempStatement("REINDEX TABLE t", None, None, 1, 1).memory
        'maintenance_work_mem'
        >>> TempStatement("select * from t order by 1", None, None, 1, 1).memory
        'work_mem'
        """
        return "maintenance_work_mem" if _MAINTENANCE.match(self.query) else "work_mem"

    def label(self) -> str:
        text = " ".join(self.query.split())
        if len(text) > QUERY_WIDTH:
            text = text[: QUERY_WIDTH - 3] + "..."
        who = f" by role {shown(self.role)}" if self.role else ""
        return f"{text!r}{who}"


@dataclass(frozen=True)
class TempSources:
    """What pgtune could learn about the temporary files' statements."""

    statements: tuple[TempStatement, ...] | None  # None: no source
    source: str  # "pg_stat_statements", "the log FILE", or why unknown


def parse_log(lines: Iterable[str]) -> list[TempStatement]:
    """Temporary files from a server log with ``log_temp_files`` set, grouped by statement.

    >>> log = [
    ...     '2024-01-01 10:00:00 UTC [42] LOG:  temporary file: path "base/pgsql_tmp/t42.0", '
    ...     'size 1048576',
    ...     "2024-01-01 10:00:00 UTC [42] STATEMENT:  REINDEX TABLE big",
    ...     '2024-01-01 10:00:01 UTC [43] LOG:  temporary file: path "base/pgsql_tmp/t43.0", '
    ...     'size 2048',
    ... ]
    >>> [(s.query, s.calls, s.temp_bytes, s.memory) for s in parse_log(log)]
    [('REINDEX TABLE big', 1, 1048576, 'maintenance_work_mem'), ('(statement not logged)', 1, 2048, 'work_mem')]
    """  # noqa: E501
    found: dict[str, list[int]] = {}
    waiting: list[int] = []  # sizes whose STATEMENT line has not come yet

    def settle(query: str) -> None:
        entry = found.setdefault(query, [0, 0])
        entry[0] += len(waiting)
        entry[1] += sum(waiting)
        waiting.clear()

    for line in lines:
        if match := _TEMP_LINE.search(line):
            if waiting:
                settle("(statement not logged)")
            waiting.append(int(match.group(2)))
        elif waiting and (match := _STATEMENT_LINE.search(line)):
            settle(match.group(1).strip())
        elif waiting and "LOG:" in line:
            settle("(statement not logged)")
    if waiting:
        settle("(statement not logged)")
    return sorted(
        (TempStatement(q, None, None, n, size) for q, (n, size) in found.items()),
        key=lambda s: -s.temp_bytes,
    )


def read_log(path: Path) -> TempSources:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            statements = parse_log(f)
    except OSError as exc:
        raise UsageError(f"cannot read --log {str(path)!r}: {exc.strerror}") from None
    return TempSources(tuple(statements), f"the log {str(path)!r}")


_SCHEMA_QUERY = (
    "SELECT n.nspname FROM pg_catalog.pg_extension AS e"
    " JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pg_stat_statements'"
)
_STATEMENTS_QUERY = (
    "SELECT s.query, r.rolname AS role, d.datname AS database, s.calls::bigint AS calls,"
    " (s.temp_blks_written * pg_catalog.current_setting('block_size')::bigint)::bigint"
    " AS temp_bytes"
    " FROM {}.pg_stat_statements AS s"
    " LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = s.userid"
    " LEFT JOIN pg_catalog.pg_database AS d ON d.oid = s.dbid"
    " WHERE s.temp_blks_written > 0"
    " ORDER BY s.temp_blks_written DESC LIMIT {}"
)

UNKNOWN_HOW = (
    "install pg_stat_statements, or set log_temp_files = 0 and pass the server log with --log"
)


def read_statements(conn: psycopg.Connection[TupleRow]) -> TempSources:
    """The statements that wrote temporary files, from pg_stat_statements when it is installed
    in the connected database and loaded; otherwise why not."""
    row = conn.execute(_SCHEMA_QUERY).fetchone()
    if row is None:
        return TempSources(None, f"pg_stat_statements is not installed; {UNKNOWN_HOW}")
    query = sql.SQL(_STATEMENTS_QUERY).format(sql.Identifier(row[0]), TOP_STATEMENTS)
    try:
        with conn.cursor(row_factory=class_row(TempStatement)) as cur:
            rows = cur.execute(query).fetchall()
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return TempSources(
            None, f"pg_stat_statements is installed but not preloaded; {UNKNOWN_HOW}"
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        reason = (exc.diag.message_primary or "permission denied").strip()
        return TempSources(None, f"pg_stat_statements: {reason}")
    return TempSources(tuple(rows), "pg_stat_statements")


def by_memory(statements: Sequence[TempStatement]) -> dict[Memory, list[TempStatement]]:
    groups: dict[Memory, list[TempStatement]] = {}
    for s in statements:
        groups.setdefault(s.memory, []).append(s)
    return groups


def describe(statements: Sequence[TempStatement], limit: int = 3) -> str:
    """
    >>> print(describe([TempStatement("select 1 order by 1", "app", "db", 4, 3 * 1024**2)]))
    'select 1 order by 1' by role "app": 3 MB in 4 calls
    """
    parts = [f"{s.label()}: {human_size(s.temp_bytes)} in {s.calls} calls" for s in statements]
    more = len(statements) - limit
    return "; ".join(parts[:limit]) + (f"; and {more} more" if more > 0 else "")
