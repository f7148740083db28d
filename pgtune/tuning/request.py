"""From what the user asked (flags) to a complete tuning context: detection, overrides,
profile and workload choice, version. Shared by `generate` and, later, `check`.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pgtune.errors import UsageError
from pgtune.tuning import hardware, profiles, server
from pgtune.tuning.hardware import STORAGE_CLASSES, StorageClass
from pgtune.tuning.pooling import PGBOUNCER_NEWEST, PoolerOptions, parse_database
from pgtune.tuning.sizing import Context, Options
from pgtune.units import MB, parse_size
from pgtune.versions import check_major, detect_major, version_facts

MEMORY_MIN = 256 * MB
WAL_DISK_MIN = 128 * MB
CPUS_MAX = 4096
REPLICAS_MAX = 1000
PARTITIONS_MAX = 1_000_000  # 2 locks each stays far within max_locks_per_transaction's range
DEFAULT_WORKLOAD = "mixed"


@dataclass(frozen=True)
class TuningRequest:
    data_dir: Path | None = None
    memory: str | None = None
    cpus: int | None = None
    storage: str | None = None
    data_size: str | None = None  # the databases' size (default: measured under data_dir)
    wal_disk_size: str | None = None  # the space pg_wal may fill (default: statvfs of pg_wal)
    pg_version: int | None = None
    profile: str | None = None
    workload: str = DEFAULT_WORKLOAD
    profiles_dir: Path | None = None
    pg_config: Path | None = None
    options: Options = field(default_factory=Options)
    probe_io: bool = False  # measure the data directory's disk (ioprobe.py)


@dataclass(frozen=True)
class Resolved:
    context: Context
    sources: dict[str, str]  # where pg_version and profile came from


def parse_memory(text: str) -> int:
    value = parse_size(text)
    if value < MEMORY_MIN:
        raise UsageError(f"--memory {text!r} is too small: PostgreSQL needs at least 256MB here")
    return value


def parse_cpus(cpus: int) -> int:
    if not 1 <= cpus <= CPUS_MAX:
        raise UsageError(f"--cpus {cpus!r} must be between 1 and {CPUS_MAX}")
    return cpus


def parse_data_size(text: str) -> int:
    try:
        return parse_size(text)
    except UsageError as exc:
        raise UsageError(f"--data-size: {exc}") from None


def parse_wal_disk_size(text: str) -> int:
    try:
        value = parse_size(text)
    except UsageError as exc:
        raise UsageError(f"--wal-disk-size: {exc}") from None
    if value < WAL_DISK_MIN:
        raise UsageError(
            f"--wal-disk-size {text!r} is too small: WAL needs at least 128MB (a few 16MB segments)"
        )
    return value


def parse_storage(text: str) -> StorageClass:
    for name in STORAGE_CLASSES:
        if text.lower() == name:
            return name
    raise UsageError(f"invalid --storage {text!r}: choose one of {', '.join(STORAGE_CLASSES)}")


def detect_hardware(req: TuningRequest) -> hardware.Hardware:
    """Detect what the flags do not give; flags win and are recorded as the source."""
    memory = parse_memory(req.memory) if req.memory is not None else None
    cpus = parse_cpus(req.cpus) if req.cpus is not None else None
    storage = parse_storage(req.storage) if req.storage is not None else None
    data_size = parse_data_size(req.data_size) if req.data_size is not None else None
    wal_disk = parse_wal_disk_size(req.wal_disk_size) if req.wal_disk_size is not None else None
    hw = hardware.detect(req.data_dir)
    if req.probe_io:
        hw = _probed(hw, req.data_dir, given=storage is not None)
    if storage is not None:
        # A detection note about the disk no longer applies once the user said what it is.
        hw = hardware.with_overrides(hw, storage=storage)
        hw = replace(hw, notes=tuple(n for n in hw.notes if "--storage" not in n))
    if data_size is not None:
        hw = replace(hw, notes=tuple(n for n in hw.notes if "--data-size" not in n))
    return hardware.with_overrides(
        hw, memory=memory, cpus=cpus, database=data_size, wal_disk=wal_disk
    )


def _probed(hw: hardware.Hardware, data_dir: Path | None, *, given: bool) -> hardware.Hardware:
    """The storage class measured by --probe-io replaces sysfs's guess (a flag still wins)."""
    from pgtune.tuning.ioprobe import probe

    try:
        where = data_dir if data_dir is not None else Path.cwd()
    except OSError:
        where = Path("/")
    result = probe(where)
    hw = replace(hw, io_probe=result)
    if given:
        return replace(hw, notes=(*hw.notes, f"--probe-io: {result.source} (--storage wins)"))
    if result.storage is None:
        note = f"--probe-io: {result.source}; the storage class from sysfs is kept"
        return replace(hw, notes=(*hw.notes, note))
    # what sysfs guessed (a virtual disk, an unknown device) no longer matters
    notes = tuple(n for n in hw.notes if "--storage" not in n)
    source = f"--probe-io of {result.path}: {result.verdict}"
    return replace(hw, storage=result.storage, storage_source=source, notes=notes)


