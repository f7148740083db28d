#!/usr/bin/env python3
"""Does observing the server help? stock -> hardware-only -> observed, on PostgreSQL 15.

Issue 13's benchmark proof. One pgbench data set on the VM disk (``$PGTUNE_PG_TMPDIR``, default
/var/tmp), run by the harness the pgbench benchmarks share (``bench/pgload.py``; ``bench/common.py``
for the CPU accounting, machine and commit), is served in turn by three configurations:

* **a** stock PostgreSQL 15;
* **b** hardware-only: ``pgtune generate --format json --data-dir`` (as pgbench_effect's b);
* **c** observed: ``pgtune generate --dsn DSN --observe 30s --format json`` (same machine
  arguments) taken while the load runs on b: pgbench read-write plus a loop of the analytic
  queries (``pgload.ANALYTIC``); its settings are written to the include file and the server is
  restarted, its ``ALTER ROLE`` / ``ALTER TABLE`` statements applied (and reset again before a and
  b run, so that they see the catalog as it was).

Every configuration preloads ``pg_stat_statements`` (the observed work_mem rule attributes temp
files to statements through it; without it pgtune says the source is unknown and leaves work_mem).

Rounds alternate a b c a b c; each configuration is restarted, prewarmed (``pg_prewarm``) and warmed
up (a discarded read-write run), then measured: a read-write pgbench run (requested/timed
checkpoints, WAL per transaction, TPS, latency), an explicit timed CHECKPOINT, and the analytic
set (median latencies, queries that spill, temp bytes). Others' CPU is recorded per run; a run
where it exceeded ``--max-others`` % is noisy (measured again while the retry budget lasts; medians
use quiet runs when at least two are quiet).

Usage::

    python bench/observe_effect/run.py [--scale 100] [--duration 60] [--rounds 3] [--observe 30s]
    python bench/observe_effect/run.py --record     # ... and add rows to bench/RESULTS.md
    python bench/observe_effect/run.py --smoke      # scale 1, short windows, one round (< 25 s)

Targets (reported, not an exit status): c has no requested checkpoint in the read-write run, c's
analytic set spills less than b's, c's modelled peak within pgtune's budget. Exit status 1 only
when something failed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]  # pgcluster.py; common.py

import psycopg  # noqa: E402
from common import (  # noqa: E402
    RESULTS,
    BenchError,
    BenchParser,
    Quiet,
    Retries,
    date_cell,
    git_commit,
    machine,
    noise_options,
    others_text,
    progress,
    record_rows,
    summarise,
    table_row,
)
from pgbench_effect.configs import Config, pgtune_config, pgtune_json, stock_config  # noqa: E402
from pgload import (  # noqa: E402
    ANALYTIC,
    LOAD_CONF,
    AnalyticRun,
    Meter,
    Pgbench,
    PgbenchRun,
    fmt_bytes,
    load_data,
    load_options,
    per_round,
    pg15,
    prewarm,
    switch,
    timed_checkpoint,
)
from psycopg import sql  # noqa: E402

from pgcluster import Cluster, PgBinaries, PgHarnessError  # noqa: E402
from pgtune.tuning.observe import parse_window  # noqa: E402
from pgtune.units import human_size  # noqa: E402

SECTION = "## observe_effect"
PRELOAD = "pg_stat_statements"
KEYS = ("a", "b", "c")
NAMES = {"a": "stock", "b": "hardware-only", "c": "observed"}


@dataclass
class Plan:
    scale: int
    rounds: int
    seconds: int  # measured read-write run
    warmup: int
    observe: str
    clients: int
    threads: int
    reps: int
    workload: str
    storage: str | None
    max_others: float
    retries: int
    quiet_wait: float
    quiet_budget: float
    settle_s: float
    smoke: bool


@dataclass
class Catalog:
    """The observed configuration's statements, and how to undo them."""

    apply: list[sql.Composed] = field(default_factory=list)
    undo: list[sql.Composed] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    plan: Plan
    configs: dict[str, Config] = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog)
    observed: dict[str, Any] = field(default_factory=dict)  # the JSON's "observed" section
    reasons: dict[str, str] = field(default_factory=dict)  # adjusted setting -> reason
    observe_load: dict[str, Any] = field(default_factory=dict)
    pgbench: list[PgbenchRun] = field(default_factory=list)  # noisy ones and retries included
    analytic: list[AnalyticRun] = field(default_factory=list)
    db_size: int = 0
    started: float = field(default_factory=time.time)
    finished: float = 0.0


