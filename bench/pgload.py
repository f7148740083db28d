"""A PostgreSQL 15 cluster served with one configuration after another, and the load measured on
it: pgbench runs, the analytic query set, and what happened meanwhile.

The cluster lives on the real disk (``$PGTUNE_PG_TMPDIR``, default /var/tmp: the page cache must
matter, /dev/shm would make I/O free), run by the harness of ``tests/pgcluster.py``; a
configuration is its include file, applied by a restart (:func:`switch`). Every measurement
records, besides its headline figure, the signals that separate configurations on a noisy 2-core
machine (see /work/shared/BENCHMARKING.md): WAL bytes, requested and timed checkpoints, the
shared-buffer hit ratio, temporary files, autovacuum activity, CPU time of the server and of the
client, and the CPU that *other* processes used (``common.LoadMeter``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import psycopg
from common import BenchError, Load, LoadMeter, Quiet, Retries, measure_quiet, server_cpu

import pgcluster
from pgcluster import SUPERUSER, Cluster, PgBinaries, check_accessible
from pgtune.units import human_size

DEFAULT_TMPDIR = "/var/tmp"
CONF_NAME = "pgtune.conf"  # the harness's include file (conf.d/pgtune.conf)
# Used while pgbench -i loads data (not measured): no checkpoints in the middle of the load.
LOAD_CONF = "maintenance_work_mem = '1GB'\nmax_wal_size = '16GB'\ncheckpoint_timeout = '30min'\n"
LOAD_SETTINGS = {"maintenance_work_mem", "max_wal_size", "checkpoint_timeout"}


def load_options(p: argparse.ArgumentParser) -> None:
    """The options of the load every pgbench benchmark runs."""
    p.add_argument("--warmup", type=int, default=10, help="read-write warm-up seconds (10)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=2, help="timed runs of each analytic query (2)")
    p.add_argument("--storage", help="override pgtune's storage detection (hdd, ssd, nvme)")


# --------------------------------------------------------------------------- the cluster


def prepare_tmpdir() -> str:
    """Clusters go under ``$PGTUNE_PG_TMPDIR`` (default /var/tmp, on the real disk)."""
    tmp = os.environ.setdefault(pgcluster.TMPDIR_ENV, DEFAULT_TMPDIR)
    pgcluster.cluster_tmpdir.cache_clear()
    return tmp


@contextmanager
def pg15(clients: int, threads: int, conf: str = LOAD_CONF) -> Iterator[Pgbench]:
    """A new PostgreSQL 15 cluster started with ``conf`` as its include file, and pgbench for
    it (``.cluster``); removed at the end."""
    prepare_tmpdir()
    binaries = PgBinaries.for_major(15)
    check_accessible(binaries)
    cluster = Cluster(binaries)
    try:
        cluster.initdb()
        cluster.write_conf(conf, mode="include")
        cluster.start(timeout=300)
        yield Pgbench(binaries.exe("pgbench"), cluster, clients, threads)
    finally:
        cluster.cleanup()


def switch(cluster: Cluster, text: str, expect: set[str]) -> None:
    """Restart with ``text`` as the include file; check the server took exactly ``expect``."""
    cluster.stop(timeout=900)
    cluster.write_conf(text, mode="include")
    cluster.start(timeout=300)
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT name, pending_restart FROM pg_catalog.pg_settings WHERE sourcefile LIKE %s",
            [f"%/{CONF_NAME}"],
        ).fetchall()
    applied = {name.lower() for name, _ in rows}
    pending = [name for name, p in rows if p]
    if applied != {n.lower() for n in expect} or pending:
        raise BenchError(
            f"the server did not apply the configuration: missing "
            f"{sorted({n.lower() for n in expect} - applied)}, pending restart {pending}"
        )


def db_size(cluster: Cluster) -> int:
    with cluster.connect() as conn:
        row = conn.execute("SELECT pg_catalog.pg_database_size('postgres')").fetchone()
    assert row is not None
    return int(row[0])


def load_data(bench: Pgbench, scale: int) -> tuple[float, int]:
    """``pgbench -i -s scale`` and a CHECKPOINT: (seconds pgbench -i took, database bytes)."""
    init_s = bench.init(scale)
    with bench.cluster.connect() as conn:
        conn.execute("CHECKPOINT")
    return init_s, db_size(bench.cluster)


def warm_up(bench: Pgbench, seconds: int) -> None:
    """A discarded read-write run (it also vacuums branches and tellers and truncates the
    history); with no seconds, only that vacuum and truncation."""
    if seconds:
        bench.run("rw", seconds, vacuum=True)
    else:
        with bench.cluster.connect() as conn:
            conn.execute("VACUUM pgbench_branches, pgbench_tellers")
            conn.execute("TRUNCATE pgbench_history")


# --------------------------------------------------------------------------- server statistics

STATS_SQL = """
SELECT pg_catalog.pg_current_wal_lsn()::text,
       b.checkpoints_timed, b.checkpoints_req, b.buffers_checkpoint, b.buffers_clean,
       b.buffers_backend, b.checkpoint_write_time, b.checkpoint_sync_time,
       d.xact_commit, d.blks_read, d.blks_hit, d.temp_files, d.temp_bytes,
       (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)::bigint
          FROM pg_catalog.pg_stat_user_tables WHERE relname LIKE 'pgbench%%')
  FROM pg_catalog.pg_stat_bgwriter b, pg_catalog.pg_stat_database d
 WHERE d.datname = pg_catalog.current_database()
