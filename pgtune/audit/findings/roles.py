"""Role attributes and memberships that hand out more power than an application needs."""

from typing import LiteralString

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, can_log_in, names, render
from pgtune.audit.findings.memberships import usable_groups
from pgtune.audit.model import Finding, Severity, Snapshot

# Predefined roles that reach outside the database or past every GRANT, with what they allow.
POWERFUL: dict[str, tuple[Severity, str]] = {
    "pg_execute_server_program": (
        "critical",
        "runs any shell command as the server's OS user (COPY ... PROGRAM): superuser in effect",
    ),
    "pg_write_server_files": (
        "critical",
        "writes any file the server's OS user can (COPY ... TO), the data directory included",
    ),
    "pg_read_server_files": (
        "high",
        "reads any file the server's OS user can (COPY ... FROM, pg_read_file): keys, configs",
    ),
    "pg_write_all_data": ("high", "writes every table and sequence, whatever the GRANTs say"),
    "pg_read_all_data": ("medium", "reads every table and sequence, whatever the GRANTs say"),
}


def _alter(role: str, attribute: LiteralString) -> str:
    return render(sql.SQL("ALTER ROLE {} " + attribute).format(sql.Identifier(role)))


def extra_superusers(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    roles = snapshot.access.state.roles
    supers = sorted(r.name for r in roles.values() if r.superuser)
    if len(supers) < 2:
        return []
    keep = snapshot.bootstrap_superuser if snapshot.bootstrap_superuser in supers else None
    return [
        Finding(
            id="PGT-ROLE-001",
            severity="high",
            title="More than one superuser",
            seen=f"role {name!r} is a superuser ({len(supers)} superusers: {names(supers)}"
            + (f"; {keep!r} is the bootstrap superuser)" if keep else ")"),
            why="every superuser bypasses all permission checks and RLS and can run OS code",
            remediation=_alter(name, "NOSUPERUSER"),
            cis=cis.ADMIN_PRIVILEGES,
            object=name,
        )
        for name in supers
        if name != keep
    ]


def login_bypassrls(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-ROLE-002",
            severity="high",
            title="Login role with BYPASSRLS",
            seen=f"login role {r.name!r} has BYPASSRLS",
            why="row level security policies do not apply to it: it sees and changes every row",
            remediation=_alter(r.name, "NOBYPASSRLS"),
            cis=cis.ADMIN_PRIVILEGES,
            object=r.name,
        )
        for r in sorted(snapshot.access.state.roles.values())
        if r.login and r.bypassrls and not r.superuser
    ]


def login_createrole(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    # Before 16, CREATEROLE may grant itself any non-superuser role, the powerful predefined
    # ones included; from 16 it only administers the roles it created.
    old = snapshot.major < 16
    return [
        Finding(
            id="PGT-ROLE-003",
            severity="high" if old else "medium",
            title="Login role with CREATEROLE",
            seen=f"login role {r.name!r} has CREATEROLE (PostgreSQL {snapshot.major})",
            why=(
                "before PostgreSQL 16 it can grant itself any non-superuser role, e.g. "
                "pg_execute_server_program"
                if old
                else "it creates roles and administers them, a privilege-management power"
            ),
            remediation=_alter(r.name, "NOCREATEROLE"),
            cis=cis.ADMIN_PRIVILEGES,
            object=r.name,
        )
        for r in sorted(snapshot.access.state.roles.values())
        if r.login and r.createrole and not r.superuser
    ]


def powerful_members(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """One finding per direct membership in a powerful predefined role, naming the login
    roles that reach it through that membership."""
    state = snapshot.access.state
    closure = usable_groups(state)
    found: list[Finding] = []
    for m in sorted(state.memberships):
        if m.group not in POWERFUL or (m.inherit is False and m.set is False):
            continue
        member = state.roles.get(m.member)
        if member is None or member.superuser:  # a superuser has all of it anyway
            continue
        severity, power = POWERFUL[m.group]
        through = sorted(
            r.name for r in state.roles.values() if r.login and m.member in closure.get(r.name, ())
        )
        who = f"login role {m.member!r}" if member.login else f"role {m.member!r}"
        if through:
            reach = f"; login roles that have it through {m.member!r}: {names(through)}"
        else:
            reach = "" if member.login else "; no login role has it through it"
        found.append(
            Finding(
                id="PGT-ROLE-004",
                severity=severity,
                title="Member of a powerful predefined role",
                seen=f"{who} is a member of {m.group}{reach}",
                why=f"{m.group} {power}",
                remediation=render(
                    sql.SQL("REVOKE {} FROM {}").format(
                        sql.Identifier(m.group), sql.Identifier(m.member)
                    )
                ),
                cis=cis.ADMIN_PRIVILEGES,
                object=m.member,
            )
        )
    return found


def expired_logins(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    found: list[Finding] = []
    for r in sorted(snapshot.access.state.roles.values()):
        if not r.login or can_log_in(r.valid_until, snapshot.collected_at):
            continue
        found.append(
            Finding(
                id="PGT-ROLE-005",
                severity="low",
                title="Login role with an expired password",
                seen=f"login role {r.name!r} has VALID UNTIL {r.valid_until}",
                why="an account nobody can use by password is stale; other methods still admit it",
                remediation=_alter(r.name, "NOLOGIN"),
                cis=cis.LOCK_UNUSED,
                object=r.name,
            )
        )
    return found


CHECKS: tuple[Check, ...] = (
    extra_superusers,
    login_bypassrls,
    login_createrole,
    powerful_members,
    expired_logins,
)
