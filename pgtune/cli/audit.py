"""`pgtune audit` and `pgtune report merge`: the access review of one cluster or a fleet.

Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it or a cluster that
could not be audited, 2 usage errors, a bad baseline, or no cluster could be audited at all,
3 invalid policy or template, 4 output file error. psycopg and jinja2 are imported only when
a command runs.
"""

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pgtune.cli.common import handle_errors, say

if TYPE_CHECKING:
    from pgtune.access.policy.document import Policy
    from pgtune.audit.report import Doc

report_app = typer.Typer(
    name="report",
    help="Combine per-cluster audit reports (JSON) into one report.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"


Format = Annotated[
    ReportFormat,
    typer.Option("--format", help="md (for a ticket), html (one self-contained file) or json."),
]
Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the report here (default: stdout).")
]
Force = Annotated[bool, typer.Option("--force", help="Replace --output (a backup is kept).")]
TemplatesDir = Annotated[
    Path | None,
    typer.Option("--templates-dir", help="Use report.md.j2 / report.html.j2 from here."),
]


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
    app.add_typer(report_app)


def _emit(
    report: "Doc", fmt: ReportFormat, output: Path | None, force: bool, tdir: Path | None
) -> None:
    from pgtune.audit.report import render
    from pgtune.files import write_atomic

    text = render(report, fmt.value, tdir)
    if output is None:
        typer.echo(text, nl=False)
        return
    backup = write_atomic(output, text, force=force)
    say(f"pgtune: wrote {output}" + (f" (previous one kept as {backup})" if backup else ""))


def _summarise(report: "Doc") -> None:
    summary = report["summary"]
    counts = ", ".join(f"{n} {s}" for s, n in summary["findings"].items() if n) or "none"
    line = f"pgtune: {summary['clusters']} cluster(s), findings: {counts}"
    if summary["unreachable"]:
        line += f"; {summary['unreachable']} could not be audited"
    say(line)


@handle_errors
def audit(
    dsn: Annotated[
        list[str] | None,
        typer.Option(
            "--dsn",
            help="libpq DSN or URI of a cluster; repeat for a fleet (passwords are never printed).",
        ),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory", help="File with one DSN or libpq service name per line (# comments)."
        ),
    ] = None,
    database: Annotated[
        list[str] | None,
        typer.Option(
            "--database", help="Audit these databases (default: all that accept connections)."
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Access policy YAML: report whether each cluster matches."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="The previous review's JSON: report what changed."),
    ] = None,
    output_format: Format = ReportFormat.md,
    output: Output = None,
    force: Force = False,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 on a finding at or above this severity."),
    ] = FailOn.high,
    jobs: Annotated[int, typer.Option("--jobs", help="Clusters audited at the same time.")] = 4,
    connect_timeout: Annotated[
        int | None,
        typer.Option("--connect-timeout", help="Seconds to wait for each server (default 10)."),
    ] = None,
    templates_dir: TemplatesDir = None,
) -> None:
    """Access review and security findings of one cluster or a fleet, as Markdown, HTML or
    JSON. Exit 0 when no finding reaches --fail-on, 1 otherwise or when a cluster could not be
    audited, 2 on usage errors or when no cluster could be audited."""
    from pgtune.audit import fleet
    from pgtune.audit.report import build_report, exit_code, load_report
    from pgtune.errors import UsageError

    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs!r}")
    targets = fleet.targets(dsn or [], inventory)
    options = fleet.AuditOptions(
        databases=tuple(database) if database else None,
        timeout=connect_timeout,
        baseline=load_report(baseline, "baseline") if baseline is not None else None,
        baseline_file=str(baseline) if baseline is not None else None,
        policy_file=str(policy) if policy is not None else None,
        policy=_load_policy(policy),
    )
    interactive = _interactive()
    if interactive:
        say(f"pgtune: auditing {len(targets)} cluster(s), {min(jobs, len(targets))} at a time")

    def progress(done: int, total: int, section: "Doc") -> None:
        if interactive:
            say(f"pgtune: [{done}/{total}] {fleet.describe(section)}")

    sections = fleet.audit_fleet(targets, options, jobs=jobs, progress=progress)
    report = build_report(sections)
    _emit(report, output_format, output, force, templates_dir)
    for section in sections:
        if section["status"] != "ok" and not interactive:  # a terminal has seen it already
            say(f"pgtune: {fleet.describe(section)}")
    _summarise(report)
    code = exit_code(report, fail_on.value)
    if code == 2:
        say("pgtune: error: no cluster could be audited")
    if code:
        raise typer.Exit(code)


def _interactive() -> bool:
    """Progress only on a terminal: cron mail and CI logs get the summary line alone."""
    return sys.stderr.isatty()


def _load_policy(path: Path | None) -> "Policy | None":
    if path is None:
        return None
    from pgtune.access.policy.load import load_policy

    return load_policy(path)


@report_app.command("merge")
@handle_errors
def merge(
    reports: Annotated[
        list[Path],
        typer.Argument(help="Reports written by `pgtune audit --format json`.", show_default=False),
    ],
    output_format: Format = ReportFormat.md,
    output: Output = None,
    force: Force = False,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 on a finding at or above this severity "
            "(default: exit 0 whatever the findings).",
        ),
    ] = None,
    templates_dir: TemplatesDir = None,
) -> None:
    """Combine per-cluster JSON reports into one report, the same as auditing the clusters
    together in one run."""
    from pgtune.audit.report import exit_code, load_report, merge_reports

    report = merge_reports([load_report(path) for path in reports])
    _emit(report, output_format, output, force, templates_dir)
    _summarise(report)
    if fail_on is not None and (code := exit_code(report, fail_on.value)):
        raise typer.Exit(code)
