#!/usr/bin/env python3
"""Is pgtune's advice the best on this machine? A grid search around it on PostgreSQL 15.

One pgbench data set (``$PGTUNE_PG_TMPDIR``, default /var/tmp, on the real disk) is served by
pgtune's configuration and by points of a small grid around it, one setting at a time:
``work_mem``, ``hash_mem_multiplier``, ``shared_buffers``, ``max_wal_size`` (x0.5 / x2),
``checkpoint_timeout`` (x0.5 / x2), ``jit`` (flipped), ``max_parallel_workers_per_gather`` (0 / x2)
and ``random_page_cost`` (x2 / 4). Two groups:

* **pgbench**: ``pgtune generate --format json --data-dir --workload mixed`` for this machine and
  its data; read-write (TPC-B-like) and select-only runs. Each measurement restarts the server
  with the configuration, prewarms, warms up, measures read-write, an explicit CHECKPOINT, then
  select-only.
* **analytic**: the same with ``--workload dw``; the analytic set of ``pgbench_effect``
  (``pgload.ANALYTIC``: many-group hash aggregate, window sorts, self-join, DISTINCT, a parallel
  scan). Settings a session can change are SET for the session, ``shared_buffers`` restarts.

In each round pgtune's point is measured between grid points, P g1 P g2 ... P (the order of the
grid reversed every other round), and each grid point is compared with the mean of its two
neighbouring pgtune measurements: a paired ratio per round, >1 when the grid point is better.
The cluster start, pgbench and the analytic set are ``bench/pgload.py``'s, pgtune's JSON and
budget ``bench/pgbench_effect/configs.py``'s; the CPU accounting, machine line and commit
``bench/common.py``'s.

Reported per workload: pgtune's share of the best point (1 / the best median paired ratio, 100 %
when no grid point beats it), beside the deterministic signals of every point (WAL per
transaction, requested checkpoints, hit ratio; temp bytes and spilling queries) and each point's
modelled memory peak (pgtune's budget model with the point's settings). Checks: pgtune's dw
configuration spills no analytic query; both configurations' modelled peaks are inside the budget
pgtune's JSON states. Targets (never an exit status): pgtune within 5 % of the best grid point on
every workload. Exit status 1 only when something failed.

Usage::

    python bench/advice_optimality/run.py --smoke      # scale 1, 1 s runs, 2 grid points
    python bench/advice_optimality/run.py --record     # full grid, appends to bench/RESULTS.md
    python bench/advice_optimality/run.py --dims work_mem,jit --scale 50 --duration 15 --rounds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]  # pgcluster.py; common.py

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
    others_spread,
    progress,
    record_rows,
    table_row,
)
from pgbench_effect.configs import Config, pgtune_config, pgtune_json  # noqa: E402
from pgload import (  # noqa: E402
    ANALYTIC,
    AnalyticRun,
    Meter,
    Pgbench,
    PgbenchRun,
    fmt_bytes,
    load_data,
    load_options,
    pg15,
    prewarm,
    spills_to_disk,
    switch,
    timed_checkpoint,
    warm_up,
)

from pgcluster import PgHarnessError  # noqa: E402
from pgtune.units import human_size  # noqa: E402

SECTION = "## advice_optimality"
TARGET = 0.95
WORKLOADS = {"rw": "read-write", "so": "select-only", "an": "analytic"}
# dimension -> the groups whose workloads it can move
DIMS: dict[str, tuple[str, ...]] = {
    "work_mem": ("an",),
    "hash_mem_multiplier": ("an",),
    "jit": ("an",),
    "max_parallel_workers_per_gather": ("an",),
    "shared_buffers": ("pgbench", "an"),
    "max_wal_size": ("pgbench",),
    "checkpoint_timeout": ("pgbench",),
    "random_page_cost": ("an",),
}
RESTART = {"shared_buffers"}  # every other dimension is SET for the analytic session
PG15_DEFAULTS = {  # (setting, unit) for dimensions pgtune leaves at PostgreSQL's default
    "work_mem": ("4096", "kB"),
    "hash_mem_multiplier": ("2", None),
    "jit": ("on", None),
    "max_parallel_workers_per_gather": ("2", None),
    "shared_buffers": ("16384", "8kB"),
    "max_wal_size": ("1024", "MB"),
    "checkpoint_timeout": ("300", "s"),
    "random_page_cost": ("4", None),
}
UNIT_KB = {"kB": 1, "8kB": 8, "MB": 1024}


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Point:
    group: str  # pgbench | an
    name: str  # "pgtune" or "work_mem x2"
    config: Config  # settings written to the include file
    session: dict[str, str]  # analytic: SET for the session instead of a restart

    @property
    def is_pgtune(self) -> bool:
        return self.name == "pgtune"


def _fmt(x: float) -> str:
    return f"{x:g}"


def grid_values(doc: dict[str, Any], dim: str) -> list[tuple[str, str]]:
    """(label, value) of the grid points of one dimension around pgtune's choice."""
    entry = doc["settings"].get(dim)
    setting, unit = (entry["setting"], entry["unit"]) if entry else PG15_DEFAULTS[dim]
    if dim == "jit":
        return [("jit " + ("off" if setting == "on" else "on"), "off" if setting == "on" else "on")]
    if unit in UNIT_KB:  # sizes: x0.5 and x2, in kB
        kb = int(setting) * UNIT_KB[unit]
        return [(f"{dim} x{f:g}", f"{int(kb * f)}kB") for f in (0.5, 2)]
    if unit == "s":
        return [(f"{dim} x{f:g}", f"{int(int(setting) * f)}s") for f in (0.5, 2)]
    v = float(setting)
    if dim == "hash_mem_multiplier":
        values = [max(1.0, v / 2), v * 2]
    elif dim == "max_parallel_workers_per_gather":
        cap = int(doc["settings"].get("max_parallel_workers", {"setting": 8})["setting"])
        values = [0.0, float(min(cap, max(1, int(v) * 2)))]
    else:  # random_page_cost
        values = [v * 2, 4.0]
    out: list[tuple[str, str]] = []
    for x in values:
        if x != v and _fmt(x) not in [val for _, val in out]:
            out.append((f"{dim} {_fmt(x)}", _fmt(x)))
    return out


