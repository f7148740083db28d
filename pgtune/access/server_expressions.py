"""RLS expressions checked and compared by the server itself, without a lock or DDL.

`plan` (and `--check`) must not disturb the database it looks at: no lock stronger than
AccessShareLock on a user's table, no DDL (which would fire ``ddl_command_start`` event
triggers, e.g. a DDL freeze), nothing written. So an expression is never attached to a table,
not even a temporary stand-in (CREATE TEMP TABLE / CREATE POLICY are DDL too). Instead each
side of a comparison — the desired text *and* the live policy's pg_get_expr text — is planned:

    EXPLAIN (VERBOSE, COSTS OFF) SELECT NOT NOT (<expression>) FROM ONLY schema.table

EXPLAIN without ANALYZE executes nothing and takes only AccessShareLock (which waits for
nobody but an ACCESS EXCLUSIVE holder; ``lock_timeout`` bounds that). The planner's output line
is the server's own canonical rendering: both sides come out of the same parse analysis and
constant folding, so ``IN`` lists, casts, BETWEEN, COALESCE, qualified columns and subqueries
(shown as SubPlans with their plans) compare exactly. ``NOT NOT`` makes the server insist on a
boolean and folds away again. For a desired expression a second EXPLAIN with the expression as
a WHERE clause checks what CREATE POLICY would check (boolean; no aggregate, window or
set-returning function): an error there is a policy error, reported with the file line.

Planning folds IMMUTABLE functions with constant arguments, i.e. runs them. The live text was
written by whoever owns the table, so it is planned *as the table's owner* (``SET LOCAL ROLE``,
with the search_path pinned to the one pg_get_expr printed for): what runs, runs with rights the
owner has anyway, never a superuser's. A role that cannot become the owner compares with pglast.
Only the desired text (the policy file's own) is checked as the current role where it must be.

Everything runs in a read-only transaction that is rolled back. EXPLAIN checks the table's
SELECT privilege when the executor starts (after parse analysis, so undefined columns are still
reported); without it, or when a lock or the time limit gets in the way, the pair is compared
with pglast instead (expressions.py), both sides, and the reason is kept in ``fallbacks``.
"""

from collections.abc import Mapping
from dataclasses import astuple

import psycopg
from pglast import parse_sql
from psycopg import sql

from pgtune.access.catalog import Connect
from pgtune.access.expressions import (
    ExpressionError,
    locks_rows,
    same_expression,
    validate_expression,
)
from pgtune.access.model import RlsPolicy, TableRef
from pgtune.names import one_line, shown, shown_qualified

LOCK_TIMEOUT = "500ms"  # only an ACCESS EXCLUSIVE holder (or waiter) can make us wait
STATEMENT_TIMEOUT = "5s"
# Session settings of the comparing connection: read-only, bounded, and plans that do not
# depend on worker counts or JIT (both sides are planned alike anyway).
_SESSION = (
    ("default_transaction_read_only", "on"),
    ("lock_timeout", LOCK_TIMEOUT),
    ("statement_timeout", STATEMENT_TIMEOUT),
    ("idle_in_transaction_session_timeout", "30s"),
    ("max_parallel_workers_per_gather", "0"),
    ("jit", "off"),
    # The table's own RLS policies must not be planned in: selectivity estimation of their
    # quals evaluates stable functions (current_setting of an application-only setting fails).
    # Where they would apply (a FORCE'd table's owner, a role under RLS) the server refuses
    # with 42501 and that comparison goes through pglast.
    ("row_security", "off"),
)
# SQLSTATEs that say nothing about the expression: no privilege (EXPLAIN checks SELECT when
# the executor starts), a lock or the time limit, the connection. Anything else on the desired
# side means the server rejects the expression.
_NOT_THE_EXPRESSION = {"42501", "55P03", "57014", "25006"}
_NOT_THE_EXPRESSION_CLASSES = {"08", "53", "57", "58", "XX"}


