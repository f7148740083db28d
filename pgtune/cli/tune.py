"""`pgtune detect` and `pgtune generate`: flags in, tuned configuration out."""

import json
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pgtune.cli.common import handle_errors, say
from pgtune.errors import UsageError
from pgtune.tuning.hba import hba_notes, parse_allow
from pgtune.tuning.request import (
    DEFAULT_WORKLOAD,
    TuningRequest,
    detect_hardware,
    pooler_options,
    resolve,
)
from pgtune.tuning.sizing import Options
from pgtune.units import human_size


class OutputFormat(StrEnum):
    conf = "conf"
    json = "json"
    yaml = "yaml"
    sql = "sql"
    patroni = "patroni"
    patroni_dcs = "patroni-dcs"
    cnpg = "cnpg"


class Emit(StrEnum):
    postgresql = "postgresql"
    pgbouncer = "pgbouncer"
    pgbouncer_auth_sql = "pgbouncer-auth-sql"
    hba = "hba"


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
DataSize = Annotated[
    str | None,
    typer.Option(
        "--data-size",
        help="Size of the databases, e.g. 40GB (default: measured under --data-dir); "
        "shared_buffers holds them when they fit in 40% of memory.",
    ),
]
WalDiskSize = Annotated[
    str | None,
    typer.Option(
        "--wal-disk-size",
        help="Space pg_wal may fill, e.g. 20GB (default: its filesystem under --data-dir); "
        "max_wal_size stays within 60% of it.",
    ),
]
Storage = Annotated[
    str | None,
    typer.Option("--storage", help="hdd, ssd or nvme (default: detected under --data-dir)."),
]
ProbeIo = Annotated[
    bool,
    typer.Option(
        "--probe-io",
        help="Measure the disk under --data-dir (else the current directory): about 3 s of "
        "random 8kB O_DIRECT reads of a 128MB temporary file, classified hdd/ssd/nvme by "
        "latency instead of sysfs (--storage still wins).",
    ),
]


# Formats whose output carries the notes (the conf's Notes section, the documents' `notes`): on
# stderr each note is then one line cut to NOTE_WIDTH, with a pointer to the full text.
NOTES_IN = frozenset(
    {
        OutputFormat.conf,
        OutputFormat.json,
        OutputFormat.yaml,
        OutputFormat.patroni,
        OutputFormat.patroni_dcs,
        OutputFormat.cnpg,
    }
)
NOTE_WIDTH = 100


def _say_notes(notes: tuple[str, ...], *, in_output: bool) -> None:
    cut = False
    for note in notes:
        line = "pgtune: note: " + " ".join(note.split())  # one line, whatever the note held
        if in_output and len(line) > NOTE_WIDTH:
            line, cut = line[: NOTE_WIDTH - 3].rstrip() + "...", True
        say(line)
    if cut:
        say("pgtune: the notes in full are in the output (-q: no diagnostics)")


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("generate")(generate)