def point_budget(base: Config, settings: dict[str, str], doc: dict[str, Any]) -> Any:
    """pgtune's budget model with a grid point's memory settings."""

    def kb(name: str) -> int:
        v = settings[name]
        if v.endswith("kB"):
            return int(v[:-2]) * 1024
        entry = doc["settings"][name]
        return int(entry["setting"]) * UNIT_KB[entry["unit"]] * 1024

    b = base.budget
    return dataclasses.replace(
        b,
        work_mem=kb("work_mem") if "work_mem" in settings else b.work_mem,
        shared_buffers=kb("shared_buffers") if "shared_buffers" in settings else b.shared_buffers,
        hash_mem_multiplier=float(settings.get("hash_mem_multiplier", b.hash_mem_multiplier)),
        parallel_per_gather=int(
            settings.get("max_parallel_workers_per_gather", b.parallel_per_gather or 0)
        )
        or b.parallel_per_gather,
        jit=settings["jit"] in ("on", "True", "true") if "jit" in settings else b.jit,
    )


def build_grid(group: str, base: Config, doc: dict[str, Any], dims: Sequence[str]) -> list[Point]:
    points = [Point(group, "pgtune", base, {})]
    for dim in dims:
        if group not in DIMS[dim]:
            continue
        for label, value in grid_values(doc, dim):
            settings = {**base.settings, dim: value}
            budget = point_budget(base, settings, doc)
            cfg = Config(base.key, f"{base.label} with {label}", settings, budget, base.notes)
            session = {dim: value} if group == "an" and dim not in RESTART else {}
            points.append(Point(group, label, cfg, session))
    return points


# --------------------------------------------------------------------------- the run


@dataclass
class Plan:
    scale: int
    rounds: int
    seconds: int
    warmup: int
    clients: int
    threads: int
    reps: int
    dims: list[str]
    storage: str | None
    max_others: float
    quiet_wait: float
    quiet_budget: float
    retries: int
    smoke: bool


@dataclass
class Measured:
    group: str
    point: str
    round: int
    slot: int  # position in the round's sequence
    rw: PgbenchRun | None = None
    so: PgbenchRun | None = None
    an: AnalyticRun | None = None


@dataclass
class Outcome:
    plan: Plan
    grids: dict[str, list[Point]] = field(default_factory=dict)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[Measured] = field(default_factory=list)
    db_size: int = 0
    retried: int = 0
    started: float = field(default_factory=time.time)


