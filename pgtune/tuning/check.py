"""`pgtune check`: a live server against the recommendation for its hardware and version.

The recommendation is resolved for the server's *live* major version; each recommended
``Setting.setting`` is compared with ``pg_settings.setting`` (same unit) by type: numbers as
numbers, enums and booleans without case, ``shared_preload_libraries`` as a set that must contain
the recommended libraries. Rows pg_settings hides from the role are "unreadable", never drift.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from pgtune import __version__, pg
from pgtune.errors import UsageError
from pgtune.tuning.health import Advice, Unreadable, advise, read_health
from pgtune.tuning.recommend import Recommendation, recommend
from pgtune.tuning.render import inputs_of, pg_quote
from pgtune.tuning.request import TuningRequest, resolve
from pgtune.tuning.server import ServerBuild
from pgtune.tuning.settings import Setting
from pgtune.tuning.sizing import Context
from pgtune.tuning.sizing.memory import DATA_STEPS
from pgtune.units import (
    GB,
    KB,
    MB,
    format_pg_duration,
    format_pg_size,
    parse_duration_ms,
    parse_size,
)
from pgtune.versions import Applies

DOCUMENT_FORMAT_VERSION = 1
Status = Literal["ok", "drift", "unreadable"]

# Settings whose value is a list: the recommended items must be present, others may be too.
LIST_SETTINGS = frozenset({"shared_preload_libraries"})
_SIZE_UNITS = {"B": 1, "kB": KB, "8kB": 8 * KB, "MB": MB}
_TIME_UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000}
_TRUE = frozenset({"on", "true", "yes", "1"})


@dataclass(frozen=True)
class LiveSetting:
    """One row of pg_settings (queries/settings.sql)."""

    name: str
    setting: str | None
    unit: str | None
    vartype: str
    context: str
    source: str | None
    enumvals: list[str] | None
    pending_restart: bool


@dataclass(frozen=True)
class Comparison:
    name: str
    live: str | None  # pretty, with its unit (None: not readable)
    live_setting: str | None  # pg_settings.setting
    recommended: str  # as pgtune writes it in postgresql.conf
    recommended_setting: str  # in pg_settings' unit
    target: str  # what ALTER SYSTEM should set (a list keeps the live items)
    unit: str | None
    applies: Applies
    pending_restart: bool
    status: Status
    reason: str
    pending: str | None = None  # the value the next restart brings, pretty (None: none/unknown)
    pending_setting: str | None = None
    tolerance: str | None = None  # why a small difference is not drift


@dataclass(frozen=True)
class FileSetting:
    """The last value the configuration files give one parameter (queries/file_settings.sql)."""

    name: str
    setting: str | None
    error: str | None


NOT_APPLIED = "setting could not be applied"  # pg_file_settings: waits for a restart


def pretty(setting: str | None, unit: str | None, vartype: str) -> str | None:
    """A pg_settings value the way people write it.

    >>> pretty("16384", "8kB", "integer"), pretty("4096", "kB", "integer")
    ('128MB', '4MB')
    >>> pretty("300", "s", "integer"), pretty("-1", "kB", "integer")
    ('5min', '-1')
    >>> pretty("%m [%p] ", None, "string"), pretty("", None, "string")
    ("'%m [%p] '", "''")
    """
    if setting is None:
        return None
    if vartype == "integer" and unit and setting.lstrip("-").isdigit() and int(setting) >= 0:
        if unit in _SIZE_UNITS:
            return format_pg_size(int(setting) * _SIZE_UNITS[unit])
        if unit in _TIME_UNITS_MS:
            return format_pg_duration(int(setting) * _TIME_UNITS_MS[unit])
    if vartype == "string":
        return pg_quote(setting)
    return setting


def list_items(value: str) -> list[str]:
    """
    >>> list_items('pg_stat_statements, "auto_explain"'), list_items("")
    (['pg_stat_statements', 'auto_explain'], [])
    """
    return [item.strip().strip('"') for item in value.split(",") if item.strip()]


def same(name: str, recommended: str, live: str, vartype: str) -> bool:
    """Whether the live pg_settings.setting already is the recommended one.

    >>> same("random_page_cost", "1.1", "1.10", "real"), same("jit", "off", "OFF", "bool")
    (True, True)
    >>> same("shared_preload_libraries", "pg_stat_statements", "auto_explain", "string")
    False
    >>> same("shared_preload_libraries", "pg_stat_statements", "auto_explain,pg_stat_statements",
    ...      "string")
    True
    """
    if name in LIST_SETTINGS:
        return set(list_items(recommended)) <= set(list_items(live))
    try:
        if vartype == "real":
            return math.isclose(float(recommended), float(live), rel_tol=1e-9)
        if vartype == "integer":
            return int(float(recommended)) == int(float(live))
    except ValueError:
        return recommended == live
    if vartype == "bool":
        return (recommended.lower() in _TRUE) == (live.lower() in _TRUE)
    if vartype == "enum":
        return recommended.lower() == live.lower()
    return recommended == live


def to_setting_form(value: str, unit: str | None, vartype: str) -> str | None:
    """A configuration file's value in pg_settings.setting form (the parameter's base unit);
    None when it cannot be read.

    >>> to_setting_form("1GB", "8kB", "integer"), to_setting_form("16384", "8kB", "integer")
    ('131072', '16384')
    >>> to_setting_form("15min", "s", "integer"), to_setting_form("lz4", None, "enum")
    ('900', 'lz4')
    >>> to_setting_form("lots", "kB", "integer") is None
    True
    """
    text = value.strip()
    if vartype != "integer" or not unit or text.lstrip("-").isdigit():
        return text
    try:
        if unit in _SIZE_UNITS:
            return str(parse_size(text) // _SIZE_UNITS[unit])
        if unit in _TIME_UNITS_MS:
            return str(parse_duration_ms(text) // _TIME_UNITS_MS[unit])
    except UsageError:
        return None
    return None


_DISK_SHARES = frozenset(
    {"max_wal_size", "min_wal_size", "max_slot_wal_keep_size", "wal_keep_size", "temp_file_limit"}
)
_NICE_SIZES = frozenset({"effective_cache_size", "maintenance_work_mem", "autovacuum_work_mem"})


def rounding_step(name: str, nbytes: int, memory: int) -> int | None:
    """The step pgtune rounds this size to (sizing/memory.py, budget.py, sizing/wal.py): a
    difference smaller than it is pgtune's own rounding, not drift. None: not rounded.

    >>> rounding_step("shared_buffers", 256 * MB, 8 * GB) // MB
    256
    >>> rounding_step("work_mem", 4 * MB, 8 * GB) // KB, rounding_step("jit", 0, 8 * GB)
    (1024, None)
    """
    if name == "shared_buffers":
        return max(MB, memory // DATA_STEPS // MB * MB)
    if name == "work_mem":
        return MB if nbytes >= 2 * MB else 64 * KB if nbytes >= 256 * KB else 16 * KB
    if name in _DISK_SHARES:
        return GB if nbytes >= 4 * GB else 64 * MB if nbytes >= 64 * MB else MB
    if name in _NICE_SIZES:
        return 256 * MB if nbytes >= 4 * GB else MB if nbytes >= 4 * MB else KB
    return None


def within_step(rec: Setting, live_setting: str, memory: int | None) -> str | None:
    """Why ``live_setting`` counts as the recommended size although it differs, or None.

    >>> sb = Setting("shared_buffers", "256MB", "32768", "8kB", "restart", "why", "memory")
    >>> within_step(sb, "30720", 1024 * MB)
    "within pgtune's 32MB rounding step for shared_buffers"
    >>> within_step(sb, "16384", 1024 * MB) is None
    True
    """
    factor = _SIZE_UNITS.get(rec.unit or "")
    if memory is None or factor is None:
        return None
    try:
        recommended, live = int(rec.setting) * factor, int(live_setting) * factor
    except ValueError:
        return None
    step = rounding_step(rec.name, recommended, memory)
    if step is None or recommended < 0 or live < 0 or abs(recommended - live) >= step:
        return None
    return f"within pgtune's {format_pg_size(step)} rounding step for {rec.name}"


def _target(rec: Setting, live: LiveSetting | None) -> str:
    if rec.name in LIST_SETTINGS and live is not None and live.setting:
        items = list_items(live.setting)
        return ", ".join(items + [i for i in list_items(rec.value) if i not in items])
    return rec.value


def compare(
    rec: Setting,
    live: LiveSetting | None,
    file: FileSetting | None = None,
    memory: int | None = None,
) -> Comparison:
    """The running value against the recommendation; when a restart is pending and the files'
    value is readable (``file``), that value: it is what the next restart brings."""
    pending = None
    readable = file is not None and file.setting and file.error in (None, NOT_APPLIED)
    if live is not None and live.pending_restart and file is not None and readable:
        pending = to_setting_form(file.setting or "", live.unit, live.vartype)
    judged = pending if pending is not None else live.setting if live else None
    tolerance = None
    if live is None or judged is None:
        status: Status = "unreadable"
    elif same(rec.name, rec.setting, judged, live.vartype):
        status = "ok"
    else:
        tolerance = within_step(rec, judged, memory)
        status = "ok" if tolerance else "drift"
    return Comparison(
        name=rec.name,
        live=pretty(live.setting, live.unit, live.vartype) if live else None,
        live_setting=live.setting if live else None,
        recommended=rec.value,
        recommended_setting=rec.setting,
        target=_target(rec, live),
        unit=rec.unit,
        applies=rec.applies,
        pending_restart=bool(live and live.pending_restart),
        status=status,
        reason=rec.reason,
        pending=pretty(pending, live.unit, live.vartype) if live and pending else None,
        pending_setting=pending,
        tolerance=tolerance,
    )


def live_build(rows: Mapping[str, LiveSetting]) -> ServerBuild:
    """What the server was built with, read from the values it accepts (no pg_config needed).

    >>> wal = LiveSetting("wal_compression", "off", None, "enum", "superuser", "default",
    ...                   ["pglz", "on", "off"], False)
    >>> b = live_build({"wal_compression": wal})
    >>> (b.lz4, b.zstd, b.liburing, b.ssl)
    (False, False, None, None)
    """
    wal = rows.get("wal_compression")
    methods = set(wal.enumvals or ()) if wal is not None and wal.vartype == "enum" else None
    io = rows.get("io_method")
    ssl = rows.get("ssl_library")
    return ServerBuild(
        source="the server's pg_settings",
        lz4=None if methods is None else "lz4" in methods,
        zstd=None if methods is None else "zstd" in methods,
        liburing=None if io is None else "io_uring" in (io.enumvals or ()),
        ssl=None if ssl is None or ssl.setting is None else bool(ssl.setting),
    )


@dataclass(frozen=True)
class CheckReport:
    dsn: str  # redacted
    caps: pg.ServerCapabilities
    recommendation: Recommendation
    sources: dict[str, str]
    comparisons: tuple[Comparison, ...]
    advice: tuple[Advice, ...]
    unreadable: tuple[Unreadable, ...]
    notes: tuple[str, ...]

    @property
    def drift(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status == "drift"]


def _unreadable_settings(
    comparisons: Sequence[Comparison], caps: pg.ServerCapabilities
) -> list[Unreadable]:
    why = (
        "hidden from roles without pg_read_all_settings (grant pg_monitor)"
        if not caps.read_all_settings
        else "not in pg_settings"
    )
    return [Unreadable(c.name, "setting", why) for c in comparisons if c.status == "unreadable"]


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def remote_hardware_note(host: str, request: TuningRequest) -> str | None:
    """A warning when hardware is detected here but the server runs on another host.

    >>> note = remote_hardware_note("db.example", TuningRequest(memory="8GB"))
    >>> note.split(" detected")[0], "'db.example'" in note
    ('--cpus, --storage', True)
    >>> remote_hardware_note("/run/postgresql", TuningRequest()) is None
    True
    """
    if host.startswith("/") or host in LOCAL_HOSTS:
        return None
    detected = [
        flag
        for flag, given in (
            ("--memory", request.memory),
            ("--cpus", request.cpus),
            ("--storage", request.storage),
        )
        if given is None
    ]
    if not detected:
        return None
    return (
        f"{', '.join(detected)} detected on this machine, but the server is on {host!r}: "
        "give its hardware with those flags"
    )


def _with_local_data_dir(
    request: TuningRequest, host: str, rows: Mapping[str, LiveSetting]
) -> TuningRequest:
    """Detect storage under the server's own data directory when it is on this machine."""
    if not host.startswith("/") or request.data_dir is not None or request.storage is not None:
        return request
    data_dir = rows.get("data_directory")
    if data_dir is None or not data_dir.setting or not Path(data_dir.setting).is_dir():
        return request
    return replace(request, data_dir=Path(data_dir.setting))


