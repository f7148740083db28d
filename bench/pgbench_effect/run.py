#!/usr/bin/env python3
"""Does pgtune's configuration make PostgreSQL 15 faster? pgbench against stock and PGTune.

One PostgreSQL 15 cluster, on the real disk (``$PGTUNE_PG_TMPDIR``, default ``/var/tmp``: the page
cache must matter, /dev/shm would make I/O free), run by the harness of ``tests/pgcluster.py``,
is restarted with each configuration in turn:

* **a** stock PostgreSQL 15 (what initdb writes);
* **b** ``pgtune generate --format json --data-dir`` for this machine and its data (storage
  detected under the cluster's data directory, or ``--storage``; the database size measured
  there), every ``value`` written to an include file. It is generated for each scale once that
  scale's data is loaded, as a user runs pgtune on the host with its data;
* **c** the PGTune web calculator's formulas (``configs.py`` names the version) for the same
  machine inputs (PGTune has no data-size input: c, like a, is the same at every scale).

For each scale (``pgbench -i -s N`` and a CHECKPOINT, one data set shared by all configurations, so
the OS page cache is warm for all of them; then b for that data) and each round, the configurations
run in turn, A B C A B C ..., so machine noise hits all alike. Per configuration and round: restart
with the configuration, ``pg_prewarm`` every pgbench relation, a discarded read-write warm-up, the
measured read-write (TPC-B-like) run, an explicit timed CHECKPOINT (the write work the run left
behind: a configuration that defers checkpoints beyond the run is charged here), a short select-only
warm-up, the measured select-only run, then the analytic query set (``measure.ANALYTIC``: joins,
aggregates, sorts where work_mem and parallelism matter; median latency, EXPLAIN signals). For (b)
and (c) the analytic set also runs once with the other storage class's planner settings
(``random_page_cost``, ``effective_io_concurrency``) set for the session: hdd vs ssd, cheaply.

Recorded per run: TPS, latency, WAL bytes per transaction, requested/timed checkpoints, the
shared-buffer hit ratio, temp files, autovacuum runs, server and client CPU per transaction, and
the CPU other processes used. Before each measurement the benchmark waits (``--quiet-wait``, within
``--quiet-budget``) for other tenants to go quiet; a run in which they still used more than
``--max-others`` % of the machine is *noisy*: it is measured again while the retry budget lasts,
and medians use quiet runs when at least two are quiet. Interrupt time (irq, softirq), which no
process is charged with and which here is mostly the completion of this benchmark's own I/O, is
not counted as others'.

Usage::

    python bench/pgbench_effect/run.py                 # full run (~70 min), print the report
    python bench/pgbench_effect/run.py --record        # ... and add rows to bench/RESULTS.md
    python bench/pgbench_effect/run.py --smoke         # scale 1, 1 s runs, one round (~15 s)

Targets (reported, never an exit status): (b) >= (a) and (b) >= 0.98 x (c) on every workload,
and (b)'s modelled memory peak within pgtune's budget. Exit status 1 only when something failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-PostgreSQL harness (pgcluster.py)

from configs import (  # noqa: E402
    Config,
    Inputs,
    pgtune_config,
    pgtune_database,
    pgtune_json,
    pgtune_web_config,
    stock_config,
    storage_planner_settings,
)
from measure import (  # noqa: E402
    ANALYTIC,
    AnalyticRun,
    BenchError,
    Pgbench,
    PgbenchRun,
    as_json,
    measure_pgbench,
    prewarm,
    run_analytic,
    timed_checkpoint,
    wait_for_quiet,
)

import pgcluster  # noqa: E402
from pgcluster import Cluster, PgBinaries, PgHarnessError, check_accessible  # noqa: E402
from pgtune.units import human_size  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
RAW = HERE / "last_run.json"
SECTION = "## pgbench_effect"
DEFAULT_TMPDIR = "/var/tmp"
CONF_NAME = "pgtune.conf"  # the harness's include file (conf.d/pgtune.conf)

# Used while pgbench -i loads data (not measured): no checkpoints in the middle of the load.
LOAD_CONF = "maintenance_work_mem = '1GB'\nmax_wal_size = '16GB'\ncheckpoint_timeout = '30min'\n"
WORKLOADS = {"rw": "read-write", "so": "select-only", "an": "analytic"}
TARGET_VS_C = 0.98


@dataclass
class Plan:
    scales: list[int]
    rounds: int
    seconds: int
    warmup: int
    clients: int
    threads: int
    reps: int
    configs: str
    variants: list[str]  # NAME:setting=value,... derived from b (diagnosis)
    workloads: set[str]  # rw, so, an
    workload: str
    storage: str | None
    alt_storage: bool
    max_others: float
    retries: int
    quiet_wait: float  # per measurement, at most
    quiet_budget: float  # in all
    settle_s: float
    smoke: bool


@dataclass
class Outcome:
    plan: Plan
    inputs: Inputs  # pgtune's machine inputs (at the first scale; checked at every scale)
    data_dir: Path
    # per scale, in --configs order: b is generated for that scale's data, the others from b or
    # the machine inputs
    configs: dict[int, list[Config]] = field(default_factory=dict)
    pgtune_inputs: dict[int, dict[str, Any]] = field(default_factory=dict)  # b's, per scale
    pgbench: list[PgbenchRun] = field(default_factory=list)
    analytic: list[AnalyticRun] = field(default_factory=list)
    init_s: dict[int, float] = field(default_factory=dict)
    db_size: dict[int, int] = field(default_factory=dict)
    quiet_waited: float = 0.0
    started: float = field(default_factory=time.time)
    finished: float = 0.0


# --------------------------------------------------------------------------- environment


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f", {int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores{ram}, PostgreSQL 15"


def git_commit() -> str:
    """Short HEAD, with ``-dirty`` when the package has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ("git", *args), cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "pgtune", "profiles", "templates")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def prepare_tmpdir() -> str:
    """Clusters go under ``$PGTUNE_PG_TMPDIR`` (default /var/tmp, on the real disk)."""
    tmp = os.environ.setdefault(pgcluster.TMPDIR_ENV, DEFAULT_TMPDIR)
    pgcluster.cluster_tmpdir.cache_clear()
    return tmp