def resolve(req: TuningRequest) -> Resolved:
    if req.profile is not None and req.profile not in profiles.PROFILE_NAMES:
        raise UsageError(
            f"unknown profile {req.profile!r}: choose one of {', '.join(profiles.PROFILE_NAMES)}"
        )
    if req.workload not in profiles.WORKLOAD_NAMES:
        raise UsageError(
            f"unknown workload {req.workload!r}: choose one of {', '.join(profiles.WORKLOAD_NAMES)}"
        )
    if req.pg_version is not None:
        major, major_source = check_major(req.pg_version), "--pg-version"
    else:
        major, major_source = detect_major(req.data_dir)
    opts = req.options
    if opts.max_connections is not None and not 4 <= opts.max_connections <= 262143:
        raise UsageError(
            f"--max-connections {opts.max_connections!r} must be 4 to 262143 "
            "(3 are reserved for superusers)"
        )
    if opts.replicas is not None and not 0 <= opts.replicas <= REPLICAS_MAX:
        raise UsageError(f"--replicas {opts.replicas!r} must be 0 to {REPLICAS_MAX}")
    if opts.partitions is not None and not 1 <= opts.partitions <= PARTITIONS_MAX:
        raise UsageError(f"--partitions {opts.partitions!r} must be 1 to {PARTITIONS_MAX}")
    if bool(opts.ssl_cert) != bool(opts.ssl_key):
        raise UsageError("--ssl-cert and --ssl-key go together")

    hw = detect_hardware(req)
    if req.profile is not None:
        profile = profiles.load_profile(req.profile, req.profiles_dir)
        profile_source = "--profile"
    else:
        profile = profiles.pick_profile(hw.memory_bytes, profiles.load_profiles(req.profiles_dir))
        profile_source = "picked from memory"
    # The build matters only for lz4/zstd WAL compression (15+) and io_uring; asking pg_config
    # costs two subprocesses, so skip it when nothing depends on it.
    needs_build = (
        req.pg_config is not None
        or (major >= 15 and opts.wal_compression is None)
        or opts.io_method == "io_uring"
        or opts.ssl_cert is not None
    )
    build = server.detect_build(major, req.pg_config) if needs_build else server.UNKNOWN
    ctx = Context(
        hardware=hw,
        profile=profile,
        workload=profiles.load_workload(req.workload, req.profiles_dir),
        storage=profiles.load_storage(hw.storage, req.profiles_dir),
        facts=version_facts(major),
        options=opts,
        build=build,
    )
    sources = {
        "pg_version_source": major_source,
        "profile_source": profile_source,
        "server_build_source": build.source,
    }
    return Resolved(ctx, sources)


def pooler_options(
    *,
    databases: list[str],
    server_port: int = 5432,
    version: str | None = None,
    users_per_database: int = 1,
    pool_size: int | None = None,
    max_client_conn: int | None = None,
    pool_mode: str | None = None,
    listen_addr: str | None = None,
    listen_port: int | None = None,
    unix_socket_dir: str | None = None,
    auth_user: str | None = None,
    auth_file: str | None = None,
) -> PoolerOptions:
    """pgbouncer flags → PoolerOptions (None = PoolerOptions' default): the target version
    (flag, installed, newest) and the file-descriptor limit of this host."""
    import resource

    if version is not None:
        parsed = server.parse_pgbouncer_version(version)
        if parsed is None:
            raise UsageError(f"invalid --pgbouncer-version {version!r}: use e.g. 1.21")
        target, source = parsed, "--pgbouncer-version"
    else:
        installed = server.installed_pgbouncer_version()
        if installed is not None:
            target, source = installed, "installed pgbouncer"
        else:
            target, source = PGBOUNCER_NEWEST, "newest supported (override: --pgbouncer-version)"
    for name, value in (
        ("--users-per-database", users_per_database),
        ("--max-client-conn", max_client_conn),
        ("--pool-size", pool_size),
    ):
        if value is not None and value < 1:
            raise UsageError(f"{name} {value!r} must be at least 1")
    given: dict[str, Any] = {
        "max_client_conn": max_client_conn,
        "pool_mode": pool_mode,
        "listen_addr": listen_addr,
        "listen_port": listen_port,
        "unix_socket_dir": unix_socket_dir,
        "auth_user": auth_user,
        "auth_file": auth_file,
    }
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return replace(
        PoolerOptions(),
        **{k: v for k, v in given.items() if v is not None},
        version=target,
        version_source=source,
        databases=tuple(parse_database(d, server_port) for d in databases),
        users_per_database=users_per_database,
        pool_size=pool_size,
        fd_limit=None if soft == resource.RLIM_INFINITY else soft,
    )
