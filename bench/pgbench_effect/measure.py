"""Measuring one configuration: pgbench runs, the analytic query set, and what happened meanwhile.

Every measurement records, besides its headline figure, the signals that separate configurations
on a noisy 2-core machine (see /work/shared/BENCHMARKING.md): WAL bytes, requested and timed
checkpoints, the shared-buffer hit ratio, temporary files, autovacuum activity, CPU time of the
server and of the client, and the CPU that *other* processes used (from /proc/stat, minus this
process, its children and the whole postmaster process tree).
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg

from pgcluster import SUPERUSER, Cluster

# --------------------------------------------------------------------------- CPU accounting


@dataclass(frozen=True)
class CpuStat:
    """/proc/stat "cpu" line, in seconds."""

    busy: float  # user + nice + system (process time)
    irq: float  # irq + softirq: not charged to any process; here mostly our own I/O completions
    steal: float
    total: float  # busy + steal + idle + iowait


def read_cpu_stat() -> CpuStat | None:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    busy = user + nice + system
    total = busy + irq + softirq + steal + idle + iowait
    return CpuStat(busy / hz, (irq + softirq) / hz, steal / hz, total / hz)


def own_cpu() -> float:
    """CPU seconds of this process and of its reaped children (pgbench)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def server_cpu(cluster: Cluster) -> float:
    """CPU seconds of the postmaster, its reaped children (backends, parallel workers) and its
    live children; 0 when the server is not running."""
    pid = cluster.postmaster_pid()
    if pid is None:
        return 0.0
    try:
        postmaster = psutil.Process(pid)
        children = postmaster.children()
        t = postmaster.cpu_times()
    except psutil.Error:
        return 0.0
    total = t.user + t.system + t.children_user + t.children_system
    for child in children:
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
    return total


@dataclass(frozen=True)
class Load:
    """CPU over an interval as % of the whole machine."""

    others_pct: float  # other processes and steal (other VMs)
    steal_pct: float
    irq_pct: float
    server_pct: float
    client_pct: float  # this process and pgbench
    server_cpu_s: float
    client_cpu_s: float


class LoadMeter:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stat = read_cpu_stat()
        self.own = own_cpu()
        self.server = server_cpu(cluster)

    def stop(self) -> Load | None:
        end, own, server = read_cpu_stat(), own_cpu(), server_cpu(self.cluster)
        if self.stat is None or end is None or end.total <= self.stat.total:
            return None
        total = end.total - self.stat.total
        client, srv = own - self.own, max(0.0, server - self.server)
        others = max(0.0, end.busy - self.stat.busy - client - srv) + (end.steal - self.stat.steal)
        return Load(
            others_pct=100 * others / total,
            steal_pct=100 * (end.steal - self.stat.steal) / total,
            irq_pct=100 * (end.irq - self.stat.irq) / total,
            server_pct=100 * srv / total,
            client_pct=100 * client / total,
            server_cpu_s=srv,
            client_cpu_s=client,
        )


def wait_for_quiet(cluster: Cluster, limit: float, max_wait: float, window: float = 3.0) -> float:
    """Wait (at most ``max_wait`` s) for a ``window`` in which other processes used at most
    ``limit`` % of the machine; returns the seconds waited. The server is idle meanwhile."""
    start = time.monotonic()
    while True:
        meter = LoadMeter(cluster)
        time.sleep(window)
        load = meter.stop()
        waited = time.monotonic() - start
        if load is None or load.others_pct <= limit or waited >= max_wait:
            return waited


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


class BenchError(Exception):
    """A program or query of the benchmark failed."""


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
        return 1000 * (self.load.server_cpu_s + self.load.client_cpu_s) / self.transactions

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
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
    """Dataclasses (nested) to plain data for the JSON dump."""
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return obj