@handle_errors
def detect(
    data_dir: DataDir = None,
    memory: Memory = None,
    cpus: Cpus = None,
    storage: Storage = None,
    data_size: DataSize = None,
    wal_disk_size: WalDiskSize = None,
    probe_io: ProbeIo = False,
    output_format: Annotated[
        DetectFormat, typer.Option("--format", help="table or json.")
    ] = DetectFormat.table,
) -> None:
    """Show the hardware pgtune detects, and where each value came from."""
    hw = detect_hardware(
        TuningRequest(
            data_dir=data_dir,
            memory=memory,
            cpus=cpus,
            storage=storage,
            data_size=data_size,
            wal_disk_size=wal_disk_size,
            probe_io=probe_io,
        )
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
                    "database_bytes": hw.database_bytes,
                    "database_source": hw.database_source,
                    "wal_disk_bytes": hw.wal_disk_bytes,
                    "wal_disk_source": hw.wal_disk_source,
                    "io_probe": hw.io_probe.as_dict() if hw.io_probe is not None else None,
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
        (
            "data",
            human_size(hw.database_bytes) if hw.database_bytes is not None else "-",
            hw.database_source,
        ),
        (
            "pg_wal",
            human_size(hw.wal_disk_bytes) if hw.wal_disk_bytes is not None else "-",
            hw.wal_disk_source,
        ),
    ]
    if hw.io_probe is not None:
        probed = hw.io_probe
        rows.append(("io probe", probed.storage or "-", probed.source))
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
    data_size: DataSize = None,
    wal_disk_size: WalDiskSize = None,
    probe_io: ProbeIo = False,
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
    pg_stat_statements: Annotated[
        bool,
        typer.Option(
            "--pg-stat-statements",
            help="Preload pg_stat_statements (per-query statistics; costs throughput on trivial "
            "high-rate queries; replaces shared_preload_libraries).",
        ),
    ] = False,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas",
            help="Streaming replicas this server feeds: sizes max_wal_senders, "
            "max_replication_slots and wal_keep_size (within pg_wal's disk), wal_level replica.",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            help="Partitions one query may plan over (the largest partitioned table): sizes "
            "max_locks_per_transaction (dw: 256 without it).",
        ),
    ] = None,
    pgbouncer: Annotated[
        bool,
        typer.Option(
            "--pgbouncer",
            help="PgBouncer in front: max_connections follows the pools, freeing memory for "
            "work_mem.",
        ),
    ] = False,
    database: Annotated[
        list[str] | None,
        typer.Option(
            "--database",
            help="pgbouncer [databases] entry NAME[=host=... dbname=...] (repeatable; "
            "default: '*' for the local server).",
        ),
    ] = None,
    users_per_database: Annotated[
        int, typer.Option("--users-per-database", help="Pools per database (distinct users).")
    ] = 1,
    pool_mode: Annotated[
        str, typer.Option("--pool-mode", help="transaction (default), session or statement.")
    ] = "transaction",
    pool_size: Annotated[
        int | None,
        typer.Option("--pool-size", help="default_pool_size (default: from CPUs and storage)."),
    ] = None,
    max_client_conn: Annotated[
        int, typer.Option("--max-client-conn", help="Client connections pgbouncer accepts.")
    ] = 1000,
    pgbouncer_version: Annotated[
        str | None,
        typer.Option(
            "--pgbouncer-version",
            help="Target pgbouncer, e.g. 1.21 (default: the installed one, else the newest).",
        ),
    ] = None,
    pgbouncer_listen: Annotated[
        str, typer.Option("--pgbouncer-listen", help="pgbouncer listen_addr.")
    ] = "127.0.0.1",
    pgbouncer_port: Annotated[
        int, typer.Option("--pgbouncer-port", help="pgbouncer listen_port.")
    ] = 6432,
    pgbouncer_socket_dir: Annotated[
        str, typer.Option("--pgbouncer-socket-dir", help="pgbouncer unix_socket_dir.")
    ] = "/var/run/postgresql",
    auth_user: Annotated[
        str, typer.Option("--auth-user", help="pgbouncer auth_user (the lookup role).")
    ] = "pgbouncer_auth",
    auth_file: Annotated[
        str, typer.Option("--auth-file", help="pgbouncer auth_file.")
    ] = "/etc/pgbouncer/userlist.txt",
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="pg_hba.conf: admit CIDR[:database[:user]] with SCRAM over TLS (repeatable).",
        ),
    ] = None,
    allow_plaintext: Annotated[
        bool,
        typer.Option("--allow-plaintext", help="pg_hba.conf: host instead of hostssl lines."),
    ] = False,
    admin_user: Annotated[
        str, typer.Option("--admin-user", help="pg_hba.conf: the local admin (peer).")
    ] = "postgres",
    emit: Annotated[
        Emit,
        typer.Option(
            "--emit",
            help="Which file: postgresql (default), pgbouncer (pgbouncer.ini), "
            "pgbouncer-auth-sql (auth_query function) or hba (pg_hba.conf).",
        ),
    ] = Emit.postgresql,
    hba: Annotated[bool, typer.Option("--hba", help="Same as --emit hba.")] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="A whole postgresql.conf instead of a conf.d include file."),
    ] = False,
    listen_addresses: Annotated[
        str | None,
        typer.Option(
            "--listen-addresses",
            help="listen_addresses for --full (default: the replaced file's, else localhost).",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="port for --full (default: the replaced file's, else 5432)."),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="conf, json, yaml, sql (ALTER SYSTEM), patroni (patroni.yml: bootstrap.dcs and "
            "local parameters), patroni-dcs (patronictl edit-config --apply) or cnpg "
            "(CloudNativePG Cluster spec.postgresql.parameters and spec.resources).",
        ),
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
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            help="A live server to tune (its version, build and data size are read from it); "
            "with --observe, sized from what it does too.",
        ),
    ] = None,
    observe: Annotated[
        str | None,
        typer.Option(
            "--observe",
            help="With --dsn: sample its statistics for this long (e.g. 5m) or use everything "
            "since their reset (since-reset), and size WAL, work_mem, connections, "
            "shared_buffers and per-table autovacuum from them.",
        ),
    ] = None,
) -> None:
    """Print (or write) a tuned configuration for this machine; every value says why."""
    from pgtune.files import check_output, write_atomic
    from pgtune.tuning import render
    from pgtune.tuning.recommend import recommend

    if hba:
        emit = Emit.hba
    if emit is not Emit.postgresql and output_format is not OutputFormat.conf:
        raise UsageError(f"--format {output_format.value} applies to --emit postgresql only")
    if output is not None:
        check_output(output, force=force)  # before any work or diagnostics, not after
    kept = None
    if full and emit is Emit.postgresql and output_format is OutputFormat.conf:
        from pgtune.tuning.conffile import Kept, read_kept

        # The file --full replaces says where the cluster's files are and which port it owns
        # (Debian's pg_createcluster clusters do not start without them): keep those lines.
        kept = Kept()
        if output is not None:
            kept = read_kept(
                output,
                ssl_given=ssl_cert is not None,
                port_given=port is not None,
                listen_given=listen_addresses is not None,
            )
        kept = kept.with_data_dir(data_dir, output)
    if port is None:
        port = kept.port if kept is not None and kept.port is not None else 5432
    if listen_addresses is None:
        listen_addresses = (kept.listen_addresses if kept is not None else None) or "localhost"
    pooler = None
    if pgbouncer or emit in (Emit.pgbouncer, Emit.pgbouncer_auth_sql):
        pooler = pooler_options(
            databases=database or [],
            users_per_database=users_per_database,
            pool_mode=pool_mode,
            pool_size=pool_size,
            max_client_conn=max_client_conn,
            version=pgbouncer_version,
            listen_addr=pgbouncer_listen,
            listen_port=pgbouncer_port,
            unix_socket_dir=pgbouncer_socket_dir,
            auth_user=auth_user,
            auth_file=auth_file,
            server_port=port,
        )
    request = TuningRequest(
        data_dir=data_dir,
        memory=memory,
        cpus=cpus,
        storage=storage,
        data_size=data_size,
        wal_disk_size=wal_disk_size,
        pg_version=pg_version,
        profile=profile,
        workload=workload,
        profiles_dir=profiles_dir,
        pg_config=pg_config,
        probe_io=probe_io,
        options=Options(
            max_connections=max_connections,
            ssl_cert=ssl_cert,
            ssl_key=ssl_key,
            ssl_ca=ssl_ca,
            io_method=io_method,
            wal_compression=wal_compression,
            listen_addresses=listen_addresses,
            port=port,
            pooler=pooler,
            pg_stat_statements=pg_stat_statements,
            replicas=replicas,
            partitions=partitions,
        ),
    )
    rules = [parse_allow(spec) for spec in allow or []]
    observed = None
    if observe is not None and dsn is None:
        raise UsageError("--observe needs --dsn: the server to observe")
    if dsn is not None:
        from pgtune.tuning.observe_run import run_observed, terminal_progress

        observed = run_observed(
            dsn,
            request,
            observe or "1s",
            progress=terminal_progress if sys.stderr.isatty() and not quiet else None,
        )
        rec, sources = observed.recommendation, observed.sources
    else:
        resolved = resolve(request)
        rec, sources = recommend(resolved.context), resolved.sources
    if emit is Emit.hba:
        text = render.render_hba(
            rules, admin_user=admin_user, plaintext=allow_plaintext, templates_dir=templates_dir
        )
        rec = replace(
            rec, notes=tuple(hba_notes(rules, plaintext=allow_plaintext, ssl=ssl_cert is not None))
        )
    elif emit is Emit.pgbouncer:
        text = render.render_pgbouncer_ini(rec, templates_dir)
    elif emit is Emit.pgbouncer_auth_sql:
        text = render.render_pgbouncer_auth_sql(rec)
    elif output_format is OutputFormat.json:
        text = render.render_json(rec, sources)
    elif output_format is OutputFormat.yaml:
        text = render.render_yaml(rec, sources)
    elif output_format is OutputFormat.sql:
        text = render.render_sql(rec)
    elif output_format in (OutputFormat.patroni, OutputFormat.patroni_dcs):
        from pgtune.tuning.managers import render_patroni

        text = render_patroni(rec, dcs=output_format is OutputFormat.patroni_dcs)
    elif output_format is OutputFormat.cnpg:
        from pgtune.tuning.managers import render_cnpg

        text = render_cnpg(rec)
    else:
        if kept is not None:
            kept = kept.for_version(rec.context.major, {s.name for s in rec.settings})
            rec = replace(rec, notes=(*rec.notes, *kept.notes()))
        text = render.render_conf(
            rec,
            full=full,
            templates_dir=templates_dir,
            sources=sources,
            kept=kept.settings if kept is not None else (),
            includes=kept.includes if kept is not None else (),
        )

    if emit is Emit.pgbouncer and not pgbouncer:
        # Not silenced by -q: a server sized without the pools would refuse pgbouncer's load.
        say(
            f"pgtune: warning: this pgbouncer.ini expects the server at max_connections = "
            f"{rec.get('max_connections').value}: generate the server's configuration with "
            "--pgbouncer and the same pool flags"
        )
    if not quiet:
        if emit is not Emit.hba:
            say(f"pgtune: {rec.budget.summary()}")
        _say_notes(rec.notes, in_output=emit is Emit.postgresql and output_format in NOTES_IN)
    if observed is not None and emit is Emit.postgresql:
        from pgtune.tuning.observe_run import decorate

        text = decorate(text, output_format.value, observed)
    if output is None:
        typer.echo(text, nl=False)
        return
    backup = write_atomic(output, text, force=force)
    if not quiet:
        say(f"pgtune: wrote {output}" + (f" (previous file kept as {backup})" if backup else ""))
