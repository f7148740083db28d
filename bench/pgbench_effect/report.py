"""What the pgbench_effect benchmark measured, and how it is reported and recorded: the plan of
a run and its outcome, the medians over quiet runs, the ratios between configurations and their
signals, the report, the RESULTS.md rows and the JSON dump. ``run.py`` measures."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    Summary,
    date_cell,
    git_commit,
    machine,
    others_spread,
    summarise,
    table_row,
)
from pgbench_effect.configs import Config, Inputs, pgtune_database
from pgload import (
    ANALYTIC,
    AnalyticRun,
    PgbenchRun,
    as_json,
    fmt_bytes,
    per_round,
    spills_to_disk,
)

from pgtune.units import human_size

SECTION = "## pgbench_effect"
WORKLOADS = {"rw": "read-write", "so": "select-only", "an": "analytic"}
TARGET_VS_C = 0.98
MACHINE = "PostgreSQL 15"  # named in the machine line instead of the Python


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


# --------------------------------------------------------------------------- summarising


def runs_for(out: Outcome, scale: int, workload: str, cfg: str) -> list[PgbenchRun]:
    return [
        r for r in out.pgbench if r.scale == scale and r.workload == workload and r.config == cfg
    ]


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
    xr = per_round(runs_for(out, scale, workload, x))
    yr = per_round(runs_for(out, scale, workload, y))
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
            others = others_spread(loads)
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
        f"machine: {machine(MACHINE)}; commit {git_commit()}; cluster under {out.data_dir}",
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
    now = date_cell(out.started)
    mach = (
        f"{machine(MACHINE)}; {out.inputs.storage} ({out.inputs.storage_source.split(',')[0]}); "
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
                row.signals,
                row.others,
                f"b>=a {va}; b>=0.98c {vc}",
            ]
            lines.append(table_row(cells))
        lines.append(table_row([now, commit, mach, *peak_cells(out, scale)]))
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
        )
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


def dump(out: Outcome, path: Path) -> None:
    doc = {
        "started": out.started,
        "finished": out.finished,
        "commit": git_commit(),
        "machine": machine(MACHINE),
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
