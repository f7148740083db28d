"""What the audit_scale benchmark measured, and how it is reported and recorded: the runs of
each format, medians over quiet runs, the targets, the report and the RESULTS.md rows. ``run.py``
measures."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from common import (
    Load,
    combined,
    date_cell,
    git_commit,
    is_noisy,
    machine,
    others_text,
    pgtune_argv,
    table_row,
    used_runs,
)
from pgtune_runs import GNU_TIME

SECTION = "## audit_scale"

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
        return used_runs(self.of(fmt), MIN_QUIET)

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
        return is_noisy(self.load(), self.settings.max_others)

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


# --------------------------------------------------------------------------- reporting


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
        f"others' CPU: {others_text(out.load(), out.settings.max_others)}",
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


def result_row(out: Outcome) -> str:
    facts = out.facts
    assert facts is not None
    cfg = out.settings
    dense = cfg.shape == "dense"

    def pair(text: Callable[[str], str]) -> str:
        return f"{_per_format(out, 'html', text)} / {_per_format(out, 'json', text)}"

    cells = [
        date_cell(),
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
        others_text(out.load(), out.settings.max_others),
        (targets_text(cfg.shape, cfg.formats) + ": " if dense else "") + target_text(out),
    ]
    return table_row(cells)


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
