"""`pgtune check --dsn DSN`: drift between a live server and its recommendation, plus advice.

psycopg is imported only when the command runs, so `pgtune --help` and `generate` stay fast.
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pgtune.cli.common import handle_errors, say
from pgtune.cli.tune import Cpus, DataDir, DataSize, Memory, Storage
from pgtune.tuning.request import (
    DEFAULT_WORKLOAD,
    TuningRequest,
    parse_cpus,
    parse_data_size,
    parse_memory,
    parse_storage,
    pooler_options,
)
from pgtune.tuning.sizing import Options
from pgtune.units import human_size

if TYPE_CHECKING:
    from pgtune.tuning.check import CheckReport

VALUE_WIDTH = 32


class CheckFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def _cell(value: str | None) -> str:
    text = "(not readable)" if value is None else value
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


def render_table(report: "CheckReport") -> str:
    rec, caps = report.recommendation, report.caps
    hw = rec.context.hardware
    lines = [
        f"server    PostgreSQL {caps.version} at {report.dsn}",
        f"role      {caps.user} ({caps.privilege})",
        f"sized for {human_size(hw.memory_bytes)} memory, {hw.cpus} CPUs, {hw.storage}, "
        f"profile {rec.context.profile.name}, workload {rec.context.workload.name}",
        "",
    ]
    header = ("setting", "live", "recommended", "applies", "pending", "status")
    rows = [
        (
            c.name,
            _cell(c.live),
            _cell(c.recommended),
            c.applies,
            _cell(c.pending) if c.pending else "restart" if c.pending_restart else "",
            c.status,
        )
        for c in report.comparisons
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    drift = report.drift
    restart = [c.name for c in drift if c.applies == "restart"]
    pending = [
        f"{c.name} ({c.live} -> {c.pending})" if c.pending else c.name
        for c in report.comparisons
        if c.pending_restart
    ]
    summary = f"{len(drift)} of {len(report.comparisons)} settings differ"
    if restart:
        summary += f" ({len(restart)} need a restart: {', '.join(restart)})"
    lines += ["", summary + "."]
    if pending:
        lines.append(f"pending restart (the files already changed them): {', '.join(pending)}.")
    if report.advice:
        lines += ["", "advice:"]
        lines += [f"  {a.level:<8} {a.message}" for a in report.advice]
    if report.unreadable:
        lines += ["", "could not read:"]
        lines += [f"  {u.name} ({u.kind}): {u.reason}" for u in report.unreadable]
    return "\n".join(lines) + "\n"


def _validate(request: TuningRequest) -> None:
    """Reject bad flag values before connecting (resolve() checks the rest afterwards)."""
    if request.memory is not None:
        parse_memory(request.memory)
    if request.cpus is not None:
        parse_cpus(request.cpus)
    if request.storage is not None:
        parse_storage(request.storage)
    if request.data_size is not None:
        parse_data_size(request.data_size)


@handle_errors
def check(
    dsn: Annotated[
        str,
        typer.Option(
            "--dsn",
            help="libpq connection string or URI of the server, e.g. "
            "'host=/run/postgresql dbname=postgres' (passwords are never printed).",
        ),
    ],
    data_dir: DataDir = None,
    memory: Memory = None,
    cpus: Cpus = None,
    storage: Storage = None,
    data_size: DataSize = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="small, medium or large (default: picked from memory)."),
    ] = None,
    workload: Annotated[
        str, typer.Option("--workload", help="web, oltp, dw, mixed or desktop.")
    ] = DEFAULT_WORKLOAD,
    max_connections: Annotated[
        int | None,
        typer.Option("--max-connections", help="Connection limit, as given to generate."),
    ] = None,
    ssl_cert: Annotated[
        str | None, typer.Option("--ssl-cert", help="As given to generate: expect ssl on.")
    ] = None,
    ssl_key: Annotated[str | None, typer.Option("--ssl-key", help="As given to generate.")] = None,
    ssl_ca: Annotated[str | None, typer.Option("--ssl-ca", help="As given to generate.")] = None,
    io_method: Annotated[
        str | None, typer.Option("--io-method", help="As given to generate (PostgreSQL 18).")
    ] = None,
    wal_compression: Annotated[
        str | None, typer.Option("--wal-compression", help="As given to generate.")
    ] = None,
    pg_stat_statements: Annotated[
        bool,
        typer.Option("--pg-stat-statements", help="As given to generate: expect it preloaded."),
    ] = False,
    replicas: Annotated[
        int | None, typer.Option("--replicas", help="As given to generate (replication).")
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", help="As given to generate (max_locks_per_transaction)."),
    ] = None,
    pgbouncer: Annotated[
        bool, typer.Option("--pgbouncer", help="As given to generate: pgbouncer in front.")
    ] = False,
    database: Annotated[
        list[str] | None, typer.Option("--database", help="As given to generate (pgbouncer).")
    ] = None,
    users_per_database: Annotated[
        int, typer.Option("--users-per-database", help="As given to generate (pgbouncer).")
    ] = 1,
    pool_size: Annotated[
        int | None, typer.Option("--pool-size", help="As given to generate (pgbouncer).")
    ] = None,
    pg_config: Annotated[
        Path | None,
        typer.Option(
            "--pg-config",
            help="pg_config of the server's build (default: read from the server itself).",
        ),
    ] = None,
    profiles_dir: Annotated[
        Path | None,
        typer.Option("--profiles-dir", help="Use profile and workload files from this directory."),
    ] = None,
    output_format: Annotated[
        CheckFormat, typer.Option("--format", help="table or json.")
    ] = CheckFormat.table,
    emit_sql: Annotated[
        bool,
        typer.Option("--sql", help="Print ALTER SYSTEM statements for the differences instead."),
    ] = False,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            help="The server log, written with log_temp_files = 0: attributes temporary files "
            "to their statements (default: pg_stat_statements when installed).",
        ),
    ] = None,
    connect_timeout: Annotated[
        int | None,
        typer.Option("--connect-timeout", help="Seconds to wait for the server (default 10)."),
    ] = None,
) -> None:
    """Compare a live server with the recommendation for its hardware; advise from its
    statistics. Exit 0 when aligned, 1 on drift, 2 on usage or connection errors."""
    request = TuningRequest(
        data_dir=data_dir,
        memory=memory,
        cpus=cpus,
        storage=storage,
        data_size=data_size,
        profile=profile,
        workload=workload,
        profiles_dir=profiles_dir,
        pg_config=pg_config,
        options=Options(
            max_connections=max_connections,
            ssl_cert=ssl_cert,
            ssl_key=ssl_key,
            ssl_ca=ssl_ca,
            io_method=io_method,
            wal_compression=wal_compression,
            pg_stat_statements=pg_stat_statements,
            replicas=replicas,
            partitions=partitions,
            pooler=pooler_options(
                databases=database or [],
                users_per_database=users_per_database,
                pool_size=pool_size,
            )
            if pgbouncer
            else None,
        ),
    )
    _validate(request)
    from pgtune.tuning.check import as_document, drift_sql, run_check

    report = run_check(dsn, request, timeout=connect_timeout, log=log)
    for note in report.notes:
        say(f"pgtune: note: {note}")
    if emit_sql:
        typer.echo(drift_sql(report), nl=False)
    elif output_format is CheckFormat.json:
        typer.echo(json.dumps(as_document(report), indent=2))
    else:
        typer.echo(render_table(report), nl=False)
    if report.unreadable:
        say(f"pgtune: could not read {len(report.unreadable)} item(s) as {report.caps.user!r}")
    if report.drift:
        raise typer.Exit(1)
