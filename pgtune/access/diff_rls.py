"""The diff of row-level security on managed tables: ENABLE / FORCE and the policies."""

from typing import Protocol

from psycopg import sql

from pgtune.access.changes import POLICIES, RLS, Change, idents, trusted
from pgtune.access.expressions import ExpressionError, same_expression, validate_expression
from pgtune.access.model import ClusterState, RlsPolicy, Scope, TableRef
from pgtune.names import shown, shown_qualified


def _table_sql(t: TableRef) -> sql.Composable:
    return sql.Identifier(t.schema, t.name)


def _policy_sql(p: RlsPolicy) -> sql.Composed:
    parts: list[sql.Composable] = [
        sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(p.name),
            _table_sql(p.table),
            sql.SQL("PERMISSIVE" if p.permissive else "RESTRICTIVE"),
            sql.SQL(p.command),
            idents(p.roles),
        )
    ]
    if p.using is not None:
        validate_expression(p.using)
        parts.append(sql.SQL("USING ({})").format(trusted(p.using)))
    if p.with_check is not None:
        validate_expression(p.with_check)
        parts.append(sql.SQL("WITH CHECK ({})").format(trusted(p.with_check)))
    return sql.SQL(" ").join(parts)


class Expressions(Protocol):
    """How RLS expressions are checked and compared (server_expressions.ServerExpressions
    through the server, lock-free; `ByParsing` with pglast alone). Both sides of a comparison
    go through the same path: never the server's form of one against pglast's of the other."""

    def check(self, policy: RlsPolicy) -> None:
        """Raise ExpressionError if a desired expression of ``policy`` is not valid."""

    def same(self, table: TableRef, live: str, desired: str) -> bool:
        """Whether the live pg_get_expr text and the desired text mean the same on ``table``."""


class ByParsing:
    """pglast only: one expression each, compared after undoing the server's rewrites."""

    def check(self, policy: RlsPolicy) -> None:
        for expr in (policy.using, policy.with_check):
            if expr is not None:
                validate_expression(expr)

    def same(self, table: TableRef, live: str, desired: str) -> bool:
        return same_expression(live, desired, table.schema, table.name)


by_parsing = ByParsing()
# Former names, still imported by plan.py.
Canonical = Expressions
as_written = by_parsing


def _check_all(desired: ClusterState, scope: Scope, expressions: Expressions) -> None:
    """Every desired expression of a managed table is checked; all rejections at once."""
    problems: list[str] = []
    for (t, _), p in sorted(desired.policies.items(), key=lambda item: item[0]):
        if t not in scope.rls_tables:
            continue
        try:
            expressions.check(p)
        except ExpressionError as exc:
            problems.append(str(exc))
    if problems:
        raise ExpressionError("\n".join(problems))


def rls_changes(
    live: ClusterState, desired: ClusterState, scope: Scope, expressions: Expressions
) -> list[Change]:
    _check_all(desired, scope, expressions)
    changes: list[Change] = []
    for t in sorted(scope.rls_tables):
        want, have = desired.rls_tables.get(t), live.rls_tables.get(t)
        name = shown_qualified(t.database, t.schema, t.name)
        if want is not None:
            enabled = have.enabled if have else False
            forced = have.forced if have else False
            if want.enabled != enabled:
                changes.append(
                    Change(
                        t.database,
                        RLS,
                        sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY").format(
                            _table_sql(t), sql.SQL("ENABLE" if want.enabled else "DISABLE")
                        ),
                        f"row-level security on {name} should be "
                        + ("enabled" if want.enabled else "disabled"),
                    )
                )
            if want.forced != forced:
                changes.append(
                    Change(
                        t.database,
                        RLS,
                        sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY").format(
                            _table_sql(t), sql.SQL("FORCE" if want.forced else "NO FORCE")
                        ),
                        f"row-level security on {name} should "
                        + ("apply to the owner too" if want.forced else "not apply to the owner"),
                    )
                )
        have_p = {n: p for (tt, n), p in live.policies.items() if tt == t}
        want_p = {n: p for (tt, n), p in desired.policies.items() if tt == t}
        for pname in sorted(set(have_p) | set(want_p)):
            w, h = want_p.get(pname), have_p.get(pname)
            drop = sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(pname), _table_sql(t))
            if w is None:
                changes.append(
                    Change(
                        t.database,
                        POLICIES,
                        drop,
                        f"policy {shown(pname)} on {name} is not in the policy file",
                    )
                )
            elif h is None:
                changes.append(
                    Change(
                        t.database,
                        POLICIES,
                        _policy_sql(w),
                        f"policy {shown(pname)} on {name} is missing",
                    )
                )
            elif (
                h.permissive != w.permissive
                or h.command != w.command
                or (h.using is None) != (w.using is None)
                or (h.with_check is None) != (w.with_check is None)
            ):
                # ALTER POLICY cannot change these or drop a clause: drop and create again.
                why = f"policy {shown(pname)} on {name}: command or permissive/restrictive changed"
                changes.append(Change(t.database, POLICIES, drop, why))
                changes.append(Change(t.database, POLICIES, _policy_sql(w), why))
            else:
                alter = _alter_policy(t, h, w, expressions)
                if alter is not None:
                    changes.append(
                        Change(
                            t.database,
                            POLICIES,
                            alter,
                            f"policy {shown(pname)} on {name}: roles or expressions differ",
                        )
                    )
    return changes


def _alter_policy(
    t: TableRef, have: RlsPolicy, want: RlsPolicy, expressions: Expressions
) -> sql.Composed | None:
    parts: list[sql.Composable] = []
    if tuple(sorted(have.roles)) != tuple(sorted(want.roles)):
        parts.append(sql.SQL("TO {}").format(idents(want.roles)))
    for clause, h, w in (
        ("USING", have.using, want.using),
        ("WITH CHECK", have.with_check, want.with_check),
    ):
        if w is None or h is None:
            continue  # both absent here: a removed clause recreates the policy, added too
        # Compare by meaning: pg_get_expr's text and the desired text, both the same way.
        if expressions.same(t, h, w):
            continue
        validate_expression(w)
        parts.append(sql.SQL("{} ({})").format(sql.SQL(clause), trusted(w)))
    if not parts:
        return None
    return sql.SQL("ALTER POLICY {} ON {} {}").format(
        sql.Identifier(want.name), _table_sql(t), sql.SQL(" ").join(parts)
    )