"""


def lsn_bytes(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


@dataclass(frozen=True)
class Snapshot:
    wal: int
    checkpoints_timed: int
    checkpoints_req: int
    buffers_checkpoint: int
    buffers_clean: int
    buffers_backend: int
    checkpoint_write_ms: float
    checkpoint_sync_ms: float
    xact_commit: int
    blks_read: int
    blks_hit: int
    temp_files: int
    temp_bytes: int
    autovacuums: int


def snapshot(cluster: Cluster, dbname: str = "postgres") -> Snapshot:
    with cluster.connect(dbname) as conn:
        conn.execute("SELECT pg_catalog.pg_stat_clear_snapshot()")
        row = conn.execute(STATS_SQL).fetchone()
    assert row is not None
    lsn, *rest = row
    return Snapshot(lsn_bytes(lsn), *(0 if v is None else v for v in rest))


@dataclass(frozen=True)
class Delta:
    wal_bytes: int
    checkpoints_timed: int
    checkpoints_req: int
    buffers_checkpoint: int
    buffers_clean: int
    buffers_backend: int
    blks_read: int
    blks_hit: int
    temp_files: int
    temp_bytes: int
    autovacuums: int

    @property
    def hit_ratio(self) -> float | None:
        total = self.blks_read + self.blks_hit
        return self.blks_hit / total if total else None


def delta(before: Snapshot, after: Snapshot) -> Delta:
    return Delta(
        wal_bytes=after.wal - before.wal,
        checkpoints_timed=after.checkpoints_timed - before.checkpoints_timed,
        checkpoints_req=after.checkpoints_req - before.checkpoints_req,
        buffers_checkpoint=after.buffers_checkpoint - before.buffers_checkpoint,
        buffers_clean=after.buffers_clean - before.buffers_clean,
        buffers_backend=after.buffers_backend - before.buffers_backend,
        blks_read=after.blks_read - before.blks_read,
        blks_hit=after.blks_hit - before.blks_hit,
        temp_files=after.temp_files - before.temp_files,
        temp_bytes=after.temp_bytes - before.temp_bytes,
        autovacuums=after.autovacuums - before.autovacuums,
    )


# Statistics of backends that just exited reach the shared counters when the backend exits;
# give them a moment before reading.
STATS_SETTLE_S = 1.0


# --------------------------------------------------------------------------- pgbench

_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)
_LAT = re.compile(r"^latency average = ([\d.]+) ms", re.M)
_TXNS = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)
_PROGRESS = re.compile(r"^progress: ([\d.]+) s, ([\d.]+) tps", re.M)


@dataclass
class PgbenchRun:
    config: str
    scale: int
    workload: str  # rw | so
    round: int
    duration_s: int
    tps: float
    latency_ms: float
    transactions: int
    failed: int
    progress_tps: list[float]
    stats: Delta
    load: Load | None
    noisy: bool = False
    retry_of_noisy: bool = False
    checkpoint_after_s: float | None = None  # explicit CHECKPOINT after a read-write run
    checkpoint_after_buffers: int | None = None

    @property
    def wal_per_txn(self) -> float:
        return self.stats.wal_bytes / self.transactions if self.transactions else 0.0

    @property
    def cpu_ms_per_txn(self) -> float | None:
        if self.load is None or not self.transactions:
            return None
        return 1000 * (self.load.server_s + self.load.client_s) / self.transactions

    def as_dict(self) -> dict[str, Any]:
        d = plain(self)
        d["wal_per_txn"] = self.wal_per_txn
        d["cpu_ms_per_txn"] = self.cpu_ms_per_txn
        d["hit_ratio"] = self.stats.hit_ratio
        return d


@dataclass(frozen=True)
class Pgbench:
    exe: Path
    cluster: Cluster
    clients: int
    threads: int

    def argv(self, *args: str) -> list[str]:
        return [
            str(self.exe),
            "-h",
            str(self.cluster.socket_dir),
            "-p",
            str(self.cluster.port),
            "-U",
            SUPERUSER,
            *args,
            "postgres",
        ]

    def init(self, scale: int) -> float:
        start = time.monotonic()
        proc = subprocess.run(
            self.argv("-i", "-q", "-s", str(scale)), capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise BenchError(f"pgbench -i -s {scale} exited {proc.returncode}:\n{proc.stderr}")
        return time.monotonic() - start

    def run(
        self, workload: str, seconds: int, *, vacuum: bool
    ) -> tuple[float, float, int, int, list[float]]:
        """(tps, latency ms, transactions, failed, per-interval tps) of one run."""
        args = [
            "-c",
            str(self.clients),
            "-j",
            str(self.threads),
            "-T",
            str(seconds),
            "-M",
            "prepared",
            "-P",
            str(max(1, min(10, seconds // 4))),
        ]
        if workload == "so":
            args.append("-S")
        if not vacuum:
            args.append("-n")
        proc = subprocess.run(
            self.argv(*args), capture_output=True, text=True, check=False, timeout=seconds + 600
        )
        out = proc.stdout + proc.stderr
        tps, lat, txns = _TPS.search(out), _LAT.search(out), _TXNS.search(out)
        if proc.returncode != 0 or tps is None or lat is None or txns is None:
            raise BenchError(f"pgbench {' '.join(args)} exited {proc.returncode}:\n{out[-2000:]}")
        failed = _FAILED.search(out)
        progress = [float(m[2]) for m in _PROGRESS.finditer(out)]
        return (
            float(tps[1]),
            float(lat[1]),
            int(txns[1]),
            int(failed[1]) if failed else 0,
            progress,
        )


def measure_pgbench(
    bench: Pgbench,
    *,
    config: str,
    scale: int,
    workload: str,
    rnd: int,
    seconds: int,
    settle_s: float = STATS_SETTLE_S,
) -> PgbenchRun:
    cluster = bench.cluster
    before = snapshot(cluster)
    meter = LoadMeter(cluster)
    tps, lat, txns, failed, progress = bench.run(workload, seconds, vacuum=False)
    load = meter.stop()
    time.sleep(settle_s)
    after = snapshot(cluster)
    return PgbenchRun(
        config=config,
        scale=scale,
        workload=workload,
        round=rnd,
        duration_s=seconds,
        tps=tps,
        latency_ms=lat,
        transactions=txns,
        failed=failed,
        progress_tps=progress,
        stats=delta(before, after),
        load=load,
    )


def timed_checkpoint(cluster: Cluster) -> tuple[float, int]:
    """Seconds and buffers of an explicit CHECKPOINT: the write work a run left behind."""
    before = snapshot(cluster)
    start = time.monotonic()
    with cluster.connect() as conn:
        conn.execute("CHECKPOINT")
    seconds = time.monotonic() - start
    after = snapshot(cluster)
    return seconds, after.buffers_checkpoint - before.buffers_checkpoint


PREWARM_RELATIONS = (
    "pgbench_accounts",
    "pgbench_branches",
    "pgbench_tellers",
    "pgbench_history",
    "pgbench_accounts_pkey",
    "pgbench_branches_pkey",
    "pgbench_tellers_pkey",
)


def prewarm(cluster: Cluster) -> float:
    """pg_prewarm every pgbench relation into shared buffers (tables first, indexes last)."""
    start = time.monotonic()
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for rel in PREWARM_RELATIONS:
            conn.execute("SELECT pg_prewarm(%s::regclass)", [rel])
    return time.monotonic() - start


# --------------------------------------------------------------------------- analytic set

# Joins, aggregates and sorts over the pgbench tables. All but the first read a fixed slice of
# pgbench_accounts, so their work does not grow with the scale; the first scans the whole table
# (parallel query, caching). Sizes are chosen around typical work_mem values (measured at scale
# 100): the 100k-group hash aggregate needs ~22MB (spills at 4MB x hash_mem_multiplier 2), the
# 50k-row sort ~7MB, the 200k-row sort ~15MB in memory, the 1M-row hash join ~47MB, the
# 500k-group DISTINCT ~48MB.
ANALYTIC: tuple[tuple[str, str], ...] = (
    (
        "scan_agg",
        "SELECT bid, count(*), sum(abalance), avg(abalance) FROM pgbench_accounts GROUP BY bid",
    ),
    (
        "hashagg_100k",
        "SELECT aid / 20 AS g, count(*), sum(abalance) FROM pgbench_accounts "
        "WHERE aid <= 2000000 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 10",
    ),
    (
        "sort_50k",
        "SELECT max(r) FROM (SELECT rank() OVER (ORDER BY abalance DESC, filler, aid) AS r "
        "FROM pgbench_accounts WHERE aid <= 50000) t",
    ),
    (
        "sort_200k",
        "SELECT max(r) FROM (SELECT rank() OVER (ORDER BY abalance DESC, filler, aid) AS r "
        "FROM pgbench_accounts WHERE aid <= 200000) t",
    ),
    (
        "join_1m",
        "SELECT a.bid, count(*), sum(a.abalance - b.abalance) FROM pgbench_accounts a "
        "JOIN pgbench_accounts b ON b.aid = a.aid + 1000000 "
        "WHERE a.aid <= 1000000 AND b.aid > 1000000 AND b.aid <= 2000000 GROUP BY a.bid",
    ),
    (
        "distinct_500k",
        "SELECT count(*) FROM (SELECT DISTINCT aid % 1000003 AS k, abalance "
        "FROM pgbench_accounts WHERE aid <= 500000) t",
    ),
)


@dataclass
class QueryResult:
    name: str
    latencies_ms: list[float]
    server_cpu_ms: list[float]
    signals: str
    explain_ms: float
    temp_bytes: int  # from EXPLAIN (BUFFERS): temp blocks written x 8kB


@dataclass
class AnalyticRun:
    config: str
    scale: int
    round: int
    variant: str  # "" or the storage class whose planner settings were SET for the session
    queries: list[QueryResult]
    stats: Delta
    load: Load | None
    noisy: bool = False

    def median_ms(self, name: str) -> float:
        q = next(q for q in self.queries if q.name == name)
        return statistics.median(q.latencies_ms)

    def total_ms(self) -> float:
        """Sum over the queries of their median latency in this round."""
        return sum(statistics.median(q.latencies_ms) for q in self.queries)


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def plan_signals(explain: list[dict[str, Any]]) -> tuple[str, float, int]:
    """A short summary of an EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON): spills, batches, workers,
    JIT; with the execution time and the temp bytes written."""
    top = explain[0]
    parts: list[str] = []
    sorts: list[str] = []
    for node in _walk(top["Plan"]):
        entries = [node, *node.get("Workers", [])]
        for e in entries:
            if "Sort Method" in e:
                used = e.get("Sort Space Used", 0)
                sorts.append(
                    f"{e['Sort Method']} {used // 1024}MB"
                    if used >= 1024
                    else f"{e['Sort Method']} {used}kB"
                )
        if node.get("Node Type") == "Hash" and "Hash Batches" in node:
            parts.append(f"hash batches {node['Hash Batches']}")
        if "HashAgg Batches" in node:
            parts.append(f"hashagg batches {node['HashAgg Batches']}")
        if "Workers Launched" in node:
            parts.append(f"workers {node['Workers Launched']}/{node.get('Workers Planned', '?')}")
        if node.get("Node Type") in ("Nested Loop", "Hash Join", "Merge Join"):
            parts.append(node["Node Type"].lower().replace(" ", "-"))
    if sorts:
        # one line per distinct method, e.g. "sort external merge 20MB x3"
        uniq: dict[str, int] = {}
        for s in sorts:
            uniq[s] = uniq.get(s, 0) + 1
        parts += [f"sort {s}" + (f" x{n}" if n > 1 else "") for s, n in uniq.items()]
    jit = top.get("JIT")
    if jit:
        total = jit.get("Timing", {}).get("Total")
        parts.append(f"jit {total:.0f}ms" if isinstance(total, int | float) else "jit")
    temp_blocks = int(top["Plan"].get("Temp Written Blocks", 0))
    return "; ".join(parts), float(top.get("Execution Time", 0.0)), temp_blocks * 8192


def run_analytic(
    cluster: Cluster,
    *,
    config: str,
    scale: int,
    rnd: int,
    reps: int,
    session: dict[str, str] | None = None,
    variant: str = "",
) -> AnalyticRun:
    """Each query: one EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) for its signals (and as warm-up),
    then ``reps`` timed executions with the server CPU each used."""
    before = snapshot(cluster)
    meter = LoadMeter(cluster)
    results: list[QueryResult] = []
    with cluster.connect() as conn:
        for name, value in (session or {}).items():
            conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", [name, value])
        for name, query in ANALYTIC:
            try:
                row = conn.execute(
                    "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) " + query
                ).fetchone()
            except psycopg.Error as exc:
                raise BenchError(f"analytic query {name} failed: {exc}") from exc
            assert row is not None
            signals, explain_ms, temp = plan_signals(row[0])
            lat: list[float] = []
            cpu: list[float] = []
            for _ in range(reps):
                s_cpu = server_cpu(cluster)
                start = time.perf_counter()
                conn.execute(query).fetchall()
                lat.append(1000 * (time.perf_counter() - start))
                cpu.append(1000 * (server_cpu(cluster) - s_cpu))
            results.append(QueryResult(name, lat, cpu, signals, explain_ms, temp))
    load = meter.stop()
    time.sleep(STATS_SETTLE_S)
    after = snapshot(cluster)
    return AnalyticRun(config, scale, rnd, variant, results, delta(before, after), load)


def as_json(obj: Any) -> Any:
    """Dataclasses (nested, with their own ``as_dict`` where they have one) to plain data for
    the JSON dump."""
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "__dataclass_fields__"):
        return plain(obj)
    if isinstance(obj, list):
        return [as_json(x) for x in obj]
    return obj


def plain(obj: Any) -> dict[str, Any]:
    """A dataclass's fields, each through :func:`as_json`."""
    return {f.name: as_json(getattr(obj, f.name)) for f in fields(obj)}


