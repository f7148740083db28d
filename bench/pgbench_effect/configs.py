"""The three configurations the benchmark compares, and their modelled memory peaks.

* **a** ``stock``: what ``initdb`` writes, nothing added.
* **b** ``pgtune``: ``pgtune generate --format json --data-dir`` for this machine and the data
  loaded for the scale being measured (storage detected under the benchmark's data directory
  unless ``--storage`` is given, the database size measured there); every ``value`` goes into the
  include file unchanged.
* **c** ``PGTune``: the formulas of the PGTune web calculator (https://pgtune.leopard.in.ua),
  reimplemented from ``src/features/configuration/configurationSlice.js`` of le0pard/pgtune at
  commit ``7d204bdb87a83b9bbbafb354df1838b2be7870d9`` (the settings emitted follow
  ``src/common/components/configurationView/index.jsx`` at ``51a17a88``), with the same inputs
  as (b): memory in whole MB, CPUs, storage, the workload's default connections, Linux.

Every configuration gets a modelled peak from pgtune's own budget model
(:class:`pgtune.tuning.budget.Budget`), so the three are judged by one yardstick.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgtune.tuning.budget import AUXILIARY_PROCESSES, Budget
from pgtune.tuning.profiles import load_workload
from pgtune.tuning.sizing.memory import lock_table_per_backend
from pgtune.units import GB, KB, MB, human_size

PGTUNE_WEB_REPO = "le0pard/pgtune"
PGTUNE_WEB_COMMIT = "7d204bdb87a83b9bbbafb354df1838b2be7870d9"
PGTUNE_WEB_VERSION = f"{PGTUNE_WEB_REPO}@{PGTUNE_WEB_COMMIT[:8]} (configurationSlice.js)"

# PostgreSQL 15 defaults the model needs for settings a configuration leaves alone.
PG15_DEFAULTS = {
    "shared_buffers": 128 * MB,
    "maintenance_work_mem": 64 * MB,
    "work_mem": 4 * MB,
    "max_connections": 100,
    "max_parallel_workers": 8,
    "autovacuum_max_workers": 3,
    "hash_mem_multiplier": 2.0,
}
PRE17_VACUUM_CAP = 1 * GB  # VACUUM cannot use more than 1GB for dead tuples before PostgreSQL 17


@dataclass(frozen=True)
class Config:
    key: str  # a, b, c
    label: str
    settings: dict[str, str]  # name -> value as written in postgresql.conf
    budget: Budget
    notes: tuple[str, ...] = ()

    def conf_text(self) -> str:
        lines = [f"# pgbench_effect configuration {self.key}: {self.label}"]
        for name, value in self.settings.items():
            quoted = value.replace("'", "''")
            lines.append(f"{name} = '{quoted}'")
        return "\n".join(lines) + "\n"

    def fits(self) -> bool:
        return self.budget.peak <= self.budget.limit

    def peak_text(self) -> str:
        verdict = "within" if self.fits() else "OVER"
        return (
            f"{human_size(self.budget.peak)} ({verdict} the {human_size(self.budget.limit)} limit)"
        )


@dataclass(frozen=True)
class Inputs:
    """What pgtune detected (or was told); the same inputs go to PGTune's formulas."""

    memory_bytes: int
    cpus: int
    storage: str
    storage_source: str
    workload: str
    connections: int
    reserve_bytes: int
    profile: str


# --------------------------------------------------------------------------- (b) pgtune