def _with_server_database_size(context: Context, conn: psycopg.Connection[Any]) -> Context:
    """The databases' size from the server when neither --data-size nor a readable local data
    directory gave it, so check recommends what generate on the server's host would."""
    if context.hardware.database_bytes is not None:
        return context
    row = conn.execute(pg.load_query("pgtune.tuning", "database_size")).fetchone()
    if row is None or row[0] is None or not row[1]:
        return context  # some database is not readable: a partial sum would mislead
    hardware = replace(
        context.hardware,
        database_bytes=int(row[0]),
        database_source="pg_database_size on the server",
    )
    return replace(context, hardware=hardware)


def _file_settings(
    conn: psycopg.Connection[Any], pending: Sequence[str], missing: list[Unreadable]
) -> dict[str, FileSetting]:
    """The files' values, read only when some recommended setting waits for a restart."""
    if not pending:
        return {}
    try:
        with conn.cursor(row_factory=class_row(FileSetting)) as cur:
            rows = cur.execute(pg.load_query("pgtune.tuning", "file_settings")).fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        reason = (exc.diag.message_primary or "permission denied").strip()
        missing.append(
            Unreadable(
                "pg_file_settings",
                "view",
                f"{reason}: the value a restart brings to {', '.join(pending)} is unknown, "
                "the running value is compared",
            )
        )
        return {}
    return {r.name: r for r in rows}


