"""Sizing rules: pure functions from the tuning context to decisions, one module per family.

A decision's value is in pgtune's canonical units: memory in bytes, durations in milliseconds;
numbers, booleans and strings as they are. settings.py turns them into PostgreSQL's units.
"""

from dataclasses import dataclass, field

from pgtune.tuning.hardware import Hardware
from pgtune.tuning.pooling import PoolerOptions
from pgtune.tuning.profiles import Profile, StorageTraits, Workload
from pgtune.tuning.server import UNKNOWN, ServerBuild
from pgtune.versions import VersionFacts

Value = int | float | bool | str


@dataclass(frozen=True)
class Decision:
    name: str
    value: Value
    reason: str


@dataclass(frozen=True)
class Options:
    """What the user asked for beyond hardware, profile and workload."""

    max_connections: int | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    ssl_ca: str | None = None
    io_method: str | None = None
    wal_compression: str | None = None
    listen_addresses: str = "localhost"
    port: int = 5432
    pooler: PoolerOptions | None = None  # pgbouncer in front
    pg_stat_statements: bool = False  # preload it (shared_preload_libraries)
    replicas: int | None = None  # streaming replicas to serve (None: not said)
    partitions: int | None = None  # partitions one query plans over (max_locks_per_transaction)


@dataclass(frozen=True)
class Context:
    hardware: Hardware
    profile: Profile
    workload: Workload
    storage: StorageTraits
    facts: VersionFacts
    options: Options = field(default_factory=Options)
    build: ServerBuild = UNKNOWN

    @property
    def memory(self) -> int:
        return self.hardware.memory_bytes

    @property
    def cpus(self) -> int:
        return self.hardware.cpus

    @property
    def major(self) -> int:
        return self.facts.major