class _Rollback(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


class _Unavailable(Exception):
    """The server cannot tell (privilege, lock, timeout, connection): use pglast."""


class _Rejected(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _one_statement(text: str) -> None:
    # The expression was validated as exactly one expression; make sure of the whole statement.
    if len(parse_sql(text)) != 1:
        raise ExpressionError("an expression would have made two statements")


def _classify(exc: psycopg.Error) -> Exception:
    state = exc.sqlstate or ""
    message = exc.diag.message_primary or str(exc)
    if not state or state in _NOT_THE_EXPRESSION or state[:2] in _NOT_THE_EXPRESSION_CLASSES:
        return _Unavailable(message)
    return _Rejected(message)


class ServerExpressions:
    """`diff_rls.Expressions` through the server, lock-free and read-only (see the module)."""

    def __init__(
        self,
        connect: Connect,
        *,
        source: str = "<policy>",
        lines: Mapping[TableRef, int | None] | None = None,
    ) -> None:
        self._connect = connect
        self._source = source
        self._lines = lines or {}
        self._conns: dict[str, psycopg.Connection[tuple[object, ...]] | None] = {}
        self._plans: dict[tuple[TableRef, str], str | None] = {}
        self._checked: set[tuple[TableRef, str]] = set()
        self._locked: set[TableRef] = set()  # a lock got in the way once: do not wait again
        self._owners: dict[TableRef, str | None] = {}  # the role to plan as; None: myself
        self._not_as_owner: set[TableRef] = set()  # cannot become the owner: pglast
        self._search_path: dict[str, str] = {}  # per database, as pg_get_expr printed for
        self.fallbacks: list[str] = []  # why some pairs were compared with pglast

    # -- diff_rls.Expressions -------------------------------------------------------------

    def check(self, policy: RlsPolicy) -> None:
        problems: list[str] = []
        for clause, expr in (("USING", policy.using), ("WITH CHECK", policy.with_check)):
            if expr is None:
                continue
            try:
                self._check(policy, clause, expr)
            except ExpressionError as exc:
                problems.append(str(exc))
        if problems:
            raise ExpressionError("\n".join(problems))

    def same(self, table: TableRef, live: str, desired: str) -> bool:
        if live == desired:
            return True
        want = self._plan(table, desired)
        have = self._plan(table, live) if want is not None else None
        if want is None or have is None:
            return same_expression(live, desired, table.schema, table.name)
        return want == have

    def close(self) -> None:
        for conn in self._conns.values():
            if conn is not None:
                conn.close()
        self._conns.clear()

    # -- internals ------------------------------------------------------------------------

    def _where(self, policy: RlsPolicy, clause: str) -> str:
        t = policy.table
        line = policy.line or self._lines.get(t)
        place = f"{self._source}:{line}: " if line else f"{self._source}: "
        return (
            f"{place}policy {shown(policy.name)} on {shown_qualified(t.database, t.schema, t.name)}"
            f", {clause}"
        )

    def _check(self, policy: RlsPolicy, clause: str, expr: str) -> None:
        try:
            validate_expression(expr)  # never send anything but one expression
        except ExpressionError as exc:
            raise ExpressionError(f"{self._where(policy, clause)}: {exc}") from None
        table = policy.table
        if (table, expr) in self._checked:
            return
        self._checked.add((table, expr))
        if locks_rows(expr):  # parsing FOR UPDATE/SHARE takes RowShareLock: pglast only
            where = shown_qualified(table.database, table.schema, table.name)
            self.fallbacks.append(f"{where}: a subquery locks rows; checked with pglast only")
            return
        # What CREATE POLICY checks: a boolean, no aggregate / window / set-returning function
        # (all parse-time checks). "false AND" folds the clause away before the planner would
        # estimate its selectivity, which evaluates stable functions: current_setting('app.x')
        # of a setting this session does not have would fail here but not in a policy.
        statement = sql.SQL(
            "EXPLAIN (COSTS OFF) SELECT FROM ONLY {} WHERE false AND ({}\n)"
        ).format(sql.Identifier(table.schema, table.name), sql.SQL(expr))
        try:
            self._explain(table, statement, as_owner=table not in self._not_as_owner)
        except _Unavailable:
            if table in self._not_as_owner and table not in self._locked:
                self._check_as_myself(policy, clause, expr, statement)
            return
        except _Rejected as exc:
            raise self._rejected(policy, clause, expr, exc) from None

    def _check_as_myself(
        self, policy: RlsPolicy, clause: str, expr: str, statement: sql.Composed
    ) -> None:
        # The policy file's own text, checked with the current role's rights.
        try:
            self._explain(policy.table, statement, as_owner=False)
        except _Unavailable:
            return
        except _Rejected as exc:
            raise self._rejected(policy, clause, expr, exc) from None

    def _rejected(
        self, policy: RlsPolicy, clause: str, expr: str, exc: _Rejected
    ) -> ExpressionError:
        return ExpressionError(
            f"{self._where(policy, clause)} expression {one_line(repr(expr))} is rejected by "
            f"the server: {one_line(exc.message)}"
        )

    def _plan(self, table: TableRef, expr: str) -> str | None:
        """The server's rendering of ``expr`` on ``table``, None if it cannot tell."""
        if (table, expr) not in self._plans:
            self._plans[table, expr] = self._plan_uncached(table, expr)
        return self._plans[table, expr]

    def _plan_uncached(self, table: TableRef, expr: str) -> str | None:
        try:
            validate_expression(expr)
        except ExpressionError:
            return None  # a live text pglast cannot read: leave it to same_expression
        if locks_rows(expr):  # FOR UPDATE/SHARE: even parsing it takes RowShareLock
            where = shown_qualified(table.database, table.schema, table.name)
            self.fallbacks.append(f"{where}: a subquery locks rows; compared with pglast")
            return None
        statement = sql.SQL(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT NOT NOT ({}\n) FROM ONLY {}"
        ).format(sql.SQL(expr), sql.Identifier(table.schema, table.name))
        try:
            text = self._explain(table, statement)
        except _Unavailable:
            return None
        except _Rejected as exc:  # e.g. a live text that does not plan again: use pglast
            where = shown_qualified(table.database, table.schema, table.name)
            self.fallbacks.append(f"{where}: {one_line(exc.message)}")
            return None
        # Whether a SubPlan is hashed depends on estimates, not on the expression.
        return text.replace("hashed SubPlan", "SubPlan")

    def _owner(self, conn: psycopg.Connection[tuple[object, ...]], table: TableRef) -> str | None:
        if table not in self._owners:
            row = conn.execute(
                "SELECT pg_catalog.pg_get_userbyid(c.relowner), c.relowner = ("
                "SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)"
                " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                (table.schema, table.name),
            ).fetchone()
            self._owners[table] = None if row is None or row[1] else str(row[0])
        return self._owners[table]

    def _explain(self, table: TableRef, statement: sql.Composed, *, as_owner: bool = True) -> str:
        name = shown_qualified(table.database, table.schema, table.name)
        if table in self._locked or (as_owner and table in self._not_as_owner):
            raise _Unavailable("locked" if table in self._locked else "not as the owner")
        conn = self._conn(table.database)
        if conn is None:
            raise _Unavailable("no connection")
        try:
            _one_statement(statement.as_string(conn))
            owner = self._owner(conn, table) if as_owner else None
            with conn.transaction():
                if owner is not None:
                    self._become(conn, table, owner)
                rows = conn.execute(statement).fetchall()
                raise _Rollback("\n".join(str(r[0]) for r in rows))
        except _Rollback as done:
            return done.text
        except psycopg.Error as exc:
            classified = _classify(exc)
            if isinstance(classified, _Unavailable):
                if exc.sqlstate in ("55P03", "57014"):
                    self._locked.add(table)
                self.fallbacks.append(f"{name}: {one_line(str(classified))}")
                if conn.closed or conn.broken:
                    self._conns[table.database] = None
            raise classified from None

    def _become(
        self, conn: psycopg.Connection[tuple[object, ...]], table: TableRef, owner: str
    ) -> None:
        try:
            row = conn.execute(
                "SELECT pg_catalog.set_config('role', %s, true),"
                " pg_catalog.set_config('search_path', %s, true), current_user",
                (owner, self._search_path.get(table.database, "")),
            ).fetchone()
        except psycopg.errors.InsufficientPrivilege:
            self._not_as_owner.add(table)
            raise
        if row is None or row[2] != owner:  # e.g. a role called "none": not worth a guess
            self._not_as_owner.add(table)
            why = f"cannot plan as the owner {shown(owner)}"
            self.fallbacks.append(f"{shown_qualified(*astuple(table))}: {why}")
            raise _Unavailable(why)

    def _conn(self, database: str) -> psycopg.Connection[tuple[object, ...]] | None:
        if database not in self._conns:
            try:
                conn = self._connect(database)
                conn.execute(
                    sql.SQL("SELECT {}").format(
                        sql.SQL(", ").join(
                            sql.SQL("pg_catalog.set_config({}, {}, false)").format(
                                sql.Literal(k), sql.Literal(v)
                            )
                            for k, v in _SESSION
                        )
                    )
                )
                row = conn.execute(
                    "SELECT pg_catalog.string_agg(pg_catalog.quote_ident(s), ', ')"
                    " FROM pg_catalog.unnest(pg_catalog.current_schemas(false)) s"
                ).fetchone()
                self._search_path[database] = str(row[0]) if row and row[0] else ""
                self._conns[database] = conn
            except Exception as exc:  # the plan itself reports unreachable databases
                self.fallbacks.append(f"{shown(database)}: {one_line(str(exc))}")
                self._conns[database] = None
        return self._conns[database]


# The former name.
ServerCanonicalizer = ServerExpressions
