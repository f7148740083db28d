"""Running a plan: one transaction per database, nothing half-applied within a database.

Cluster-wide changes (roles, memberships) run in the first database's transaction. Roles are
shared catalogs: another database's session only sees a new role once that transaction has
committed, so with several databases the first commits before the others start; if a later one
fails, the error says exactly which databases were already committed.
"""

import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack

import psycopg
from psycopg import sql

from pgtune.access.plan import Change
from pgtune.errors import PgtuneError, UsageError
from pgtune.names import one_line, shown


class ApplyError(PgtuneError):
    """The server refused a statement, or warned that it did nothing (a WARNING such as "no
    privileges were granted"); the transaction of that database was rolled back."""

    exit_code = 6


# NOTICEs that mean a statement did not do what the plan says (PostgreSQL 15 and older report
# a repeated membership grant this way); every WARNING counts as well.
_NO_OP_NOTICES = ("is already a member of role",)


class _Warnings:
    """Collects the server's WARNINGs (and no-op NOTICEs) for the statement being run."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, diag: psycopg.errors.Diagnostic) -> None:
        severity = diag.severity_nonlocalized or diag.severity or ""
        message = diag.message_primary or ""
        if severity == "WARNING" or any(m in message for m in _NO_OP_NOTICES):
            self.messages.append(one_line(message))

    def take(self) -> list[str]:
        taken, self.messages = self.messages, []
        return taken


def _statement(
    change: Change, env: Mapping[str, str], conn: psycopg.Connection[tuple[object, ...]]
) -> sql.Composed:
    if change.password_env is None:
        return change.statement
    # Hashed on this side as psql's \password does (libpq, with the server's
    # password_encryption): the clear text never reaches the server, its log (log_statement =
    # ddl logs CREATE/ALTER ROLE), pg_stat_activity or pg_stat_statements.
    secret = conn.pgconn.encrypt_password(
        env[change.password_env].encode(), (change.password_role or "").encode(), None
    )
    return sql.SQL("{} PASSWORD {}").format(change.statement, sql.Literal(secret.decode()))


def check_passwords(changes: list[Change], env: Mapping[str, str]) -> None:
    missing = sorted(
        {c.password_env for c in changes if c.password_env and c.password_env not in env}
    )
    if missing:
        raise UsageError(
            f"environment variable {missing[0]} is not set (it holds a role's password); "
            "nothing was changed"
        )


def group_by_database(changes: list[Change], first_db: str) -> dict[str, list[Change]]:
    groups: dict[str, list[Change]] = {first_db: []}
    for change in changes:
        groups.setdefault(change.database or first_db, []).append(change)
    for db in groups:  # keep the phase order within each database
        groups[db].sort(key=lambda c: c.phase)
    return groups


def apply_changes(
    changes: list[Change],
    connect: Callable[[str], psycopg.Connection[tuple[object, ...]]],
    first_db: str,
    env: Mapping[str, str] | None = None,
) -> int:
    """Execute the plan (report-only changes are skipped); returns the number of statements
    run. A statement the server refuses or warns about (WARNING: nothing was granted or
    revoked, ...) rolls its database's transaction back and raises ApplyError."""
    env = os.environ if env is None else env
    check_passwords(changes, env)
    committed: list[str] = []
    done = 0
    for db, batch in group_by_database(changes, first_db).items():
        if not any(not c.report_only for c in batch):
            continue
        with ExitStack() as stack:
            conn = stack.enter_context(connect(db))
            warnings = _Warnings()
            conn.add_notice_handler(warnings)
            rolled_back = (
                f"rolled back (already committed: {', '.join(committed)})"
                if committed
                else "nothing was changed"
            )
            with conn.transaction():
                for change in batch:
                    if change.report_only:
                        continue  # shown in the plan, never run (e.g. unmanaged_roles: report)
                    try:
                        conn.execute(_statement(change, env, conn))
                    except psycopg.Error as exc:
                        message = exc.diag.message_primary or str(exc).splitlines()[0]
                        raise ApplyError(
                            f"database {shown(db)}: {change.sql_text()} failed: "
                            f"{one_line(message)}; {rolled_back}"
                        ) from None
                    # Notices arrive with the statement's result, before execute returns.
                    said = warnings.take()
                    if said:
                        raise ApplyError(
                            f"database {shown(db)}: {change.sql_text()} did not do what the plan "
                            f"says: the server warned: {'; '.join(said)}; {rolled_back}"
                        )
                    done += 1
        committed.append(db)
    return done
