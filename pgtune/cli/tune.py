"""`pgtune detect` and `pgtune generate`: flags in, tuned configuration out."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pgtune.cli.common import handle_errors, say
from pgtune.tuning.request import DEFAULT_WORKLOAD, TuningRequest, detect_hardware, resolve
from pgtune.tuning.sizing import Options
from pgtune.units import human_size


class OutputFormat(StrEnum):
    conf = "conf"
    json = "json"
    yaml = "yaml"
    sql = "sql"


class DetectFormat(StrEnum):
    table = "table"
    json = "json"


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="PostgreSQL data directory: its disk is inspected, its PG_VERSION read."
    ),
]
Memory = Annotated[
    str | None,
    typer.Option(
        "--memory", help="Usable memory, e.g. 16GB (default: detected, capped by cgroup limits)."
    ),
]
Cpus = Annotated[int | None, typer.Option("--cpus", help="CPU count (default: detected).")]
Storage = Annotated[
    str | None,
    typer.Option("--storage", help="hdd, ssd or nvme (default: detected under --data-dir)."),
]


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("generate")(generate)


@handle_errors
def detect(
    data_dir: DataDir = None,
    memory: Memory = None,
    cpus: Cpus = None,
    storage: Storage = None,
    output_format: Annotated[
        DetectFormat, typer.Option("--format", help="table or json.")
    ] = DetectFormat.table,
) -> None:
    """Show the hardware pgtune detects, and where each value came from."""
    hw = detect_hardware(
        TuningRequest(data_dir=data_dir, memory=memory, cpus=cpus, storage=storage)
    )
    if output_format is DetectFormat.json:
        typer.echo(
            json.dumps(
                {
                    "memory_bytes": hw.memory_bytes,
                    "memory_source": hw.memory_source,
                    "cpus": hw.cpus,
                    "cpus_source": hw.cpus_source,
                    "storage": hw.storage,
                    "storage_source": hw.storage_source,
                    "notes": list(hw.notes),
                },
                indent=2,
            )
        )
        return
    rows = [
        ("memory", human_size(hw.memory_bytes), hw.memory_source),
        ("cpus", str(hw.cpus), hw.cpus_source),
        ("storage", hw.storage, hw.storage_source),
    ]
    for name, value, source in rows:
        typer.echo(f"{name:<8} {value:<10} {source}")
    for note in hw.notes:
        typer.echo(f"note: {note}")


@handle_errors
def generate(
    data_dir: DataDir = None,
    memory: Memory = None,
    cpus: Cpus = None,
    storage: Storage = None,
    pg_version: Annotated[
        int | None,
        typer.Option(
            "--pg-version",
            help="PostgreSQL major version, 13-18 (default: from --data-dir, "
            "else the newest installed server, else 18).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="small, medium or large (default: picked from memory)."),
    ] = None,
    workload: Annotated[
        str, typer.Option("--workload", help="web, oltp, dw, mixed or desktop.")
    ] = DEFAULT_WORKLOAD,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            help="Connection limit (default: the workload's, fitted to "
            "memory). work_mem shrinks to fit it; pgtune fails if even 64kB cannot.",
        ),
    ] = None,
    ssl_cert: Annotated[
        str | None, typer.Option("--ssl-cert", help="Server certificate file: turns ssl on.")
    ] = None,
    ssl_key: Annotated[str | None, typer.Option("--ssl-key", help="Server key file.")] = None,
    ssl_ca: Annotated[
        str | None, typer.Option("--ssl-ca", help="CA file for client certificates.")
    ] = None,
    io_method: Annotated[
        str | None,
        typer.Option(
            "--io-method", help="PostgreSQL 18 io_method: worker (default), io_uring or sync."
        ),
    ] = None,
    wal_compression: Annotated[
        str | None,
        typer.Option(
            "--wal-compression",
            help="lz4, zstd, pglz, on or off (default: lz4 when the server build has it).",
        ),
    ] = None,
    pg_config: Annotated[
        Path | None,
        typer.Option(
            "--pg-config", help="pg_config of the target server, to read its build options."
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="A whole postgresql.conf instead of a conf.d include file."),
    ] = False,
    listen_addresses: Annotated[
        str, typer.Option("--listen-addresses", help="listen_addresses for --full.")
    ] = "localhost",
    port: Annotated[int, typer.Option("--port", help="port for --full.")] = 5432,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="conf, json, yaml or sql (ALTER SYSTEM).")
    ] = OutputFormat.conf,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write to this file (atomically) instead of stdout."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace an existing --output file, keeping a timestamped backup."
        ),
    ] = False,
    profiles_dir: Annotated[
        Path | None,
        typer.Option("--profiles-dir", help="Use profile and workload files from this directory."),
    ] = None,
    templates_dir: Annotated[
        Path | None, typer.Option("--templates-dir", help="Use templates from this directory.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Do not print the memory budget on stderr.")
    ] = False,
) -> None:
    """Print (or write) a tuned configuration for this machine; every value says why."""
    from pgtune.files import write_atomic
    from pgtune.tuning import render
    from pgtune.tuning.recommend import recommend

    request = TuningRequest(
        data_dir=data_dir,
        memory=memory,
        cpus=cpus,
        storage=storage,
        pg_version=pg_version,
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
            listen_addresses=listen_addresses,
            port=port,
        ),
    )
    resolved = resolve(request)
    rec = recommend(resolved.context)
    if output_format is OutputFormat.json:
        text = render.render_json(rec, resolved.sources)
    elif output_format is OutputFormat.yaml:
        text = render.render_yaml(rec, resolved.sources)
    elif output_format is OutputFormat.sql:
        text = render.render_sql(rec)
    else:
        text = render.render_conf(
            rec, full=full, templates_dir=templates_dir, sources=resolved.sources
        )

    if not quiet:
        say(f"pgtune: {rec.budget.summary()}")
        for note in rec.notes:
            say(f"pgtune: note: {note}")
    if output is None:
        typer.echo(text, nl=False)
        return
    backup = write_atomic(output, text, force=force)
    if not quiet:
        say(f"pgtune: wrote {output}" + (f" (previous file kept as {backup})" if backup else ""))