def sequence(points: list[Point], rnd: int) -> list[Point]:
    """P g1 P g2 ... P; the grid reversed every other round."""
    base, grid = points[0], points[1:]
    if rnd % 2 == 0:
        grid = grid[::-1]
    seq = [base]
    for g in grid:
        seq += [g, base]
    return seq


def measure_pgbench_point(
    bench: Pgbench, pt: Point, m: Measured, out: Outcome, meter: Meter
) -> str:
    plan = out.plan
    cluster = bench.cluster
    switch(cluster, pt.config.conf_text(), set(pt.config.settings))
    # Every point starts from the same table state. Each read-write run leaves ~200k dead rows
    # in pgbench_accounts (pgbench vacuums only branches and tellers); left to autovacuum,
    # their cleanup drifts through the sequence and favours points by their slot (the first
    # full grid had max_wal_size x2 "winning" select-only, which WAL cannot touch, by 12 %).
    with cluster.connect() as conn:
        conn.execute("VACUUM pgbench_accounts")
    prewarm(cluster)
    warm_up(bench, plan.warmup)
    kw: dict[str, Any] = {
        "config": pt.name,
        "scale": plan.scale,
        "rnd": m.round,
        "settle_s": 0.3,
        "seconds": plan.seconds,
    }
    m.rw = meter.pgbench(bench, workload="rw", **kw)
    m.rw.checkpoint_after_s, m.rw.checkpoint_after_buffers = timed_checkpoint(cluster)
    if plan.warmup:
        bench.run("so", max(2, plan.warmup // 2), vacuum=False)
    m.so = meter.pgbench(bench, workload="so", **kw)
    return f"rw {m.rw.tps:.0f} tps, so {m.so.tps:.0f} tps"


def execute(plan: Plan, log: Callable[[str], None]) -> Outcome:
    out = Outcome(plan)
    # A noisy run is measured again at once, so that it keeps its place between the same two
    # pgtune measurements, until quiet while the retry budget lasts; the noisy ones are dropped.
    quiet = Quiet(plan.max_others, plan.quiet_wait, plan.quiet_budget, window=3.0)
    meter = Meter(quiet, Retries(plan.retries), again=None)
    with pg15(plan.clients, plan.threads) as bench:
        cluster = bench.cluster
        init_s, out.db_size = load_data(bench, plan.scale)
        log(f"scale {plan.scale}: {human_size(out.db_size)} in {init_s:.0f} s")
        for group, workload in (("pgbench", "mixed"), ("an", "dw")):
            pg_config = cluster.binaries.exe("pg_config")
            doc = pgtune_json(pg_config, cluster.data_dir, workload, plan.storage)
            base, _ = pgtune_config(doc)
            out.docs[group] = doc
            out.grids[group] = build_grid(group, base, doc, plan.dims)
            if plan.smoke:
                del out.grids[group][2:]
            log(
                f"{group}: pgtune --workload {workload}, {len(out.grids[group]) - 1} grid points: "
                + ", ".join(p.name for p in out.grids[group][1:])
            )
        running = ""  # the include file the server runs with
        for rnd in range(1, plan.rounds + 1):
            for slot, pt in enumerate(sequence(out.grids["pgbench"], rnd)):
                if len(out.grids["pgbench"]) == 1:
                    break
                m = Measured("pgbench", pt.name, rnd, slot)
                text = measure_pgbench_point(bench, pt, m, out, meter)
                running = pt.config.conf_text()
                out.runs.append(m)
                log(f"  round {rnd} pgbench {pt.name}: {text}")
            for slot, pt in enumerate(sequence(out.grids["an"], rnd)):
                if len(out.grids["an"]) == 1:
                    break
                if pt.config.conf_text() != running:
                    switch(cluster, pt.config.conf_text(), set(pt.config.settings))
                    running = pt.config.conf_text()
                    prewarm(cluster)
                an = meter.analytic(
                    cluster,
                    config=pt.name,
                    scale=plan.scale,
                    rnd=rnd,
                    reps=plan.reps,
                    session=pt.session,
                )
                out.runs.append(Measured("an", pt.name, rnd, slot, an=an))
                log(f"  round {rnd} analytic {pt.name}: {an.total_ms():.0f} ms")
        out.retried = meter.retries.used
        return out


# --------------------------------------------------------------------------- summarising


def value(m: Measured, workload: str) -> float | None:
    """TPS (rw, so) or the analytic set's summed median latency (ms)."""
    run = getattr(m, workload)
    if run is None:
        return None
    return run.total_ms() if workload == "an" else run.tps


def paired(out: Outcome, group: str, workload: str, point: str) -> list[float]:
    """Per occurrence of ``point``: its figure against the mean of the neighbouring pgtune
    measurements, >1 when the point is better."""
    ratios = []
    runs = [m for m in out.runs if m.group == group]
    for m in runs:
        if m.point != point:
            continue
        near = [
            value(n, workload)
            for n in runs
            if n.round == m.round and n.point == "pgtune" and abs(n.slot - m.slot) == 1
        ]
        x, ref = value(m, workload), [v for v in near if v]
        if x and ref:
            base = statistics.mean(ref)
            ratios.append(x / base if workload != "an" else base / x)
    return ratios


@dataclass
class Line:
    workload: str
    point: str
    median: float  # TPS or ms
    ratios: list[float]  # paired, >1 better than pgtune
    signals: str
    peak: str
    others: list[float]

    @property
    def over(self) -> bool:
        return self.peak.endswith("OVER")

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 1.0


def signals(runs: list[Measured], workload: str) -> str:
    med = statistics.median
    if workload == "an":
        ans = [m.an for m in runs if m.an]
        temp = med(a.stats.temp_bytes for a in ans)
        spill = max(sum(1 for q in a.queries if spills_to_disk(q.signals)) for a in ans)
        cpu = med(sum(statistics.median(q.server_cpu_ms) for q in a.queries) for a in ans)
        return f"temp {fmt_bytes(temp)}, {spill}/{len(ANALYTIC)} spill, server CPU {cpu:.0f} ms"
    prs = [getattr(m, workload) for m in runs if getattr(m, workload)]
    hits = [r.stats.hit_ratio for r in prs if r.stats.hit_ratio is not None]
    text = f"hit {100 * med(hits):.1f}%" if hits else "hit n/a"
    cpus = [c for c in (r.cpu_ms_per_txn for r in prs) if c is not None]
    if cpus:
        text += f", CPU/txn {1000 * med(cpus):.0f} us"
    if workload == "rw":
        req = sum(r.stats.checkpoints_req for r in prs)
        text += f", WAL/txn {fmt_bytes(med(r.wal_per_txn for r in prs))}, req ckpt {req}"
    return text


def summarise(out: Outcome) -> list[Line]:
    lines: list[Line] = []
    for group, workloads in (("pgbench", ("rw", "so")), ("an", ("an",))):
        for wl in workloads:
            for pt in out.grids.get(group, []):
                runs = [m for m in out.runs if m.group == group and m.point == pt.name]
                vals = [v for v in (value(m, wl) for m in runs) if v is not None]
                if not vals:
                    continue
                loads = [getattr(m, wl).load for m in runs]
                peak = f"{pt.config.budget.peak / 1024**3:.1f} GB" + (
                    "" if pt.config.fits() else " OVER"
                )
                lines.append(
                    Line(
                        wl,
                        pt.name,
                        statistics.median(vals),
                        [] if pt.is_pgtune else paired(out, group, wl, pt.name),
                        signals(runs, wl),
                        peak,
                        [x.others_pct for x in loads if x is not None],
                    )
                )
    return lines


def best_line(lines: list[Line]) -> Line:
    """The best point whose modelled peak is inside the budget (pgtune's always is)."""
    return max((ln for ln in lines if not ln.over), key=lambda ln: ln.ratio)


def aa_spread(out: Outcome, workload: str) -> float | None:
    """The A/A test: pgtune against itself. Each pgtune measurement against the mean of the
    pgtune measurements two slots before and after it (the same pairing a grid point gets); the
    90th percentile of how far those ratios stray from 1. A grid point whose median ratio is
    inside it is not told apart from pgtune by this run."""
    group = "an" if workload == "an" else "pgbench"
    devs: list[float] = []
    for rnd in {m.round for m in out.runs if m.group == group}:
        seq = {m.slot: m for m in out.runs if m.group == group and m.round == rnd}
        for slot, m in seq.items():
            near = [seq[s] for s in (slot - 2, slot + 2) if s in seq]
            x, ref = value(m, workload), [v for v in (value(n, workload) for n in near) if v]
            if m.point == "pgtune" and x and ref:
                r = x / statistics.mean(ref)
                devs.append(max(r, 1 / r) - 1)
    if len(devs) < 2:
        return None
    return statistics.quantiles(devs, n=10, method="inclusive")[-1]


def verdicts(out: Outcome, lines: list[Line]) -> dict[str, str]:
    """Per workload: pgtune's share of the best point and the target's verdict."""
    res: dict[str, str] = {}
    for wl in WORKLOADS:
        wl_lines = [ln for ln in lines if ln.workload == wl]
        if not wl_lines:
            continue
        best = best_line(wl_lines)
        share = 1 / best.ratio if best.ratio > 1 else 1.0
        ok = "yes" if share >= TARGET else "NO"
        spread = aa_spread(out, wl)
        if share < TARGET and spread is not None and best.ratio - 1 <= spread:
            ok += f" (within noise: pgtune against itself varies {100 * spread:.1f} %)"
        who = "pgtune" if best.ratio <= 1 else f"{best.point}"
        over = [f"{ln.point} x{ln.ratio:.3f}" for ln in wl_lines if ln.over and ln.ratio > 1]
        res[wl] = f"{100 * share:.1f} % of best ({who}); within 5 %: {ok}" + (
            f" (over the budget, not counted: {', '.join(over)})" if over else ""
        )
    return res


def checks(out: Outcome) -> list[str]:
    res = []
    an_pgtune = [m.an for m in out.runs if m.group == "an" and m.point == "pgtune" and m.an]
    if an_pgtune:
        spills = sum(1 for a in an_pgtune for q in a.queries if spills_to_disk(q.signals)) + sum(
            a.stats.temp_bytes for a in an_pgtune
        )
        res.append(
            f"dw on the analytic set: {'0 spills, 0 temp bytes: yes' if not spills else 'SPILLS'}"
        )
    for group, wl in (("pgbench", "mixed"), ("an", "dw")):
        doc = out.docs.get(group)
        if doc:
            b = doc["budget"]
            ok = "yes" if b["peak_bytes"] <= b["limit_bytes"] else "NO"
            res.append(
                f"{wl} modelled peak {human_size(b['peak_bytes'])} inside the "
                f"{human_size(b['limit_bytes'])} budget: {ok}"
            )
    return res


def others_text(lines: list[Line], limit: float) -> str:
    return others_spread([x for ln in lines for x in ln.others], limit)


def report(out: Outcome, lines: list[Line]) -> str:
    p = out.plan
    unit = {"rw": "tps", "so": "tps", "an": "ms"}
    text = [
        f"advice_optimality: PostgreSQL 15, scale {p.scale} ({human_size(out.db_size)}), "
        f"{p.rounds} round(s), {p.seconds} s pgbench runs, grid {','.join(p.dims)}",
        f"machine: {machine()}; commit {git_commit()}",
    ]
    for wl, name in WORKLOADS.items():
        wl_lines = [ln for ln in lines if ln.workload == wl]
        if not wl_lines:
            continue
        text.append(f"\n{name}:")
        for ln in wl_lines:
            pr = (
                f"x{ln.ratio:.3f} vs pgtune ({', '.join(f'{r:.3f}' for r in ln.ratios)})"
                if ln.ratios
                else "-"
            )
            text.append(
                f"  {ln.point:<36} {ln.median:>10.1f} {unit[wl]:<4} {pr:<34} {ln.signals}; "
                f"peak {ln.peak}"
            )
    text.append("")
    text += [f"{WORKLOADS[wl]}: {v}" for wl, v in verdicts(out, lines).items()]
    text += checks(out)
    for wl, name in WORKLOADS.items():
        spread = aa_spread(out, wl)
        if spread is not None:
            text.append(f"{name}: pgtune against itself (A/A, p90) varies {100 * spread:.1f} %")
    text.append(
        f"others' CPU: {others_text(lines, p.max_others)}; noisy runs measured again: {out.retried}"
    )
    return "\n".join(text)


TABLE_HEADER = (
    "| date (UTC) | commit | machine | scale x rounds x s | grid | workload | pgtune share "
    "| pgtune | best point | checks | others' CPU |\n" + "|---" * 11 + "|"
)
SECTION_TEXT = f"""{SECTION}

pgtune's configuration against a grid around it on PostgreSQL 15, measured by
`python bench/advice_optimality/run.py --record` (see `bench/README.md`): *pgbench* rows use
`pgtune generate --workload mixed`, *analytic* rows `--workload dw`, each grid point changes one
setting and is measured between two measurements of pgtune's point in every round. *pgtune share*:
1 / the best grid point's median paired ratio (100 % when none beats pgtune); *best point* its
name, median and per-round ratios; *pgtune*: pgtune's median (TPS, or the analytic set's summed
median latency in ms) and signals (hit ratio, WAL per transaction, requested checkpoints; temp
bytes and spilling queries). *grid*: the dimensions searched (*reduced* when not all eight).
*checks*: 0 spills for dw on the analytic set and both modelled peaks inside pgtune's budget.
*others' CPU*: the other processes' share of the machine during the measured runs (> 5 %: noisy).
Target: pgtune share >= 95 % on every workload.

{TABLE_HEADER}
"""


def table_rows(out: Outcome, lines: list[Line]) -> list[str]:
    p = out.plan
    now = date_cell(out.started)
    reduced = "" if set(p.dims) == set(DIMS) else "reduced: "
    ver = verdicts(out, lines)
    chk = "; ".join(checks(out))
    rows = []
    for wl, name in WORKLOADS.items():
        wl_lines = [ln for ln in lines if ln.workload == wl]
        if not wl_lines:
            continue
        base = next(ln for ln in wl_lines if ln.point == "pgtune")
        best = best_line(wl_lines)
        best_text = (
            f"{best.point}: {best.median:.0f}, x{best.ratio:.3f} "
            f"({'/'.join(f'{r:.2f}' for r in best.ratios)})"
            if best.ratio > 1
            else "pgtune"
        )
        wl_noisy = [x for x in base.others + best.others if x > p.max_others]
        cells = [
            now,
            f"`{git_commit()}`",
            machine(),
            f"{p.scale} x {p.rounds} x {p.seconds}",
            reduced + ", ".join(p.dims),
            name + (" (noisy)" if wl_noisy else ""),
            ver[wl],
            f"{base.median:.0f}; {base.signals}",
            best_text,
            chk,
            others_text(wl_lines, p.max_others),
        ]
        rows.append(table_row(cells))
    return rows


# --------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> tuple[Plan, argparse.Namespace]:
    p = BenchParser(__doc__, "scale 1, 1 s runs, 2 grid points")
    p.add_argument("--scale", type=int, default=100, help="pgbench scale (100)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    p.add_argument("--duration", type=int, default=30, help="seconds of a pgbench run (30)")
    load_options(p)
    p.add_argument("--dims", default=",".join(DIMS), help="grid dimensions (default: all)")
    noise_options(p, quiet_wait=20.0, quiet_budget=600.0, retries=40)
    a = p.parse(argv)
    dims = a.dims.split(",")
    if not set(dims) <= set(DIMS):
        p.error(f"--dims: a comma-separated subset of {','.join(DIMS)}")
    plan = Plan(
        scale=1 if a.smoke else a.scale,
        rounds=1 if a.smoke else a.rounds,
        seconds=1 if a.smoke else a.duration,
        warmup=0 if a.smoke else a.warmup,
        clients=a.clients,
        threads=a.threads,
        reps=1 if a.smoke else a.reps,
        dims=dims,
        storage=a.storage,
        max_others=a.max_others,
        quiet_wait=0 if a.smoke else a.quiet_wait,
        quiet_budget=a.quiet_budget,
        retries=0 if a.smoke else a.retries,
        smoke=a.smoke,
    )
    return plan, a


def main(argv: Sequence[str] | None = None) -> int:
    plan, args = parse(argv)
    log = progress(not args.quiet)
    if plan.smoke:  # one point per group: max_wal_size x0.5 (pgbench), work_mem x0.5 (analytic)
        plan.dims = ["max_wal_size", "work_mem"]
    try:
        out = execute(plan, log)
    except (BenchError, PgHarnessError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"advice_optimality: FAIL: {exc}", file=sys.stderr)
        return 1
    lines = summarise(out)
    print(report(out, lines))
    failed = [m for m in out.runs for r in (m.rw, m.so) if r and (r.failed or not r.transactions)]
    if failed:
        print("advice_optimality: FAIL: failed or no transactions", file=sys.stderr)
        return 1
    if args.record:
        record_rows(SECTION, SECTION_TEXT, table_rows(out, lines))
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
