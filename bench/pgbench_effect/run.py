#!/usr/bin/env python3
"""Does pgtune's configuration make PostgreSQL 15 faster? pgbench against stock and PGTune.

One PostgreSQL 15 cluster, on the real disk (``$PGTUNE_PG_TMPDIR``, default ``/var/tmp``: the page
cache must matter, /dev/shm would make I/O free), run by the harness of ``tests/pgcluster.py``
through ``bench/pgload.py`` (with ``bench/common.py``'s CPU accounting), is restarted with each
configuration in turn:

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
warm-up, the measured select-only run, then the analytic query set (``pgload.ANALYTIC``: joins,
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
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]  # pgcluster.py; common.py

from common import (  # noqa: E402
    RESULTS,
    BenchError,
    BenchParser,
    Quiet,
    Retries,
    is_noisy,
    noise_options,
    others_text,
    progress,
    record_rows,
)
from pgbench_effect.configs import (  # noqa: E402
    Config,
    Inputs,
    pgtune_config,
    pgtune_database,
    pgtune_json,
    pgtune_web_config,
    stock_config,
    storage_planner_settings,
)
from pgbench_effect.report import (  # noqa: E402
    SECTION,
    SECTION_TEXT,
    WORKLOADS,
    Outcome,
    Plan,
    dump,
    report,
    rows,
    table_rows,
)
from pgload import (  # noqa: E402
    LOAD_CONF,
    LOAD_SETTINGS,
    AnalyticRun,
    Meter,
    Pgbench,
    PgbenchRun,
    load_data,
    load_options,
    pg15,
    prewarm,
    run_analytic,
    switch,
    timed_checkpoint,
    warm_up,
)

from pgcluster import PgHarnessError  # noqa: E402
from pgtune.units import human_size  # noqa: E402

RAW = HERE / "last_run.json"


# --------------------------------------------------------------------------- the run


def one_round(
    bench: Pgbench,
    cfg: Config,
    scale: int,
    rnd: int,
    out: Outcome,
    meter: Meter,
    log: Callable[[str], None],
) -> None:
    plan = out.plan
    cluster = bench.cluster
    t0 = time.monotonic()
    switch(cluster, cfg.conf_text(), set(cfg.settings))
    warm_s = prewarm(cluster)
    warm_up(bench, plan.warmup if "rw" in plan.workloads else 0)
    kw: dict[str, Any] = {"config": cfg.key, "scale": scale, "rnd": rnd}
    run = {"seconds": plan.seconds, "settle_s": plan.settle_s, **kw}
    parts = [f"  scale {scale} round {rnd} {cfg.key}:"]

    def others(r: PgbenchRun | AnalyticRun) -> str:
        return f"others {others_text(r.load)}"

    if "rw" in plan.workloads:
        rw = meter.pgbench(bench, out.pgbench, workload="rw", **run)
        rw.checkpoint_after_s, rw.checkpoint_after_buffers = timed_checkpoint(cluster)
        parts.append(
            f"rw {rw.tps:.0f} tps (ckpt req {rw.stats.checkpoints_req}/timed "
            f"{rw.stats.checkpoints_timed}, CHECKPOINT after {rw.checkpoint_after_s:.1f} s; "
            f"{others(rw)}),"
        )
    if "so" in plan.workloads:
        if plan.warmup:
            bench.run("so", max(5, plan.warmup // 2), vacuum=False)
        so = meter.pgbench(bench, out.pgbench, workload="so", **run)
        parts.append(f"so {so.tps:.0f} tps ({others(so)}),")
    if "an" in plan.workloads:
        an = meter.analytic(cluster, retry=False, reps=plan.reps, **kw)
        out.analytic.append(an)
        parts.append(f"analytic {an.total_ms():.0f} ms ({others(an)}),")
        if plan.alt_storage and cfg.key in ("b", "c"):
            alt = "ssd" if out.inputs.storage == "hdd" else "hdd"
            session = storage_planner_settings(alt)
            va = run_analytic(cluster, reps=1, session=session, variant=alt, **kw)
            va.noisy = is_noisy(va.load, plan.max_others)
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
    quiet = Quiet(plan.max_others, plan.quiet_wait, plan.quiet_budget, window=3.0, log=log)
    meter = Meter(quiet, Retries(plan.retries), again=1, log=log)
    with pg15(plan.clients, plan.threads) as bench:
        cluster = bench.cluster
        log(f"cluster {cluster.data_dir}")
        out: Outcome | None = None
        for scale in plan.scales:
            switch(cluster, LOAD_CONF, LOAD_SETTINGS)
            init_s, size = load_data(bench, scale)
            # b for this data, as a user runs pgtune on the host with its data loaded
            doc = pgtune_json(
                cluster.binaries.exe("pg_config"), cluster.data_dir, plan.workload, plan.storage
            )
            b, inputs = pgtune_config(doc)
            if out is None:
                out = Outcome(plan, inputs, Path(cluster.base_dir).parent, started=started)
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
                    one_round(bench, cfg, scale, rnd, out, meter, log)
        assert out is not None
        out.quiet_waited = quiet.waited
        out.finished = time.time()
        return out


# --------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> tuple[Plan, argparse.Namespace]:
    p = BenchParser(__doc__, "scale 1, 1 s runs, one round")
    p.add_argument("--scales", default="100,400", help="pgbench scales (default 100,400)")
    p.add_argument("--rounds", type=int, default=3, help="rounds a b c (default 3)")
    p.add_argument("--seconds", type=int, default=60, help="length of a measured run (60)")
    load_options(p)
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
    p.add_argument(
        "--no-alt-storage",
        action="store_true",
        help="skip the analytic set with the other storage class's planner costs",
    )
    noise_options(p, quiet_wait=45.0, quiet_budget=600.0, retries=4)
    p.add_argument("--json", type=Path, help=f"write every run here (--record: {RAW.name})")
    a = p.parse(argv)
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
    log = progress(not args.quiet)
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
        # pgbench_effect keeps its section's description in step with SECTION_TEXT
        record_rows(SECTION, SECTION_TEXT, table_rows(out, table), refresh=True)
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