# --------------------------------------------------------------------------- configurations


def with_preload(cfg: Config) -> Config:
    settings = dict(cfg.settings)
    libs = [x.strip() for x in settings.get("shared_preload_libraries", "").split(",") if x.strip()]
    if PRELOAD not in libs:
        libs.append(PRELOAD)
    settings["shared_preload_libraries"] = ",".join(libs)
    return replace(cfg, settings=settings)


def catalog_of(observed: dict[str, Any]) -> Catalog:
    cat = Catalog()
    for r in observed.get("role_settings", []):
        role, name, value = r["role"], r["name"], str(r["value"])
        cat.apply.append(
            sql.SQL("ALTER ROLE {} SET {} = {}").format(
                sql.Identifier(role), sql.Identifier(name), sql.Literal(value)
            )
        )
        cat.undo.append(
            sql.SQL("ALTER ROLE {} RESET {}").format(sql.Identifier(role), sql.Identifier(name))
        )
        cat.text.append(f"ALTER ROLE {role} SET {name} = {value}")
    for t in observed.get("table_settings", []):
        rel = sql.Identifier(t["schema"], t["table"])
        opts = t["options"]
        cat.apply.append(
            sql.SQL("ALTER TABLE {} SET ({})").format(
                rel,
                sql.SQL(", ").join(
                    sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(float(v)))
                    for k, v in opts.items()
                ),
            )
        )
        cat.undo.append(
            sql.SQL("ALTER TABLE {} RESET ({})").format(
                rel, sql.SQL(", ").join(sql.Identifier(k) for k in opts)
            )
        )
        cat.text.append(
            f"ALTER TABLE {t['table']} SET ("
            + ", ".join(f"{k} = {v}" for k, v in opts.items())
            + ")"
        )
    return cat


def use(cluster: Cluster, cfg: Config, out: Outcome) -> None:
    """Restart with ``cfg``; the observed statements in the catalog only for c."""
    statements = out.catalog.apply if cfg.key == "c" else out.catalog.undo
    if statements:
        with cluster.connect() as conn:
            for stmt in statements:
                conn.execute(stmt)
    switch(cluster, cfg.conf_text(), set(cfg.settings))


# --------------------------------------------------------------------------- observing


def analytic_loop(cluster: Cluster, stop: threading.Event, done: list[int]) -> None:
    with cluster.connect() as conn:
        while not stop.is_set():
            for _, query in ANALYTIC:
                if stop.is_set():
                    break
                conn.execute(query).fetchall()
                done[0] += 1


def observe(
    cluster: Cluster, bench: Pgbench, binaries: PgBinaries, out: Outcome, log: Callable[[str], None]
) -> dict[str, Any]:
    """``pgtune generate --dsn --observe`` while pgbench read-write and the analytic queries run
    on b (already started)."""
    plan = out.plan
    window = parse_window(plan.observe) or 0.0
    stop = threading.Event()
    done = [0]
    result: dict[str, Any] = {}
    lead = 1 if plan.smoke else 3  # seconds of load before the window opens

    def pgbench() -> None:
        try:
            result["rw"] = bench.run("rw", int(window) + lead + 3, vacuum=False)
        except BenchError as exc:
            result["error"] = exc

    loaders = [
        threading.Thread(target=pgbench),
        threading.Thread(target=analytic_loop, args=(cluster, stop, done)),
    ]
    for t in loaders:
        t.start()
    try:
        time.sleep(lead)
        dsn = f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user=postgres"
        log(f"observing b for {plan.observe} under pgbench read-write + the analytic loop ...")
        doc = pgtune_json(
            binaries.exe("pg_config"),
            cluster.data_dir,
            plan.workload,
            plan.storage,
            extra=["--dsn", dsn, "--observe", plan.observe],
            timeout=window + 180,
        )
    finally:
        stop.set()
        for t in loaders:
            t.join()
    if "error" in result:
        raise result["error"]
    tps = result["rw"][0]
    out.observe_load = {"pgbench_tps": tps, "analytic_queries": done[0]}
    return doc