def pgtune_json(
    pg_config: Path,
    data_dir: Path,
    workload: str,
    storage: str | None,
    pg_version: int = 15,
    extra: Sequence[str] = (),
    timeout: float = 120,
) -> dict[str, Any]:
    """``pgtune generate --format json -q`` for the benchmark's data directory (``extra``: more
    arguments, e.g. ``--dsn DSN --observe 30s``)."""
    argv = [
        sys.executable,
        "-m",
        "pgtune",
        "generate",
        "--format",
        "json",
        "-q",
        "--pg-config",
        str(pg_config),
        "--pg-version",
        str(pg_version),
        "--data-dir",
        str(data_dir),
        "--workload",
        workload,
    ]
    if storage:
        argv += ["--storage", storage]
    argv += extra
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"pgtune generate exited {proc.returncode}: {proc.stderr.strip()}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def pgtune_database(inputs: Mapping[str, Any], detail: bool = False) -> str:
    """The database size in pgtune's inputs, as pgtune reports it (``detail``: with its source).

    >>> doc_inputs = {"database": "1.5 GB", "database_source": "measured under /d/base"}
    >>> pgtune_database(doc_inputs), pgtune_database(doc_inputs, detail=True)
    ('1.5 GB', '1.5 GB (measured under /d/base)')
    >>> pgtune_database({"database": None, "database_source": "not measured: no /d/base"})
    'not measured: no /d/base'
    >>> pgtune_database({})
    'not measured (this pgtune has no database size)'
    """
    size, source = inputs.get("database"), inputs.get("database_source")
    if size is None:
        return str(source) if source else "not measured (this pgtune has no database size)"
    return f"{size} ({source})" if detail and source else str(size)


def pgtune_config(doc: Mapping[str, Any]) -> tuple[Config, Inputs]:
    inputs = doc["inputs"]
    budget_doc = doc["budget"]
    settings = {name: str(entry["value"]) for name, entry in doc["settings"].items()}
    wl = load_workload(inputs["workload"])

    def setting(name: str) -> int:
        return int(doc["settings"][name]["setting"])

    unit_bytes = {"8kB": 8 * KB, "kB": KB, "MB": MB, None: 1}

    def size(name: str) -> int:
        entry = doc["settings"][name]
        return int(entry["setting"]) * unit_bytes[entry["unit"]]

    budget = Budget(
        usable=int(budget_doc["usable_bytes"]),
        reserve=int(budget_doc["reserve_bytes"]),
        shared_buffers=size("shared_buffers"),
        wal_buffers=size("wal_buffers"),
        maintenance_work_mem=size("maintenance_work_mem"),
        autovacuum_workers=setting("autovacuum_max_workers"),
        autovacuum_work_mem=size("autovacuum_work_mem"),
        connections=setting("max_connections"),
        parallel_workers=setting("max_parallel_workers"),
        other_processes=AUXILIARY_PROCESSES,
        work_mem=size("work_mem"),
        hash_mem_multiplier=float(doc["settings"]["hash_mem_multiplier"]["setting"]),
        operations_per_query=wl.operations_per_query,
        active_bound=budget_doc.get("active_bound"),
        parallel_per_gather=budget_doc.get("parallel_per_gather"),
        page_tables_per_process=int(budget_doc.get("page_tables_per_process", 0)),
        jit=doc["settings"].get("jit", {}).get("setting") == "on",
        lock_table_per_backend=lock_table_per_backend(
            int(doc["settings"].get("max_locks_per_transaction", {"setting": 64})["setting"])
        ),
    )
    if budget.peak != int(budget_doc["peak_bytes"]):  # the rebuilt model must be pgtune's own
        raise RuntimeError(
            f"rebuilt budget {budget.peak} differs from pgtune's {budget_doc['peak_bytes']}"
        )
    inp = Inputs(
        memory_bytes=int(inputs["memory_bytes"]),
        cpus=int(inputs["cpus"]),
        storage=str(inputs["storage"]),
        storage_source=str(inputs["storage_source"]),
        workload=str(inputs["workload"]),
        connections=setting("max_connections"),
        reserve_bytes=int(budget_doc["reserve_bytes"]),
        profile=str(inputs["profile"]),
    )
    label = f"pgtune {inputs['workload']} ({inputs['storage']})"
    return Config("b", label, settings, budget, tuple(doc.get("notes", ()))), inp