def run_check(
    dsn: str, request: TuningRequest, *, timeout: int | None = None, log: Path | None = None
) -> CheckReport:
    with pg.connect(dsn, timeout=timeout) as conn, pg.errors_mapped(dsn):
        caps = pg.detect_capabilities(conn)
        with conn.cursor(row_factory=class_row(LiveSetting)) as cur:
            rows = {
                r.name: r
                for r in cur.execute(pg.load_query("pgtune.tuning", "settings")).fetchall()
            }
        host = conn.info.host
        note = remote_hardware_note(host, request)
        request = _with_local_data_dir(replace(request, pg_version=caps.major), host, rows)
        resolved = resolve(request)
        context = _with_server_database_size(resolved.context, conn)
        sources = dict(resolved.sources, pg_version_source=f"the server ({caps.version})")
        if request.pg_config is None:
            context = replace(context, build=live_build(rows))
            sources["server_build_source"] = context.build.source
        rec = recommend(context)
        missing: list[Unreadable] = []
        pending = [s.name for s in rec.settings if (r := rows.get(s.name)) and r.pending_restart]
        files = _file_settings(conn, pending, missing)
        comparisons = tuple(
            compare(s, rows.get(s.name), files.get(s.name), context.memory) for s in rec.settings
        )
        health = read_health(conn, caps, log)

    def live(name: str) -> str | None:
        row = rows.get(name)
        return pretty(row.setting, row.unit, row.vartype) if row else None

    return CheckReport(
        dsn=pg.redact_dsn(dsn),
        caps=caps,
        recommendation=rec,
        sources=sources,
        comparisons=comparisons,
        advice=tuple(advise(health, context.workload.name, live)),
        unreadable=(*_unreadable_settings(comparisons, caps), *missing, *health.unreadable),
        notes=(*([note] if note else []), *rec.notes),
    )


