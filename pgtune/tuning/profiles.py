"""Hardware profiles, workloads and storage classes: data files in profiles/, validated on load."""

from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from pgtune import yamlcache
from pgtune.errors import DataError, PgtuneError
from pgtune.resources import shipped_dir
from pgtune.tuning.hardware import STORAGE_CLASSES, StorageClass
from pgtune.units import parse_duration_ms, parse_size

PROFILE_NAMES = ("small", "medium", "large")
WORKLOAD_NAMES = ("web", "oltp", "dw", "mixed", "desktop")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    max_memory: int | None
    os_reserve_fraction: float
    os_reserve_min: int
    maintenance_work_mem_max: int
    autovacuum_max_workers: int
    min_wal_size: int
    max_wal_size: int
    checkpoint_timeout: int  # ms


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    max_connections: int
    active_sessions_per_cpu: float
    shared_buffers_fraction: float
    effective_cache_size_fraction: float
    operations_per_query: int
    work_mem_min: int
    work_mem_max: int
    parallel_per_gather_max: int
    default_statistics_target: int
    jit: bool
    idle_in_transaction_timeout: int  # ms
    log_min_duration_statement: int  # ms
    autovacuum_vacuum_scale_factor: float
    autovacuum_analyze_scale_factor: float
    wal_size_factor: float
    replication: bool
    # Keys added later are optional, so a --profiles-dir copy made before them still loads.
    bgwriter: bool = False  # write-heavy: the background writer is sized (sizing/bgwriter.py)
    max_locks_per_transaction: int = 64  # PostgreSQL's default


@dataclass(frozen=True)
class StorageTraits:
    name: StorageClass
    random_page_cost: float
    effective_io_concurrency: int
    maintenance_io_concurrency: int
    autovacuum_vacuum_cost_limit: int
    io_workers_per_cpu: float
    # what the background writer may write per second for a write-heavy workload (bytes)
    bgwriter_write_rate: int = 64 * 1024 * 1024


def default_dir() -> Path:
    return shipped_dir("profiles")


def _read(directory: Path, filename: str) -> dict[str, Any]:
    path = directory / filename
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise DataError(f"cannot read profile file {str(path)!r}") from None
    try:
        data = yamlcache.safe_load(text)  # parsed once per content: no yaml import on reruns
    except yamlcache.MalformedYAML as exc:
        where = f" line {exc.line}" if exc.line is not None else ""
        raise DataError(f"malformed YAML in {str(path)!r}{where}") from None
    if not isinstance(data, dict):
        raise DataError(f"{str(path)!r} must hold a mapping of keys to values")
    return data


_CONVERTERS: dict[str, Any] = {
    "max_memory": lambda v: None if v is None else parse_size(str(v)),
    "os_reserve_min": lambda v: parse_size(str(v)),
    "maintenance_work_mem_max": lambda v: parse_size(str(v)),
    "min_wal_size": lambda v: parse_size(str(v)),
    "max_wal_size": lambda v: parse_size(str(v)),
    "work_mem_min": lambda v: parse_size(str(v)),
    "work_mem_max": lambda v: parse_size(str(v)),
    "checkpoint_timeout": parse_duration_ms,
    "idle_in_transaction_timeout": parse_duration_ms,
    "log_min_duration_statement": parse_duration_ms,
    "bgwriter_write_rate": lambda v: parse_size(str(v)),
}
_TYPES = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}


def _check_type(value: Any, kind: Any, where: str) -> Any:
    allowed = _TYPES.get(kind, (object,))
    if not isinstance(value, allowed) or (kind is not bool and isinstance(value, bool)):
        raise DataError(f"{where} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _build(cls: type[Any], data: dict[str, Any], source: str) -> Any:
    """Check the keys and types of one entry and build the dataclass; errors name file and key."""
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise DataError(f"{source}: unknown key {unknown[0]!r}")
    values: dict[str, Any] = {}
    for field in fields(cls):
        if field.name not in data:
            if field.default is not MISSING:
                continue  # an optional key: the dataclass default applies
            raise DataError(f"{source}: missing key {field.name!r}")
        raw = data[field.name]
        convert = _CONVERTERS.get(field.name)
        try:
            values[field.name] = (
                convert(raw)
                if convert
                else _check_type(raw, field.type, f"{source}: {field.name!r}")
            )
        except DataError:
            raise
        except PgtuneError as exc:
            raise DataError(f"{source}: bad value for {field.name!r}: {exc}") from None
    return cls(**values)


def load_profile(name: str, directory: Path | None = None) -> Profile:
    directory = directory or default_dir()
    data = _read(directory, f"{name}.yaml")
    profile: Profile = _build(Profile, data, f"{name}.yaml")
    if profile.name != name:
        raise DataError(f"{name}.yaml: 'name' is {profile.name!r}, expected {name!r}")
    return profile


def load_profiles(directory: Path | None = None) -> list[Profile]:
    """All three profiles, smallest first."""
    return [load_profile(name, directory) for name in PROFILE_NAMES]


def pick_profile(memory_bytes: int, profiles: list[Profile]) -> Profile:
    """The first profile whose max_memory covers the usable memory (the last has no bound)."""
    for profile in profiles:
        if profile.max_memory is None or memory_bytes <= profile.max_memory:
            return profile
    return profiles[-1]


def load_workload(name: str, directory: Path | None = None) -> Workload:
    data = _read(directory or default_dir(), "workloads.yaml")
    if name not in data:
        raise DataError(f"workloads.yaml has no workload {name!r}")
    entry = data[name]
    if not isinstance(entry, dict):
        raise DataError(f"workloads.yaml: {name!r} must be a mapping")
    workload: Workload = _build(Workload, {**entry, "name": name}, f"workloads.yaml[{name}]")
    return workload


def load_storage(name: StorageClass, directory: Path | None = None) -> StorageTraits:
    data = _read(directory or default_dir(), "storage.yaml")
    if name not in data or not isinstance(data[name], dict):
        raise DataError(f"storage.yaml has no storage class {name!r} (expected {STORAGE_CLASSES})")
    traits: StorageTraits = _build(
        StorageTraits, {**data[name], "name": name}, f"storage.yaml[{name}]"
    )
    return traits