# --------------------------------------------------------------------------- (a) stock


def stock_config(inp: Inputs) -> Config:
    sb = PG15_DEFAULTS["shared_buffers"]
    budget = Budget(
        usable=inp.memory_bytes,
        reserve=inp.reserve_bytes,
        shared_buffers=int(sb),
        wal_buffers=min(16 * MB, int(sb) // 32),  # wal_buffers = -1: 1/32 of shared_buffers
        maintenance_work_mem=int(PG15_DEFAULTS["maintenance_work_mem"]),
        autovacuum_workers=int(PG15_DEFAULTS["autovacuum_max_workers"]),
        autovacuum_work_mem=int(PG15_DEFAULTS["maintenance_work_mem"]),
        connections=int(PG15_DEFAULTS["max_connections"]),
        parallel_workers=int(PG15_DEFAULTS["max_parallel_workers"]),
        other_processes=AUXILIARY_PROCESSES,
        work_mem=int(PG15_DEFAULTS["work_mem"]),
        hash_mem_multiplier=float(PG15_DEFAULTS["hash_mem_multiplier"]),
        operations_per_query=load_workload(inp.workload).operations_per_query,
    )
    return Config("a", "stock PostgreSQL 15", {}, budget)


# --------------------------------------------------------------------------- (c) PGTune web


def _format_kb(kb: int) -> str:
    """PGTune's formatValue: the largest unit without loss of resolution."""
    if kb % (1024 * 1024) == 0:
        return f"{kb // (1024 * 1024)}GB"
    if kb % 1024 == 0:
        return f"{kb // 1024}MB"
    return f"{kb}kB"


def pgtune_web_settings(
    memory_mb: int,
    cpus: int,
    storage: str,
    workload: str,
    connections: int | None = None,
    db_version: int = 15,
) -> dict[str, str]:
    """PGTune's output (Linux) for the inputs, in the order its page prints them.

    >>> s = pgtune_web_settings(24 * 1024, 2, "ssd", "web")
    >>> s["shared_buffers"], s["effective_cache_size"], s["maintenance_work_mem"]
    ('6GB', '18GB', '1536MB')
    >>> s["work_mem"], s["wal_buffers"], s["max_wal_size"], "max_worker_processes" in s
    ('30247kB', '16MB', '4GB', False)
    """
    total_kb = memory_mb * 1024
    desktop, dw = workload == "desktop", workload == "dw"
    max_conn = (
        connections or {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}[workload]
    )
    shared_buffers = total_kb // 16 if desktop else total_kb // 4
    effective_cache = total_kb // 4 if desktop else total_kb * 3 // 4
    maintenance = total_kb // 8 if dw else total_kb // 16
    maintenance = min(maintenance, 2 * 1024 * 1024)  # capped at 2GB
    wal_min_mb, wal_max_mb = {
        "web": (1024, 4096),
        "oltp": (2048, 8192),
        "dw": (4096, 16384),
        "desktop": (100, 2048),
        "mixed": (1024, 4096),
    }[workload]
    wal_buffers = min(3 * shared_buffers // 100, 16 * 1024)
    if 14 * 1024 < wal_buffers < 16 * 1024:
        wal_buffers = 16 * 1024
    wal_buffers = max(wal_buffers, 32)
    random_page_cost = {"hdd": "4", "ssd": "1.1", "nvme": "1.1", "san": "1.1"}[storage]
    io_concurrency = {"hdd": "2", "ssd": "200", "nvme": "200", "san": "300"}[storage]

    parallel: dict[str, int] = {}
    if cpus >= 4:
        per_gather = math.ceil(cpus / 2)
        if not dw:
            per_gather = min(per_gather, 4)
        parallel = {"max_worker_processes": cpus, "max_parallel_workers_per_gather": per_gather}
        if db_version >= 10:
            parallel["max_parallel_workers"] = cpus
        if db_version >= 11:
            parallel["max_parallel_maintenance_workers"] = min(math.ceil(cpus / 2), 4)
    workers_for_work_mem = parallel.get("max_worker_processes", 8)
    per_conn = (total_kb - shared_buffers) / ((max_conn + workers_for_work_mem) * 3)
    divisor = {"web": 1, "oltp": 1, "dw": 2, "desktop": 6, "mixed": 2}[workload]
    work_mem = max(64, math.floor(per_conn / divisor))

    out = {
        "max_connections": str(max_conn),
        "shared_buffers": _format_kb(shared_buffers),
        "effective_cache_size": _format_kb(effective_cache),
        "maintenance_work_mem": _format_kb(maintenance),
        "checkpoint_completion_target": "0.9",
        "wal_buffers": _format_kb(wal_buffers),
        "default_statistics_target": "500" if dw else "100",
        "random_page_cost": random_page_cost,
        "effective_io_concurrency": io_concurrency,
        "work_mem": _format_kb(work_mem),
        # selectHugePages: 'try' from 32GB, 'off' below (a no-op here: no huge pages reserved)
        "huge_pages": "try" if total_kb >= 33554432 else "off",
        "min_wal_size": _format_kb(wal_min_mb * 1024),
        "max_wal_size": _format_kb(wal_max_mb * 1024),
    }
    out.update({k: str(v) for k, v in parallel.items()})
    if desktop:
        out.update({"wal_level": "minimal", "max_wal_senders": "0"})
    return out


def _kb(value: str) -> int:
    for suffix, factor in (("GB", 1024 * 1024), ("MB", 1024), ("kB", 1)):
        if value.endswith(suffix):
            return int(value[: -len(suffix)]) * factor
    raise ValueError(value)


def pgtune_web_config(inp: Inputs) -> Config:
    memory_mb = inp.memory_bytes // MB
    settings = pgtune_web_settings(memory_mb, inp.cpus, inp.storage, inp.workload)
    maintenance = _kb(settings["maintenance_work_mem"]) * KB
    budget = Budget(
        usable=inp.memory_bytes,
        reserve=inp.reserve_bytes,
        shared_buffers=_kb(settings["shared_buffers"]) * KB,
        wal_buffers=_kb(settings["wal_buffers"]) * KB,
        maintenance_work_mem=maintenance,
        autovacuum_workers=int(PG15_DEFAULTS["autovacuum_max_workers"]),
        # autovacuum_work_mem = -1 uses maintenance_work_mem, which VACUUM caps at 1GB before 17
        autovacuum_work_mem=min(maintenance, PRE17_VACUUM_CAP),
        connections=int(settings["max_connections"]),
        parallel_workers=int(
            settings.get("max_parallel_workers", PG15_DEFAULTS["max_parallel_workers"])
        ),
        other_processes=AUXILIARY_PROCESSES,
        work_mem=_kb(settings["work_mem"]) * KB,
        hash_mem_multiplier=float(PG15_DEFAULTS["hash_mem_multiplier"]),
        operations_per_query=load_workload(inp.workload).operations_per_query,
    )
    notes = (
        f"PGTune inputs: {memory_mb} MB, {inp.cpus} CPUs, {inp.storage}, {inp.workload}, "
        f"Linux, PostgreSQL 15, connections left to its {inp.workload} default",
        f"formulas: {PGTUNE_WEB_VERSION}",
    )
    return Config("c", f"PGTune {inp.workload} ({inp.storage})", settings, budget, notes)


def storage_planner_settings(storage: str) -> dict[str, str]:
    """The planner/prefetch settings both tools derive from the storage class (session-settable).

    pgtune's profiles/storage.yaml and PGTune agree on these two for hdd and ssd.
    """
    return {
        "random_page_cost": "4" if storage == "hdd" else "1.1",
        "effective_io_concurrency": "2" if storage == "hdd" else "200",
    }