def as_document(report: CheckReport) -> dict[str, Any]:
    """The stable machine-readable form (docs/check.md)."""
    caps = report.caps
    return {
        "format_version": DOCUMENT_FORMAT_VERSION,
        "generator": f"pgtune {__version__}",
        "server": {
            "dsn": report.dsn,
            "version": caps.version,
            "major": caps.major,
            "user": caps.user,
            "superuser": caps.is_superuser,
            "pg_monitor": caps.pg_monitor,
        },
        "inputs": {**inputs_of(report.recommendation), **report.sources},
        "settings": [
            {
                "name": c.name,
                "live": c.live,
                "recommended": c.recommended,
                "live_setting": c.live_setting,
                "recommended_setting": c.recommended_setting,
                "unit": c.unit,
                "applies": c.applies,
                "pending_restart": c.pending_restart,
                "pending": c.pending,
                "pending_setting": c.pending_setting,
                "status": c.status,
                "tolerance": c.tolerance,
                "reason": c.reason,
            }
            for c in report.comparisons
        ],
        "advice": [
            {"topic": a.topic, "level": a.level, "message": a.message} for a in report.advice
        ],
        "unreadable": [
            {"name": u.name, "kind": u.kind, "reason": u.reason} for u in report.unreadable
        ],
        "notes": list(report.notes),
    }


def drift_sql(report: CheckReport) -> str:
    """ALTER SYSTEM statements for the drifting settings only, then a reload."""
    drift = report.drift
    lines = [f"-- pgtune {__version__} check of {report.dsn}: {len(drift)} setting(s) differ"]
    if not drift:
        return lines[0] + "\n"
    lines.append("-- Run as a superuser; ALTER SYSTEM cannot run inside a transaction block.")
    for c in drift:
        value: sql.Composable
        if c.name in LIST_SETTINGS:  # one literal per item, or the list becomes one quoted name
            value = sql.SQL(", ").join(sql.Literal(i) for i in list_items(c.target))
        else:
            value = sql.Literal(c.target)
        restart = " [restart]" if c.applies == "restart" else ""
        pending = f", pending restart {c.pending}" if c.pending else ""
        lines.append(f"-- {c.name}: live {c.live}{pending}, recommended {c.recommended}{restart}")
        lines.append(
            sql.SQL("ALTER SYSTEM SET {} = {};")
            .format(sql.Identifier(c.name), value)
            .as_string(None)
        )
    lines.append("SELECT pg_catalog.pg_reload_conf();")
    restart_names = [c.name for c in drift if c.applies == "restart"]
    if restart_names:
        lines.append(f"-- Restart the server to apply: {', '.join(restart_names)}")
    return "\n".join(lines) + "\n"
