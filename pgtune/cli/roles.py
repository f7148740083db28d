"""`pgtune roles plan | apply | export | init`: the access policy against a live cluster.

Exit codes: 0 in sync / applied, 1 drift with --check, 2 usage or connection error,
3 invalid policy file, 4 output file error, 6 the server refused a statement (rolled back).
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pgtune.cli.common import handle_errors, say

if TYPE_CHECKING:
    from pgtune.access.plan import Change

roles_app = typer.Typer(
    name="roles",
    help="Access policy (YAML) → least-privilege SQL, diffed against the live cluster.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class PlanFormat(StrEnum):
    text = "text"
    sql = "sql"
    json = "json"


PolicyPath = Annotated[Path, typer.Option("--policy", help="The access policy YAML file.")]
Dsn = Annotated[
    str,
    typer.Option("--dsn", help="libpq DSN or URI; its database runs cluster-wide statements."),
]
Format = Annotated[PlanFormat, typer.Option("--format", help="text, sql or json.")]
SetPasswords = Annotated[
    bool,
    typer.Option(
        "--set-passwords",
        help="Also set the password of existing roles that name a password_env "
        "(new roles always get theirs).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(roles_app)


def _render(changes: "list[Change]", first_db: str, fmt: PlanFormat) -> str:
    from pgtune.access.apply import group_by_database

    if fmt is PlanFormat.json:
        return (
            json.dumps(
                {
                    "format_version": 1,
                    "changes": [
                        {
                            "database": c.database or first_db,
                            "reason": c.reason,
                            "sql": c.sql_text(),
                            # drift shown for review; pgtune apply does not run it
                            "report_only": c.report_only,
                        }
                        for c in changes
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    from pgtune.names import one_line, shown
    from pgtune.sqltext import psql_connect

    lines: list[str] = []
    for db, batch in group_by_database(changes, first_db).items():
        if not batch:
            continue
        if fmt is PlanFormat.sql:
            lines += [psql_connect(db), "BEGIN;"]
            for c in batch:
                lines += [f"-- {one_line(c.reason)}", c.sql_text()]
            lines.append("COMMIT;")
        else:
            lines.append(f"database {shown(db)}:")
            for c in batch:
                lines += [f"  # {one_line(c.reason)}", f"  {c.sql_text()}"]
    return "\n".join(lines) + ("\n" if lines else "")


@roles_app.command("plan")
@handle_errors
def plan(
    policy: PolicyPath,
    dsn: Dsn,
    output_format: Format = PlanFormat.text,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when there is drift.")] = False,
    set_passwords: SetPasswords = False,
) -> None:
    """Print the ordered SQL that would make the cluster match the policy; change nothing."""
    from pgtune.access.policy.load import load_policy
    from pgtune.access.service import plan_policy

    planned = plan_policy(load_policy(policy), dsn, set_passwords=set_passwords)
    for item in planned.inspection.unreadable:
        say(f"pgtune: could not read: {item}")
    typer.echo(_render(planned.changes, planned.first_db, output_format), nl=False)
    say(f"pgtune: {len(planned.changes)} change(s)" if planned.changes else "pgtune: in sync")
    if check and planned.changes:
        raise typer.Exit(1)


@roles_app.command("apply")
@handle_errors
def apply(
    policy: PolicyPath,
    dsn: Dsn,
    yes: Annotated[bool, typer.Option("--yes", help="Really run the plan.")] = False,
    set_passwords: SetPasswords = False,
) -> None:
    """Run the plan in one transaction per database; on any error that database is unchanged."""
    from pgtune.access.apply import apply_changes
    from pgtune.access.policy.load import load_policy
    from pgtune.access.service import connector, plan_policy
    from pgtune.errors import UsageError
    from pgtune.names import one_line

    document = load_policy(policy)
    planned = plan_policy(document, dsn, set_passwords=set_passwords)
    if not planned.changes:
        say("pgtune: in sync, nothing to apply")
        return
    typer.echo(_render(planned.changes, planned.first_db, PlanFormat.text), nl=False)
    runnable = [c for c in planned.changes if not c.report_only]
    reported = len(planned.changes) - len(runnable)
    if runnable and not yes:
        raise UsageError(f"{len(runnable)} change(s) planned; pass --yes to apply them")
    done = (
        apply_changes(planned.changes, connector(dsn, user_search_path=True), planned.first_db)
        if runnable
        else 0
    )
    # Passwords were set above; asking again would show them as differing forever.
    after = plan_policy(document, dsn)
    still = [c for c in after.changes if not c.report_only]
    for change in still:  # the server normalised something differently: show it
        say(f"pgtune: still differs: {one_line(change.reason)}: {change.sql_text()}")
    for change in after.changes:
        if change.report_only:
            say(f"pgtune: reported, not applied: {one_line(change.reason)}")
    say(
        f"pgtune: applied {done} statement(s)"
        + (f"; {reported} reported only (settings.unmanaged_roles)" if reported else "")
        + ("" if not still else f"; {len(still)} change(s) still differ")
    )
    if still:
        raise typer.Exit(1)


@roles_app.command("export")
@handle_errors
def export(
    dsn: Dsn,
    database: Annotated[
        list[str] | None,
        typer.Option("--database", help="Databases to describe (default: the DSN's)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --output (backup kept).")] = False,
) -> None:
    """Write a policy file describing the live cluster, so adoption starts from what exists."""
    from pgtune.access.catalog import inspect_cluster
    from pgtune.access.catalog.export import export_policy
    from pgtune.access.service import connector, first_database
    from pgtune.files import write_atomic
    from pgtune.gcpasses import fewer_gc_passes

    databases = database or [first_database(dsn)]
    with fewer_gc_passes():  # hundreds of thousands of acyclic model objects (as plans do)
        inspection = inspect_cluster(connector(dsn), databases, grouped=True)
        for item in inspection.unreadable:
            say(f"pgtune: could not read: {item}")
        text = export_policy(inspection, databases)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text, force=force)
        say(f"pgtune: wrote {output}")


@roles_app.command("init")
@handle_errors
def init(
    database: Annotated[str, typer.Option("--database", help="The application's database.")] = (
        "app"
    ),
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --output (backup kept).")] = False,
) -> None:
    """Write a commented starter policy: app, analyst, owner and monitoring roles, tenant RLS."""
    from pgtune.access.policy.starter import starter_policy
    from pgtune.files import write_atomic

    text = starter_policy(database)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text, force=force)
        say(f"pgtune: wrote {output}")
