"""Row level security that does not protect what it seems to: policies on tables where RLS
is off, owners it does not apply to, tables it closes entirely, policies that admit every
row, and tables the access policy wants protected."""

from typing import LiteralString

from psycopg import sql

from pgtune.access.model import PUBLIC, PUBLIC_KEYWORD, RlsTable, TableRef
from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, names, qualified, render, table
from pgtune.audit.findings.memberships import acting_as
from pgtune.audit.model import Finding, Snapshot

_WANTED = {"ENABLE": "enabled", "FORCE": "forced"}


def _name(t: TableRef) -> str:
    return qualified(t.schema, t.name)


def _roles(roles: tuple[str, ...]) -> str:
    """A policy's roles as its TO clause spells them: PUBLIC as PUBLIC, a role quoted where
    SQL needs it (so a role named "PUBLIC" is told apart).

    >>> _roles(("", "app", "PUBLIC"))
    'PUBLIC, app, "PUBLIC"'
    """
    return ", ".join(PUBLIC_KEYWORD if r == PUBLIC else qualified(r) for r in roles)


def _alter(t: TableRef, *actions: LiteralString) -> str:
    return render(
        *(
            sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY").format(
                table(t.schema, t.name), sql.SQL(action)
            )
            for action in actions
        )
    )


def _with_policies(snapshot: Snapshot) -> set[TableRef]:
    return {t for t, _ in snapshot.access.state.policies}


def _tables(snapshot: Snapshot) -> list[RlsTable]:
    return sorted(snapshot.access.state.rls_tables.values(), key=lambda r: r.table)


def policies_but_disabled(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    with_policies = _with_policies(snapshot)
    return [
        Finding(
            id="PGT-RLS-001",
            severity="high",
            title="Table has policies but row level security is disabled",
            seen=f"table {_name(r.table)} has policies, RLS disabled",
            why="the policies are ignored: every role with a table privilege sees every row",
            remediation=_alter(r.table, "ENABLE"),
            cis=cis.RLS,
            database=r.table.database,
            object=_name(r.table),
        )
        for r in _tables(snapshot)
        if not r.enabled and r.table in with_policies
    ]


def not_forced_for_login_owner(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Owners bypass RLS unless it is forced, and so does every role that can act as the owner
    (a member with INHERIT or SET): a concern when such a role logs in. A superuser owner
    bypasses it even when forced; that is PGT-ROLE-001's business."""
    state = snapshot.access.state
    found: list[Finding] = []
    for r in _tables(snapshot):
        if not r.enabled or r.forced:
            continue
        owner = snapshot.table_owner(r.table)
        owner_role = state.roles.get(owner or "")
        if owner is None or owner_role is None or owner_role.superuser:
            continue
        logins = sorted(
            name
            for name in acting_as(state, owner)
            if (role := state.roles.get(name)) is not None and role.login
        )
        if not logins:
            continue
        found.append(
            Finding(
                id="PGT-RLS-002",
                severity="medium",
                title="Row level security not forced for a table owned by a login role",
                seen=f"table {_name(r.table)} has RLS enabled, not forced; owner {owner!r}; "
                f"login roles acting as the owner: {names(logins)}",
                why="the owner (and whoever can act as it) bypasses every policy unless RLS is "
                "forced",
                remediation=_alter(r.table, "FORCE"),
                cis=cis.RLS,
                database=r.table.database,
                object=_name(r.table),
            )
        )
    return found


def enabled_without_policy(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    with_policies = _with_policies(snapshot)
    return [
        Finding(
            id="PGT-RLS-003",
            severity="low",
            title="Row level security enabled without any policy",
            seen=f"table {_name(r.table)} has RLS enabled and no policy",
            why="every row is denied to everyone but the owner: either policies are missing "
            "or the table is unused",
            remediation="-- name the roles and the rows they may use\n"
            + render(
                sql.SQL("CREATE POLICY {} ON {} TO <role> USING (<condition>)").format(
                    sql.Identifier(f"{r.table.name}_access"), table(r.table.schema, r.table.name)
                )
            ),
            cis=cis.RLS,
            database=r.table.database,
            object=_name(r.table),
        )
        for r in _tables(snapshot)
        if r.enabled and r.table not in with_policies
    ]


def permissive_true(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    found: list[Finding] = []
    for (t, name), p in sorted(snapshot.access.state.policies.items()):
        clauses: list[LiteralString] = [
            c for c, expr in (("USING", p.using), ("WITH CHECK", p.with_check)) if expr == "true"
        ]
        if not p.permissive or not clauses:
            continue
        found.append(
            Finding(
                id="PGT-RLS-004",
                severity="medium",
                title="Permissive policy that admits every row",
                seen=f"policy {name!r} on {_name(t)}: PERMISSIVE FOR {p.command} TO "
                f"{_roles(p.roles)} " + " ".join(f"{c} (true)" for c in clauses),
                why="permissive policies are OR-ed: this one lets its roles past every other "
                "policy on the table",
                remediation="-- put the rows these roles may use in place of the condition\n"
                + render(
                    sql.SQL("ALTER POLICY {} ON {} {}").format(
                        sql.Identifier(name),
                        table(t.schema, t.name),
                        sql.SQL(" ").join(sql.SQL(c + " (<condition>)") for c in clauses),
                    )
                ),
                cis=cis.RLS,
                database=t.database,
                object=f"{_name(t)} policy {name}",
            )
        )
    return found


def required_by_policy(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Tables whose entry in the access policy's ``rls:`` section wants RLS enabled or forced.
    A table the inspection did not see (absent, or its database unreadable) is not judged."""
    if policy is None:
        return []
    found: list[Finding] = []
    for spec in policy.rls:
        live = snapshot.access.state.rls_tables.get(spec.table)
        if live is None:
            continue
        missing: list[LiteralString] = []
        if spec.enable and not live.enabled:
            missing.append("ENABLE")
        if spec.force and not live.forced:
            missing.append("FORCE")
        if not missing:
            continue
        found.append(
            Finding(
                id="PGT-RLS-005",
                severity="high",
                title="Row level security the access policy requires is missing",
                seen=f"table {_name(spec.table)}: the policy wants RLS "
                + " and ".join(_WANTED[m] for m in missing)
                + "; it is "
                + ("enabled" if live.enabled else "disabled")
                + (", forced" if live.forced else ", not forced"),
                why="the tenant isolation the policy file promises is not in force on the server",
                remediation=_alter(spec.table, *missing)
                + "\n-- or: pgtune roles apply --policy FILE",
                cis=cis.RLS,
                database=spec.table.database,
                object=_name(spec.table),
            )
        )
    return found


CHECKS: tuple[Check, ...] = (
    policies_but_disabled,
    not_forced_for_login_owner,
    enabled_without_policy,
    permissive_true,
    required_by_policy,
)