# --------------------------------------------------------------------------- the run


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


def quiet(cluster: Cluster, out: Outcome, log: Callable[[str], None]) -> None:
    """Before a measurement: wait for the other tenants to go quiet, within the wait budget."""
    plan = out.plan
    left = plan.quiet_budget - out.quiet_waited
    if plan.quiet_wait <= 0 or left <= 0:
        return
    waited = wait_for_quiet(cluster, plan.max_others, min(plan.quiet_wait, left))
    out.quiet_waited += waited
    if waited > 5:
        log(f"    waited {waited:.0f} s for other processes to go quiet")


def measure_run(
    bench: Pgbench, out: Outcome, log: Callable[[str], None], budget: list[int], **kw: Any
) -> PgbenchRun:
    """One measured pgbench run; a noisy one is repeated once while the retry budget lasts."""
    plan = out.plan
    quiet(bench.cluster, out, log)
    run = measure_pgbench(bench, seconds=plan.seconds, settle_s=plan.settle_s, **kw)
    run.noisy = run.load is not None and run.load.others_pct > plan.max_others
    out.pgbench.append(run)
    if run.noisy and budget[0] > 0:
        budget[0] -= 1
        assert run.load is not None
        log(f"    noisy ({run.load.others_pct:.1f} % others): measuring again")
        quiet(bench.cluster, out, log)
        run = measure_pgbench(bench, seconds=plan.seconds, settle_s=plan.settle_s, **kw)
        run.noisy = run.load is not None and run.load.others_pct > plan.max_others
        run.retry_of_noisy = True
        out.pgbench.append(run)
    return run


