"""What the roles_plan benchmark measured, and how it is reported and recorded: the commands
measured at each size and their targets, the runs, the medians over quiet runs, growth per
1,000 tables, the report and the RESULTS.md rows. ``run.py`` measures."""

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

SECTION = "## roles_plan"

TARGET_TABLES = 20000
TARGET_WALL_S = 5.0
TARGET_RSS_MB = 300.0
MIN_QUIET = 3  # quiet runs needed for medians of quiet runs only


# --------------------------------------------------------------------------- what is measured


@dataclass(frozen=True)
class PlanRun:
    """One measured ``pgtune`` process (a plan or an export)."""

    wall_ms: float
    cpu_ms: float  # the pgtune process, user + system
    server_ms: float
    rss_mb: float  # GNU time's %M, 10^6 bytes; NaN when not measured
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


@dataclass(frozen=True)
class ApiPlan:
    changes: int
    queries: int
    major: int
    seconds: float


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
        return used_runs(self.runs, MIN_QUIET)

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
        return is_noisy(self.load(), limit)

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
                f"             {others_text(res.load(), cfg.max_others)}"
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
    now = date_cell()
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
                others_text(res.load(), cfg.max_others),
                (command.target_text() + ": " if dense else "") + target_text(res),
            ]
            rows.append(table_row(cells))
    return rows