# --------------------------------------------------------------------------- the run


def one_round(
    bench: Pgbench, cfg: Config, rnd: int, out: Outcome, meter: Meter, log: Callable[[str], None]
) -> None:
    plan = out.plan
    cluster = bench.cluster
    t0 = time.monotonic()
    use(cluster, cfg, out)
    prewarm(cluster)
    if plan.warmup:
        bench.run("rw", plan.warmup, vacuum=True)
    kw: dict[str, Any] = {"config": cfg.key, "scale": plan.scale, "rnd": rnd}
    rw = meter.pgbench(
        bench, out.pgbench, workload="rw", seconds=plan.seconds, settle_s=plan.settle_s, **kw
    )
    rw.checkpoint_after_s, rw.checkpoint_after_buffers = timed_checkpoint(cluster)
    an = meter.analytic(cluster, retry=False, reps=plan.reps, **kw)
    out.analytic.append(an)
    ro, ao = others_text(rw.load), others_text(an.load)
    log(
        f"  round {rnd} {cfg.key}: rw {rw.tps:.0f} tps, {rw.latency_ms:.2f} ms, ckpt req "
        f"{rw.stats.checkpoints_req}/timed {rw.stats.checkpoints_timed}, WAL/txn "
        f"{rw.wal_per_txn:.0f} B (others {ro}); analytic {an.total_ms():.0f} ms, "
        f"{spilling(an)}/{len(an.queries)} spill, temp {human_size(an.stats.temp_bytes)} "
        f"(others {ao}); {time.monotonic() - t0:.0f} s"
    )


def execute(plan: Plan, log: Callable[[str], None]) -> Outcome:
    out = Outcome(plan)
    quiet = Quiet(plan.max_others, plan.quiet_wait, plan.quiet_budget, window=3.0, log=log)
    meter = Meter(quiet, Retries(plan.retries), again=1, log=log)
    load_conf = LOAD_CONF + f"shared_preload_libraries = '{PRELOAD}'\n"
    with pg15(plan.clients, plan.threads, load_conf) as bench:
        cluster, binaries = bench.cluster, bench.cluster.binaries
        with cluster.connect() as conn:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {PRELOAD}")
        init_s, out.db_size = load_data(bench, plan.scale)
        log(f"scale {plan.scale}: pgbench -i {init_s:.0f} s, database {human_size(out.db_size)}")
        doc = pgtune_json(binaries.exe("pg_config"), cluster.data_dir, plan.workload, plan.storage)
        b, inputs = pgtune_config(doc)
        b = with_preload(replace(b, label="pgtune generate (hardware only)"))
        a = with_preload(stock_config(inputs))
        out.configs = {"a": a, "b": b}
        # observe the load on b
        use(cluster, b, out)
        prewarm(cluster)
        odoc = observe(cluster, bench, binaries, out, log)
        c, _ = pgtune_config(odoc)
        c = with_preload(replace(c, key="c", label=f"pgtune generate --observe {plan.observe}"))
        out.configs["c"] = c
        out.observed = odoc.get("observed", {})
        out.reasons = {
            n: str(odoc["settings"][n].get("reason", ""))
            for n in out.observed.get("adjusted", [])
            if n in odoc["settings"]
        }
        out.catalog = catalog_of(out.observed)
        changed = {
            n: (b.settings.get(n, "-"), c.settings.get(n, "-"))
            for n in sorted(set(b.settings) | set(c.settings))
            if b.settings.get(n) != c.settings.get(n)
        }
        log(
            "observed changes: "
            + (", ".join(f"{n} {x} -> {y}" for n, (x, y) in changed.items()) or "none")
            + ("; " + "; ".join(out.catalog.text) if out.catalog.text else "")
        )
        for rnd in range(1, plan.rounds + 1):
            for key in KEYS:
                one_round(bench, out.configs[key], rnd, out, meter, log)
        out.finished = time.time()
        return out


# --------------------------------------------------------------------------- summarising