def spills_to_disk(signals: str) -> bool:
    """An external sort, or a hash or hash aggregate in more than one batch (from
    :func:`plan_signals`)."""
    parts = signals.split("; ")
    return any("external" in p for p in parts) or any(
        "batches" in p and p.split()[-1] != "1" for p in parts
    )


def fmt_bytes(n: float) -> str:
    return human_size(n).replace(" ", "")


def per_round(runs: Sequence[PgbenchRun]) -> dict[int, PgbenchRun]:
    """Per round, the quiet run if there is one, else the last."""
    chosen: dict[int, PgbenchRun] = {}
    for r in runs:
        if r.round not in chosen or chosen[r.round].noisy:
            chosen[r.round] = r
    return chosen


@dataclass
class Meter:
    """How the measurements of a run go on a shared machine: each first waits for quiet; a noisy
    one is measured again at once (at most ``again`` times, None: until quiet) while the retry
    budget of the whole run lasts."""

    quiet: Quiet
    retries: Retries
    again: int | None = 1
    log: Callable[[str], None] | None = None  # says when a noisy run is measured again

    def pgbench(
        self, bench: Pgbench, keep: list[PgbenchRun] | None = None, **kw: Any
    ) -> PgbenchRun:
        """:func:`measure_pgbench` (``kw``); every run appended to ``keep``, the ones measured
        again marked ``retry_of_noisy``; the last returned."""
        runs = measure_quiet(
            lambda: measure_pgbench(bench, **kw),
            bench.cluster,
            self.quiet,
            self.retries,
            again=self.again,
            log=self.log,
        )
        for r in runs[1:]:
            r.retry_of_noisy = True
        if keep is not None:
            keep += runs
        return runs[-1]

    def analytic(self, cluster: Cluster, *, retry: bool = True, **kw: Any) -> AnalyticRun:
        """:func:`run_analytic` (``kw``); the last run (without ``retry``: the only one)."""
        runs = measure_quiet(
            lambda: run_analytic(cluster, **kw),
            cluster,
            self.quiet,
            self.retries,
            again=self.again if retry else 0,
            log=self.log,
        )
        return runs[-1]