def one_round(
    cluster: Cluster,
    bench: Pgbench,
    cfg: Config,
    scale: int,
    rnd: int,
    out: Outcome,
    log: Callable[[str], None],
    budget: list[int],
) -> None:
    plan = out.plan
    t0 = time.monotonic()
    switch(cluster, cfg.conf_text(), set(cfg.settings))
    warm_s = prewarm(cluster)
    if plan.warmup and "rw" in plan.workloads:
        bench.run("rw", plan.warmup, vacuum=True)  # also vacuums branches/tellers, truncates
    else:
        with cluster.connect() as conn:
            conn.execute("VACUUM pgbench_branches, pgbench_tellers")
            conn.execute("TRUNCATE pgbench_history")
    kw = {"config": cfg.key, "scale": scale, "rnd": rnd}
    parts = [f"  scale {scale} round {rnd} {cfg.key}:"]

    def others(r: PgbenchRun | AnalyticRun) -> str:
        return f"others {r.load.others_pct:.1f}%" if r.load else "others n/a"

    if "rw" in plan.workloads:
        rw = measure_run(bench, out, log, budget, workload="rw", **kw)
        rw.checkpoint_after_s, rw.checkpoint_after_buffers = timed_checkpoint(cluster)
        parts.append(
            f"rw {rw.tps:.0f} tps (ckpt req {rw.stats.checkpoints_req}/timed "
            f"{rw.stats.checkpoints_timed}, CHECKPOINT after {rw.checkpoint_after_s:.1f} s; "
            f"{others(rw)}),"
        )
    if "so" in plan.workloads:
        if plan.warmup:
            bench.run("so", max(5, plan.warmup // 2), vacuum=False)
        so = measure_run(bench, out, log, budget, workload="so", **kw)
        parts.append(f"so {so.tps:.0f} tps ({others(so)}),")
    if "an" in plan.workloads:
        quiet(cluster, out, log)
        an = run_analytic(cluster, config=cfg.key, scale=scale, rnd=rnd, reps=plan.reps)
        an.noisy = an.load is not None and an.load.others_pct > plan.max_others
        out.analytic.append(an)
        parts.append(f"analytic {an.total_ms():.0f} ms ({others(an)}),")
        if plan.alt_storage and cfg.key in ("b", "c"):
            alt = "ssd" if out.inputs.storage == "hdd" else "hdd"
            va = run_analytic(
                cluster,
                config=cfg.key,
                scale=scale,
                rnd=rnd,
                reps=1,
                session=storage_planner_settings(alt),
                variant=alt,
            )
            va.noisy = va.load is not None and va.load.others_pct > plan.max_others
            out.analytic.append(va)
    log(" ".join(parts) + f" prewarm {warm_s:.1f} s, {time.monotonic() - t0:.0f} s in all")


def variant_config(base: Config, spec: str) -> Config:
    """``NAME:setting=value,setting=`` -> ``base`` with those settings changed (empty: removed).

    For diagnosis only: the modelled peak stays ``base``'s.
    """
    name, _, changes = spec.partition(":")
    settings = dict(base.settings)
    for change in filter(None, changes.split(",")):
        key, _, value = change.partition("=")
        if value:
            settings[key] = value
        else:
            settings.pop(key, None)
    return Config(name, f"{base.label} with {changes}", settings, base.budget, base.notes)


def scale_configs(plan: Plan, b: Config, inputs: Inputs) -> list[Config]:
    """The configurations of ``--configs``, in order, for one scale's b (and its inputs)."""
    every = {"a": stock_config(inputs), "b": b, "c": pgtune_web_config(inputs)}
    for spec in plan.variants:
        every[spec.partition(":")[0]] = variant_config(b, spec)
    return [every[k] for k in plan.configs.split(",")]


def execute(plan: Plan, log: Callable[[str], None]) -> Outcome:
    if not plan.scales:
        raise BenchError("no scales to measure")
    started = time.time()
    tmp = prepare_tmpdir()
    binaries = PgBinaries.for_major(15)
    check_accessible(binaries)
    cluster = Cluster(binaries)
    try:
        cluster.initdb()
        cluster.write_conf(LOAD_CONF, mode="include")
        cluster.start(timeout=300)
        log(f"cluster {cluster.data_dir}")
        bench = Pgbench(binaries.exe("pgbench"), cluster, plan.clients, plan.threads)
        budget = [plan.retries]
        out: Outcome | None = None
        for scale in plan.scales:
            switch(
                cluster, LOAD_CONF, {"maintenance_work_mem", "max_wal_size", "checkpoint_timeout"}
            )
            init_s = bench.init(scale)
            with cluster.connect() as conn:
                conn.execute("CHECKPOINT")
            size = db_size(cluster)
            # b for this data, as a user runs pgtune on the host with its data loaded
            doc = pgtune_json(
                binaries.exe("pg_config"), cluster.data_dir, plan.workload, plan.storage
            )
            b, inputs = pgtune_config(doc)
            if out is None:
                out = Outcome(plan, inputs, Path(tmp), started=started)
                log(f"storage {inputs.storage}: {inputs.storage_source}")
            elif inputs != out.inputs:
                log(f"scale {scale}: pgtune's machine inputs changed: {inputs} (was {out.inputs})")
            out.init_s[scale], out.db_size[scale] = init_s, size
            out.pgtune_inputs[scale] = doc["inputs"]
            out.configs[scale] = scale_configs(plan, b, inputs)
            measured = pgtune_database(doc["inputs"], detail=True)
            log(
                f"scale {scale}: pgbench -i took {init_s:.0f} s, database {human_size(size)}; "
                f"b (pgtune's database size {measured}): shared_buffers "
                f"{b.settings.get('shared_buffers', '(default)')}, modelled peak {b.peak_text()}"
            )
            for rnd in range(1, plan.rounds + 1):
                for cfg in out.configs[scale]:
                    one_round(cluster, bench, cfg, scale, rnd, out, log, budget)
        assert out is not None
        out.finished = time.time()
        return out
    finally:
        cluster.cleanup()


# --------------------------------------------------------------------------- summarising


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    n: int
    noisy_used: bool  # fewer than two quiet runs: medians include noisy ones


def summarise(values: Sequence[tuple[float, bool]]) -> Summary | None:
    """Median, min and max of the quiet values when at least two are quiet, else of all."""
    if not values:
        return None
    quiet = [v for v, noisy in values if not noisy]
    use = quiet if len(quiet) >= 2 else [v for v, _ in values]
    return Summary(statistics.median(use), min(use), max(use), len(use), len(quiet) < 2)


def runs_for(out: Outcome, scale: int, workload: str, cfg: str) -> list[PgbenchRun]:
    return [
        r for r in out.pgbench if r.scale == scale and r.workload == workload and r.config == cfg
    ]


def last_per_round(runs: Sequence[PgbenchRun]) -> dict[int, PgbenchRun]:
    """Per round, the quiet run if there is one, else the last."""
    chosen: dict[int, PgbenchRun] = {}
    for r in runs:
        if r.round not in chosen or chosen[r.round].noisy:
            chosen[r.round] = r
    return chosen


def analytic_for(out: Outcome, scale: int, cfg: str, variant: str = "") -> list[AnalyticRun]:
    return [
        a for a in out.analytic if a.scale == scale and a.config == cfg and a.variant == variant
    ]


def query_summary(runs: Sequence[AnalyticRun], name: str) -> Summary | None:
    """Median over all repetitions of the query (quiet rounds when at least two are quiet)."""
    values = [
        (ms, a.noisy) for a in runs for q in a.queries if q.name == name for ms in q.latencies_ms
    ]
    quiet_rounds = sum(1 for a in runs if not a.noisy)
    if quiet_rounds >= 2:
        values = [(v, False) for v, noisy in values if not noisy]
    return summarise([(v, False) for v, _ in values]) if values else None


def analytic_total(runs: Sequence[AnalyticRun]) -> Summary | None:
    """Sum of the per-query medians; low/high are the per-round sums of medians."""
    if not runs:
        return None
    per_query = [query_summary(runs, n) for n, _ in ANALYTIC]
    if any(s is None for s in per_query):
        return None
    total = sum(s.median for s in per_query if s is not None)
    rounds = [a.total_ms() for a in runs]
    quiet = sum(1 for a in runs if not a.noisy)
    return Summary(total, min(rounds), max(rounds), len(runs), quiet < 2)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def fmt_bytes(n: float) -> str:
    return human_size(n).replace(" ", "")


def ratio(x: Summary | None, y: Summary | None, higher_better: bool) -> float | None:
    if x is None or y is None or x.median == 0 or y.median == 0:
        return None
    return x.median / y.median if higher_better else y.median / x.median


def paired(out: Outcome, scale: int, workload: str, x: str, y: str) -> list[float]:
    """Per-round ratios x/y (TPS) or y/x (latency): >1 means x is better."""
    if workload == "an":
        xs = {a.round: a.total_ms() for a in analytic_for(out, scale, x)}
        ys = {a.round: a.total_ms() for a in analytic_for(out, scale, y)}
        return [ys[r] / xs[r] for r in sorted(xs) if r in ys and xs[r]]
    xr = last_per_round(runs_for(out, scale, workload, x))
    yr = last_per_round(runs_for(out, scale, workload, y))
    return [xr[r].tps / yr[r].tps for r in sorted(xr) if r in yr and yr[r].tps]


@dataclass(frozen=True)
class Row:
    scale: int
    workload: str
    medians: dict[str, Summary | None]
    b_vs_a: float | None
    b_vs_c: float | None
    paired_a: list[float]
    paired_c: list[float]
    signals: str
    others: str
    noisy: bool

    def verdicts(self) -> tuple[str, str]:
        def v(r: float | None, target: float, pairs: list[float]) -> str:
            if r is None:
                return "n/a"
            ok = "yes" if r >= target else "NO"
            if pairs and min(pairs) < target <= max(pairs):
                ok += " (within noise)"
            return ok

        return v(self.b_vs_a, 1.0, self.paired_a), v(self.b_vs_c, TARGET_VS_C, self.paired_c)


def rw_so_signals(out: Outcome, scale: int, workload: str, keys: list[str]) -> str:
    parts: list[str] = []
    for key in keys:
        runs = [r for r in runs_for(out, scale, workload, key) if not r.noisy] or runs_for(
            out, scale, workload, key
        )
        if not runs:
            continue
        med = statistics.median
        hit = [r.stats.hit_ratio for r in runs if r.stats.hit_ratio is not None]
        cpu = [c for c in (r.cpu_ms_per_txn for r in runs) if c is not None]
        text = f"{key}: hit {pct(med(hit) if hit else None)}%"
        if workload == "rw":
            req = sum(r.stats.checkpoints_req for r in runs)
            timed = sum(r.stats.checkpoints_timed for r in runs)
            after = [r.checkpoint_after_s for r in runs if r.checkpoint_after_s is not None]
            wal = fmt_bytes(med(r.wal_per_txn for r in runs))
            text += f", ckpt req/timed {req}/{timed}, WAL/txn {wal}"
            if after:
                text += f", CHECKPOINT after {med(after):.1f}s"
        if cpu:
            text += f", CPU {med(cpu):.2f}ms/txn"
        parts.append(text)
    return "; ".join(parts)


def analytic_signals(out: Outcome, scale: int, keys: list[str]) -> str:
    parts = []
    for key in keys:
        runs = analytic_for(out, scale, key)
        if not runs:
            continue
        temp = statistics.median(a.stats.temp_bytes for a in runs)
        spills = sum(1 for q in runs[-1].queries if spills_to_disk(q.signals))
        parts.append(f"{key}: temp {fmt_bytes(temp)}/round, {spills}/{len(ANALYTIC)} queries spill")
    return "; ".join(parts)


def spills_to_disk(signals: str) -> bool:
    """An external sort, or a hash or hash aggregate in more than one batch."""
    parts = signals.split("; ")
    return any("external" in p for p in parts) or any(
        "batches" in p and p.split()[-1] != "1" for p in parts
    )


def config_keys(out: Outcome) -> list[str]:
    return out.plan.configs.split(",")


def config_at(out: Outcome, scale: int, key: str) -> Config | None:
    return next((c for c in out.configs.get(scale, []) if c.key == key), None)


def database(out: Outcome, scale: int) -> str:
    """The database size pgtune reports for ``scale``'s b."""
    return pgtune_database(out.pgtune_inputs.get(scale, {"database_source": "?"}))


def distinct_configs(out: Outcome, key: str) -> list[tuple[list[int], Config]]:
    """``key``'s configurations over the scales, equal ones merged: (scales, configuration)."""
    groups: list[tuple[list[int], Config]] = []
    for scale in out.plan.scales:
        cfg = config_at(out, scale, key)
        if cfg is None:
            continue
        for scales, seen in groups:
            if seen == cfg:
                scales.append(scale)
                break
        else:
            groups.append(([scale], cfg))
    return groups


def column_name(key: str, scales: list[int], groups: int) -> str:
    """``b`` when one b served every scale, else ``b@100`` (b for scale 100's data)."""
    return key if groups == 1 else f"{key}@{'/'.join(map(str, scales))}"


def rows(out: Outcome) -> list[Row]:
    keys = config_keys(out)
    result: list[Row] = []
    for scale in out.plan.scales:
        for workload in ("rw", "so", "an"):
            if workload == "an":
                meds = {k: analytic_total(analytic_for(out, scale, k)) for k in keys}
                loads = [
                    a.load.others_pct
                    for a in out.analytic
                    if a.scale == scale and not a.variant and a.load
                ]
                signals = analytic_signals(out, scale, keys)
                higher = False
            else:
                meds = {
                    k: summarise([(r.tps, r.noisy) for r in runs_for(out, scale, workload, k)])
                    for k in keys
                }
                loads = [
                    r.load.others_pct
                    for r in out.pgbench
                    if r.scale == scale and r.workload == workload and r.load
                ]
                signals = rw_so_signals(out, scale, workload, keys)
                higher = True
            noisy = any(s is not None and s.noisy_used for s in meds.values())
            others = (
                f"median {statistics.median(loads):.1f} %, max {max(loads):.1f} %"
                if loads
                else "n/a"
            )
            result.append(
                Row(
                    scale,
                    workload,
                    meds,
                    ratio(meds.get("b"), meds.get("a"), higher),
                    ratio(meds.get("b"), meds.get("c"), higher),
                    paired(out, scale, workload, "b", "a") if "a" in keys and "b" in keys else [],
                    paired(out, scale, workload, "b", "c") if "c" in keys and "b" in keys else [],
                    signals,
                    others,
                    noisy,
                )
            )
    return result


# --------------------------------------------------------------------------- report


def fmt_summary(s: Summary | None, workload: str) -> str:
    if s is None:
        return "-"
    unit = " ms" if workload == "an" else ""
    return f"{s.median:.0f}{unit} ({s.low:.0f}-{s.high:.0f})"


def fmt_ratio(r: float | None, pairs: list[float]) -> str:
    if r is None:
        return "-"
    rng = f" [{min(pairs):.2f}-{max(pairs):.2f}]" if len(pairs) > 1 else ""
    return f"{r:.2f}{rng}"


def settings_table(columns: list[tuple[str, Config]]) -> list[str]:
    names: list[str] = []
    for _, cfg in columns:
        names += [n for n in cfg.settings if n not in names]
    width = max((len(n) for n in names), default=10)
    lines = [f"  {'setting':<{width}}  " + "  ".join(f"{name[:14]:<14}" for name, _ in columns)]
    for n in names:
        lines.append(
            f"  {n:<{width}}  "
            + "  ".join(f"{c.settings.get(n, '(default)')[:14]:<14}" for _, c in columns)
        )
    return lines


def report(out: Outcome, table: list[Row]) -> str:
    plan = out.plan
    lines = [
        f"pgbench_effect: PostgreSQL 15, {plan.clients} clients / {plan.threads} threads, "
        f"{plan.rounds} round(s) of {plan.seconds} s runs, warm-up {plan.warmup} s, "
        f"scales {', '.join(map(str, plan.scales))}",
        f"machine: {machine()}; commit {git_commit()}; cluster under {out.data_dir}",
        f"inputs: {human_size(out.inputs.memory_bytes)}, {out.inputs.cpus} CPUs, storage "
        f"{out.inputs.storage} ({out.inputs.storage_source}), workload {out.inputs.workload}, "
        f"profile {out.inputs.profile}",
        f"run time {(out.finished - out.started) / 60:.1f} min (waiting for quiet "
        f"{out.quiet_waited / 60:.1f} min)",
        "",
        "configurations (b generated for each scale after its data was loaded; key@scale when "
        "they differ between scales):",
    ]
    columns: list[tuple[str, Config]] = []
    for key in config_keys(out):
        groups = distinct_configs(out, key)
        for scales, cfg in groups:
            name = column_name(key, scales, len(groups))
            columns.append((name, cfg))
            where = (
                "every scale"
                if len(groups) == 1 and len(scales) == len(plan.scales)
                else f"scale {', '.join(map(str, scales))}"
            )
            lines.append(f"  {name} = {cfg.label} [{where}]: modelled peak {cfg.peak_text()}")
            lines += [f"      {n}" for n in cfg.notes]
    lines += settings_table(columns)
    lines.append("")
    keys = config_keys(out)
    for scale in plan.scales:
        size = out.db_size.get(scale)
        lines.append(
            f"scale {scale} ({human_size(size) if size else '?'} database; pgtune's database size "
            f"{database(out, scale)}); medians (min-max); ratios: >1 = b better "
            "[per-round range]"
        )
        lines.append(
            f"  {'workload':<12} "
            + " ".join(f"{k:<22}" for k in keys)
            + f" {'b vs a':<20} {'b vs c':<20} targets"
        )
        for row in (r for r in table if r.scale == scale):
            va, vc = row.verdicts()
            lines.append(
                f"  {WORKLOADS[row.workload]:<12} "
                + " ".join(f"{fmt_summary(row.medians[k], row.workload):<22}" for k in keys)
                + f" {fmt_ratio(row.b_vs_a, row.paired_a):<20}"
                f" {fmt_ratio(row.b_vs_c, row.paired_c):<20} b>=a {va}; b>=0.98c {vc}"
                + ("  (noisy)" if row.noisy else "")
            )
            lines.append(f"      signals: {row.signals}")
            lines.append(f"      others' CPU: {row.others}")
        lines.append("  analytic queries, median ms (signals of the last round's EXPLAIN):")
        variants = [(k, "") for k in keys]
        for k in keys:
            alts = {a.variant for a in out.analytic if a.scale == scale and a.config == k}
            variants += [(k, v) for v in sorted(alts - {""})]
        for name, _ in ANALYTIC:
            cells = []
            for k, v in variants:
                s = query_summary(analytic_for(out, scale, k, v), name)
                cells.append(f"{k}{'/' + v if v else ''} {s.median:.0f}" if s else f"{k} -")
            lines.append(f"    {name:<14} " + ", ".join(cells))
            for k, v in variants:
                runs = analytic_for(out, scale, k, v)
                if runs:
                    q = next(q for q in runs[-1].queries if q.name == name)
                    cpu = statistics.median(q.server_cpu_ms) if q.server_cpu_ms else 0.0
                    lines.append(
                        f"        {k}{'/' + v if v else ''}: {q.signals or '-'}; "
                        f"server CPU {cpu:.0f} ms"
                    )
        lines.append("")
    lines.append(
        "per run (config round workload: tps, latency, ckpt req/timed, WAL/txn, hit %, "
        "temp, autovacuums, others' CPU):"
    )
    for r in out.pgbench:
        load = f"{r.load.others_pct:.1f}%" if r.load else "n/a"
        after = (
            f", CHECKPOINT after: {r.checkpoint_after_s:.1f}s {r.checkpoint_after_buffers} buf"
            if r.checkpoint_after_s is not None
            else ""
        )
        lines.append(
            f"  s{r.scale} r{r.round} {r.config} {r.workload}: {r.tps:.0f} tps, "
            f"{r.latency_ms:.2f} ms, ckpt {r.stats.checkpoints_req}/{r.stats.checkpoints_timed},"
            f" WAL/txn {fmt_bytes(r.wal_per_txn)}, hit {pct(r.stats.hit_ratio)}%, temp "
            f"{r.stats.temp_files}, av {r.stats.autovacuums}, others {load}"
            + (" NOISY" if r.noisy else "")
            + (" (retry)" if r.retry_of_noisy else "")
            + after
            + (
                f"; progress tps {', '.join(f'{t:.0f}' for t in r.progress_tps)}"
                if r.progress_tps
                else ""
            )
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- recording

TABLE_HEADER = (
    "| date (UTC) | commit | machine | scale | workload | a stock | b pgtune | c PGTune "
    "| b vs a | b vs c | signals (a; b; c) | others' CPU | targets |"
)
TABLE_RULE = "|" + "---|" * TABLE_HEADER.count(" |")

SECTION_TEXT = f"""{SECTION}

Effect of the configuration on pgbench, measured by `python bench/pgbench_effect/run.py --record`
(see `bench/README.md`): one PostgreSQL 15 data set per scale on the VM disk, restarted with **a**
stock settings, **b** `pgtune generate --data-dir` for this machine and its data (`--workload`,
storage as noted), generated for each scale after that scale's data is loaded (`pgbench -i`, then a
CHECKPOINT), as a user runs pgtune on the host with its data, **c** the PGTune web calculator's
formulas for the same machine inputs (no data-size input: the same at every scale; version in
`bench/pgbench_effect/configs.py`), alternated a b c a b c for every round; every configuration is
prewarmed (`pg_prewarm`) and warmed up before it is measured. 8 clients, 2 threads, `-M prepared`.
*read-write* (TPC-B-like) and *select-only*: median TPS (min-max of the runs used); *analytic*: sum
of the median latencies of the analytic queries in ms (min-max of the per-round sums); *modelled
peak*: pgtune's memory model (`pgtune.tuning.budget.Budget`) applied to each configuration, in GB,
against pgtune's limit, one row per scale with that scale's b and the database size pgtune reports
(rows with scale `-` are from runs that generated one b before loading any data). *b vs a*, *b vs
c*: ratio of medians, >1 means b is better (TPS b/a; latency a/b), with the range of the per-round
paired ratios. *signals*: shared-buffer hit ratio, requested/timed checkpoints during the measured
runs, WAL per transaction, seconds of the explicit CHECKPOINT after each read-write run (write work
a configuration defers), CPU (server + pgbench) per transaction, temp bytes of the analytic set.
*others' CPU*: CPU of all other processes (and steal) while measuring; each measurement first waits
(up to 45 s) for them to go quiet; runs above 5 % are noisy, rerun once while a retry budget lasts,
and left out of the medians when two quiet runs remain (*noisy* marks a cell that had to use them).
Targets: b >= a and b >= 0.98 x c on every workload; b's modelled peak within the limit.

{TABLE_HEADER}
{TABLE_RULE}
"""


def table_rows(out: Outcome, table: list[Row]) -> list[str]:
    now = datetime.datetime.fromtimestamp(out.started, datetime.UTC).strftime("%Y-%m-%d %H:%M")
    mach = (
        f"{machine()}; {out.inputs.storage} ({out.inputs.storage_source.split(',')[0]}); "
        f"{out.plan.rounds}x{out.plan.seconds}s"
    )
    commit = f"`{git_commit()}`"
    lines: list[str] = []
    for scale in out.plan.scales:
        for row in (r for r in table if r.scale == scale):
            va, vc = row.verdicts()
            cells = [
                now,
                commit,
                mach,
                str(row.scale),
                WORKLOADS[row.workload] + (" (noisy)" if row.noisy else ""),
                *(fmt_summary(row.medians.get(k), row.workload) for k in ("a", "b", "c")),
                fmt_ratio(row.b_vs_a, row.paired_a),
                fmt_ratio(row.b_vs_c, row.paired_c),
                row.signals.replace("|", "/"),
                row.others,
                f"b>=a {va}; b>=0.98c {vc}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("| " + " | ".join([now, commit, mach, *peak_cells(out, scale)]) + " |")
    return lines


def peak_cells(out: Outcome, scale: int) -> list[str]:
    """The modelled-peak row of one scale, from the scale column on (b is that scale's)."""

    def peak(k: str) -> str:
        c = config_at(out, scale, k)
        return f"{c.budget.peak / 1024**3:.1f}" if c else "-"

    b, c = config_at(out, scale, "b"), config_at(out, scale, "c")
    detail = "-"
    if b:
        detail = (
            f"limit {b.budget.limit / 1024**3:.1f} GB; b: shared_buffers "
            f"{b.settings.get('shared_buffers', '(default)')}, pgtune's database size "
            f"{database(out, scale)}"
        ).replace("|", "/")
    verdict = (
        f"b {'within' if b.fits() else 'OVER'}; c {'within' if c.fits() else 'over'}"
        if b and c
        else "-"
    )
    return [
        str(scale),
        "modelled peak (GB)",
        *(peak(k) for k in ("a", "b", "c")),
        "-",
        "-",
        detail,
        "-",
        verdict,
    ]


def insert_rows(text: str, new_rows: list[str]) -> str:
    """``text`` with ``new_rows`` first in the pgbench_effect table (section added if missing).

    The section's description (up to its table) is replaced by the current ``SECTION_TEXT``'s.
    """
    if SECTION not in text.splitlines():
        text = text.rstrip("\n") + "\n\n" + SECTION_TEXT
    lines = text.splitlines()
    start = lines.index(SECTION)
    table = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(("|", "## "))), None
    )
    if table is not None and lines[table].startswith("|"):
        description = SECTION_TEXT.split(TABLE_HEADER)[0].splitlines()  # ends in a blank line
        lines[start:table] = description
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("## "):
            break
        if lines[i].startswith("|") and set(lines[i].replace(" ", "")) <= set("|-:"):
            lines[i + 1 : i + 1] = new_rows
            return "\n".join(lines) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[end:end] = ["", TABLE_HEADER, TABLE_RULE, *new_rows, ""]
    return "\n".join(lines) + "\n"


def dump(out: Outcome, path: Path) -> None:
    doc = {
        "started": out.started,
        "finished": out.finished,
        "commit": git_commit(),
        "machine": machine(),
        "plan": as_json(out.plan),
        "inputs": as_json(out.inputs),
        "configs": {  # per scale: b is generated for each scale's data
            scale: [
                {
                    "key": c.key,
                    "label": c.label,
                    "settings": c.settings,
                    "peak": c.budget.peak,
                    "limit": c.budget.limit,
                    "components": c.budget.components(),
                    "notes": c.notes,
                }
                for c in configs
            ]
            for scale, configs in out.configs.items()
        },
        "init_s": out.init_s,
        "db_size": out.db_size,
        "pgtune_inputs": out.pgtune_inputs,  # per scale: b's, with the database size measured
        "pgbench": [r.as_dict() for r in out.pgbench],
        "analytic": [as_json(a) for a in out.analytic],
    }
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n")


# --------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> tuple[Plan, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--scales", default="100,400", help="pgbench scales (default 100,400)")
    p.add_argument("--rounds", type=int, default=3, help="rounds a b c (default 3)")
    p.add_argument("--seconds", type=int, default=60, help="length of a measured run (60)")
    p.add_argument("--warmup", type=int, default=10, help="read-write warm-up seconds (10)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=2, help="timed runs of each analytic query (2)")
    p.add_argument("--configs", default="a,b,c", help="which configurations, in order")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:SETTING=VALUE,...",
        help="diagnosis: a configuration derived from each scale's b (empty value: removed); "
        "name it in --configs",
    )
    p.add_argument("--workloads", default="rw,so,an", help="which of rw,so,an to measure")
    p.add_argument(
        "--workload",
        default="mixed",
        help="pgtune/PGTune workload (default mixed: what `pgtune generate` picks without "
        "--workload, and what pgbench read-write + select-only + analytic queries are)",
    )
    p.add_argument("--storage", help="override pgtune's storage detection (hdd, ssd, nvme)")
    p.add_argument(
        "--no-alt-storage",
        action="store_true",
        help="skip the analytic set with the other storage class's planner costs",
    )
    p.add_argument("--max-others", type=float, default=5.0, metavar="PCT")
    p.add_argument(
        "--retries", type=int, default=4, help="noisy runs measured again, in all (default 4)"
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=45.0,
        metavar="S",
        help="before each measurement wait up to S seconds for others to go quiet (45)",
    )
    p.add_argument(
        "--quiet-budget", type=float, default=600.0, metavar="S", help="...at most S in all (600)"
    )
    p.add_argument("--smoke", action="store_true", help="scale 1, 1 s runs, one round")
    p.add_argument("--record", action="store_true", help=f"add rows to {RESULTS.name}")
    p.add_argument("--json", type=Path, help=f"write every run here (--record: {RAW.name})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    a = p.parse_args(argv)
    if a.smoke and a.record:
        p.error("--smoke runs are too short to record")
    names = {"a", "b", "c"} | {v.partition(":")[0] for v in a.variant}
    if not set(a.configs.split(",")) <= names:
        p.error(f"--configs: a comma-separated subset of {','.join(sorted(names))}")
    if not set(a.workloads.split(",")) <= set(WORKLOADS):
        p.error("--workloads: a comma-separated subset of rw,so,an")
    if a.record and (a.variant or a.workloads != "rw,so,an"):
        p.error("--record: only the full set of workloads, without variants")
    plan = Plan(
        scales=[1] if a.smoke else [int(s) for s in a.scales.split(",")],
        rounds=1 if a.smoke else a.rounds,
        seconds=1 if a.smoke else a.seconds,
        warmup=0 if a.smoke else a.warmup,
        clients=a.clients,
        threads=a.threads,
        reps=1 if a.smoke else a.reps,
        configs=a.configs,
        variants=a.variant,
        workloads=set(a.workloads.split(",")),
        workload=a.workload,
        storage=a.storage,
        alt_storage=not a.no_alt_storage,
        max_others=a.max_others,
        retries=0 if a.smoke else a.retries,
        quiet_wait=0 if a.smoke else a.quiet_wait,
        quiet_budget=a.quiet_budget,
        settle_s=0.3 if a.smoke else 1.0,
        smoke=a.smoke,
    )
    return plan, a


def main(argv: Sequence[str] | None = None) -> int:
    plan, args = parse(argv)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    n_cfg = len(plan.configs.split(","))
    log(
        f"pgbench_effect: scales {plan.scales}, {plan.rounds} round(s) x {n_cfg} configurations,"
        f" {plan.seconds} s runs ..."
    )
    try:
        out = execute(plan, log)
    except (BenchError, PgHarnessError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"pgbench_effect: FAIL: {exc}", file=sys.stderr)
        return 1
    table = rows(out)
    print(report(out, table))
    problems = [
        f"{r.config} {r.workload}: {r.failed} failed transactions" for r in out.pgbench if r.failed
    ]
    problems += [
        f"{r.config} {r.workload}: no transactions" for r in out.pgbench if not r.transactions
    ]
    if problems:
        print("pgbench_effect: FAIL: " + "; ".join(problems), file=sys.stderr)
        return 1
    json_path = args.json or (RAW if args.record else None)
    if json_path:
        dump(out, json_path)
        print(f"raw data in {json_path}")
    if args.record:
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        RESULTS.write_text(insert_rows(text, table_rows(out, table)))
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