def spilling(a: AnalyticRun) -> int:
    return sum(1 for q in a.queries if q.temp_bytes > 0)


def chosen_rw(out: Outcome, key: str) -> list[PgbenchRun]:
    """Per round, the quiet run if there is one, else the last."""
    per = per_round([r for r in out.pgbench if r.config == key])
    return [per[k] for k in sorted(per)]


def analytic_of(out: Outcome, key: str) -> list[AnalyticRun]:
    return [a for a in out.analytic if a.config == key]


def med(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def others_list(loads: Sequence[Any], limit: float) -> str:
    """Per configuration, its runs in the order measured (retries of noisy runs included)."""
    parts = []
    for key in KEYS:
        vals = [x.load.others_pct for x in loads if x.config == key and x.load is not None]
        parts.append(f"{key} " + ", ".join(f"{v:.1f}" + ("*" if v > limit else "") for v in vals))
    return "; ".join(parts) + " %"


@dataclass(frozen=True)
class Row:
    workload: str  # read-write | analytic
    cells: dict[str, str]
    c_vs_b: str
    c_vs_a: str
    signals: str
    others: str
    noisy: bool


def ratio_text(out: Outcome, workload: str, x: str, y: str) -> str:
    """Ratio of medians (>1: x better) with the per-round paired ratios."""
    if workload == "rw":
        xs = {r.round: r.tps for r in chosen_rw(out, x)}
        ys = {r.round: r.tps for r in chosen_rw(out, y)}
        pairs = [xs[k] / ys[k] for k in xs if ys.get(k)]
        mx, my = med(list(xs.values())), med(list(ys.values()))
        r = mx / my if mx and my else None
    else:
        xs = {a.round: a.total_ms() for a in analytic_of(out, x)}
        ys = {a.round: a.total_ms() for a in analytic_of(out, y)}
        pairs = [ys[k] / xs[k] for k in xs if k in ys and xs[k]]
        mx, my = med(list(xs.values())), med(list(ys.values()))
        r = my / mx if mx and my else None
    if r is None:
        return "n/a"
    return f"{r:.2f} [{min(pairs):.2f}-{max(pairs):.2f}]" if pairs else f"{r:.2f}"


def rows(out: Outcome) -> list[Row]:
    plan = out.plan
    cells: dict[str, str] = {}
    sig: list[str] = []
    every_rw: list[PgbenchRun] = []
    noisy = False
    for key in KEYS:
        runs = chosen_rw(out, key)
        every_rw += [r for r in out.pgbench if r.config == key]
        s = summarise([(r.tps, r.noisy) for r in runs])
        lat = summarise([(r.latency_ms, r.noisy) for r in runs])
        noisy |= bool(s and s.noisy_used) or any(r.noisy for r in runs)
        cells[key] = (
            f"{s.median:.0f} tps ({s.low:.0f}-{s.high:.0f}), {lat.median:.2f} ms"
            if s and lat
            else "n/a"
        )
        req = [r.stats.checkpoints_req for r in runs]
        timed = [r.stats.checkpoints_timed for r in runs]
        wal = med([r.wal_per_txn for r in runs])
        after = med([r.checkpoint_after_s or 0.0 for r in runs])
        sig.append(
            f"{key}: ckpt req/timed {sum(req)}/{sum(timed)} ({len(runs)} runs), WAL/txn "
            f"{fmt_bytes(wal or 0)}, CHECKPOINT after {after or 0:.1f}s"
        )
    rw = Row(
        "read-write",
        cells,
        ratio_text(out, "rw", "c", "b"),
        ratio_text(out, "rw", "c", "a"),
        "; ".join(sig),
        others_list(every_rw, plan.max_others),
        noisy,
    )
    cells, sig, every_an, noisy = {}, [], [], False
    for key in KEYS:
        runs = analytic_of(out, key)
        every_an += runs
        noisy |= sum(1 for a in runs if not a.noisy) < 2 and any(a.noisy for a in runs)
        tot = med([a.total_ms() for a in runs])
        lo = min((a.total_ms() for a in runs), default=0)
        hi = max((a.total_ms() for a in runs), default=0)
        cells[key] = f"{tot:.0f} ms ({lo:.0f}-{hi:.0f})" if tot is not None else "n/a"
        temp = med([a.stats.temp_bytes for a in runs]) or 0
        spill = med([spilling(a) for a in runs]) or 0
        names = sorted({q.name for a in runs for q in a.queries if q.temp_bytes > 0})
        sig.append(
            f"{key}: {spill:.0f}/{len(ANALYTIC)} queries spill"
            + (f" ({', '.join(names)})" if names else "")
            + f", temp {fmt_bytes(temp)}/round"
        )
    an = Row(
        "analytic",
        cells,
        ratio_text(out, "an", "c", "b"),
        ratio_text(out, "an", "c", "a"),
        "; ".join(sig),
        others_list(every_an, plan.max_others),
        noisy,
    )
    return [rw, an]


def changes(out: Outcome) -> list[str]:
    b, c = out.configs["b"], out.configs["c"]
    lines = []
    for n in sorted(set(b.settings) | set(c.settings)):
        x, y = b.settings.get(n), c.settings.get(n)
        if x != y:
            reason = out.reasons.get(n, "")
            lines.append(
                f"{n} {x or '(default)'} -> {y or '(default)'}" + (f": {reason}" if reason else "")
            )
    return lines + out.catalog.text


def targets(out: Outcome) -> str:
    c_rw = chosen_rw(out, "c")
    b_an, c_an = analytic_of(out, "b"), analytic_of(out, "c")
    no_req = all(r.stats.checkpoints_req == 0 for r in c_rw)
    fewer = (med([spilling(a) for a in c_an]) or 0) < (med([spilling(a) for a in b_an]) or 0) or (
        med([spilling(a) for a in c_an]) or 0
    ) == 0
    fits = out.configs["c"].fits()
    yn = {True: "yes", False: "NO"}
    return (
        f"c no requested ckpt {yn[no_req]}; c spills less than b or not at all {yn[fewer]}; "
        f"c within budget {yn[fits]}"
    )


def window_figures(observed: dict[str, Any]) -> str:
    f = observed.get("figures", {})
    spills = observed.get("spilling_statements", [])
    return (
        f"WAL {human_size(f.get('wal_bytes') or 0)} in {f.get('window') or 0:.0f} s, "
        f"{f.get('transactions', 0)} transactions, checkpoints requested/timed "
        f"{f.get('checkpoints_requested', '?')}/{f.get('checkpoints_timed', '?')}, temp files "
        f"{f.get('temp_files', '?')} ({human_size(f.get('temp_bytes', 0) or 0)}), "
        f"{len(spills)} spilling statement(s)"
    )


def report(out: Outcome, table: list[Row]) -> str:
    plan = out.plan
    lines = [
        f"observe_effect: PostgreSQL 15, scale {plan.scale} ({human_size(out.db_size)}), "
        f"{plan.rounds} round(s) a b c, {plan.seconds} s read-write runs, observed "
        f"{plan.observe}; {machine()}; commit {git_commit()}",
        f"while observing b: pgbench {out.observe_load.get('pgbench_tps', 0):.0f} tps, "
        f"{out.observe_load.get('analytic_queries', 0)} analytic queries; pgtune saw "
        + window_figures(out.observed),
        "",
    ]
    for key in KEYS:
        cfg = out.configs[key]
        lines.append(f"{key} {NAMES[key]}: {cfg.label}; modelled peak {cfg.peak_text()}")
    lines.append("observed (c) vs hardware-only (b):")
    lines += [f"  {x}" for x in changes(out)] or ["  no change"]
    for f in out.observed.get("findings", []):
        lines.append(f"  finding: {f}")
    lines.append("")
    for r in table:
        lines.append(f"{r.workload}{' (noisy)' if r.noisy else ''}:")
        for key in KEYS:
            lines.append(f"  {key} {NAMES[key]:14} {r.cells[key]}")
        lines.append(f"  c vs b {r.c_vs_b}, c vs a {r.c_vs_a} (>1: c better)")
        lines.append(f"  signals: {r.signals}")
        lines.append(f"  others' CPU per run (in order, retries included; * noisy): {r.others}")
    lines.append(f"targets: {targets(out)}")
    lines.append(f"{(out.finished - out.started) / 60:.1f} min")
    return "\n".join(lines)


TABLE_HEADER = (
    "| date (UTC) | commit | machine | size | workload | a stock | b hardware-only | c observed "
    "| c vs b | c vs a | signals (a; b; c) | others' CPU per run | observed changes | targets |"
)
TABLE_RULE = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
SECTION_TEXT = f"""{SECTION}

Issue 13's proof, measured by `python bench/observe_effect/run.py --record` (see
`bench/README.md`): one PostgreSQL 15 pgbench data set served by **a** stock settings, **b**
`pgtune generate --data-dir` (hardware only) and **c** `pgtune generate --dsn DSN --observe`
taken while pgbench read-write and a loop of pgbench_effect's analytic queries ran on b (settings
applied and restarted, its ALTER ROLE / ALTER TABLE statements applied for c only); every
configuration preloads pg_stat_statements. Alternated a b c per round, each restarted, prewarmed
and warmed up. *read-write*: median TPS (min-max) and median latency; *analytic*: median over
rounds of the summed query latencies (min-max). *c vs b*, *c vs a*: ratio of medians, >1 means c
is better, with the per-round paired ratios. *signals*: requested/timed checkpoints summed over
the measured read-write runs, median WAL per transaction, the explicit CHECKPOINT after each run;
queries whose EXPLAIN shows temp blocks written and temp bytes per round (pg_stat_database).
*others' CPU per run*: CPU of all other processes and steal during each run, per configuration in
the order measured (retries of noisy runs included), `*` above 5 % (noisy).

{TABLE_HEADER}
{TABLE_RULE}
"""


def table_rows(out: Outcome, table: list[Row]) -> list[str]:
    plan = out.plan
    size = (
        f"scale {plan.scale} ({human_size(out.db_size)}); {plan.rounds}x{plan.seconds}s; "
        f"observed {plan.observe}"
    )
    ch = "; ".join(x.split(":")[0] for x in changes(out)) or "none"
    head = [date_cell(out.started), f"`{git_commit()}`", machine(), size]
    return [
        table_row(
            [
                *head,
                r.workload + (" (noisy)" if r.noisy else ""),
                *(r.cells[k] for k in KEYS),
                r.c_vs_b,
                r.c_vs_a,
                r.signals,
                r.others,
                ch,
                targets(out),
            ]
        )
        for r in table
    ]


# --------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> tuple[Plan, argparse.Namespace]:
    p = BenchParser(__doc__, "scale 1, short windows, one round")
    p.add_argument("--scale", type=int, default=100, help="pgbench scale (100)")
    p.add_argument("--duration", type=int, default=60, help="measured read-write run, s (60)")
    p.add_argument("--rounds", type=int, default=3, help="rounds a b c (3)")
    p.add_argument("--observe", default="30s", help="observation window on b (30s)")
    load_options(p)
    p.add_argument("--workload", default="mixed", help="pgtune --workload (mixed)")
    noise_options(p, quiet_wait=30.0, quiet_budget=300.0, retries=3)
    a = p.parse(argv)
    plan = Plan(
        scale=1 if a.smoke else a.scale,
        rounds=1 if a.smoke else a.rounds,
        seconds=1 if a.smoke else a.duration,
        warmup=0 if a.smoke else a.warmup,
        observe="2s" if a.smoke else a.observe,
        clients=a.clients,
        threads=a.threads,
        reps=1 if a.smoke else a.reps,
        workload=a.workload,
        storage=a.storage,
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
    try:
        out = execute(plan, log)
    except (
        BenchError,
        PgHarnessError,
        RuntimeError,
        OSError,
        subprocess.SubprocessError,
        psycopg.Error,
    ) as exc:
        print(f"observe_effect: FAIL: {exc}", file=sys.stderr)
        return 1
    table = rows(out)
    print(report(out, table))
    failed = [f"{r.config}: {r.failed} failed transactions" for r in out.pgbench if r.failed]
    if failed:
        print("observe_effect: FAIL: " + "; ".join(failed), file=sys.stderr)
        return 1
    if args.record:
        record_rows(SECTION, SECTION_TEXT, table_rows(out, table))
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
