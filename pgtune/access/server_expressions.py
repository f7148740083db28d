"""Canonical RLS expressions from the server itself.

The desired expression is attached to the real table as a throw-away policy inside a
transaction that is always rolled back, and read back with pg_get_expr: exactly the text the
live side shows for an equal policy. It needs the right to create policies on the table (its
owner or a superuser) and a short lock (CREATE POLICY takes an ACCESS EXCLUSIVE lock; a
lock_timeout keeps a busy table from stalling the plan). Where that is not possible the
expression stays as written and the diff compares with pglast (expressions.py).
"""

import psycopg
from psycopg import sql

from pgtune.access.catalog import Connect
from pgtune.access.expressions import ExpressionError, validate_expression
from pgtune.access.model import TableRef

PROBE = "pgtune_canonical_probe"
LOCK_TIMEOUT = "2s"


class _Rollback(Exception):
    pass


class ServerCanonicalizer:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._conns: dict[str, psycopg.Connection[tuple[object, ...]]] = {}
        self.fallbacks: list[str] = []  # why some expressions could not go through the server
        self._seen: dict[tuple[TableRef, str], str] = {}

    def __call__(self, table: TableRef, expr: str) -> str:
        if (table, expr) not in self._seen:
            self._seen[table, expr] = self._probe(table, expr)
        return self._seen[table, expr]

    def _probe(self, table: TableRef, expr: str) -> str:
        validate_expression(expr)  # never send anything but one expression
        conn = self._conn(table.database)
        if conn is None:
            return expr
        probe = sql.SQL("CREATE POLICY {} ON {} USING ({})").format(
            sql.Identifier(PROBE), sql.Identifier(table.schema, table.name), sql.SQL(expr)
        )
        result = expr
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT))
                )
                conn.execute(probe)
                row = conn.execute(
                    "SELECT pg_catalog.pg_get_expr(polqual, polrelid) FROM pg_catalog.pg_policy "
                    "WHERE polrelid = %s::pg_catalog.regclass AND polname = %s",
                    (sql.Identifier(table.schema, table.name).as_string(conn), PROBE),
                ).fetchone()
                if row and row[0]:
                    result = str(row[0])
                raise _Rollback
        except _Rollback:
            pass
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.LockNotAvailable) as exc:
            self.fallbacks.append(f"{table.schema}.{table.name}: {exc.diag.message_primary}")
        except psycopg.errors.Error as exc:
            raise ExpressionError(
                f"expression {expr!r} on {table.database}.{table.schema}.{table.name} is "
                f"rejected by the server: {exc.diag.message_primary}"
            ) from None
        return result

    def _conn(self, database: str) -> psycopg.Connection[tuple[object, ...]] | None:
        if database not in self._conns:
            try:
                self._conns[database] = self._connect(database)
            except Exception as exc:  # the plan itself reports unreachable databases
                self.fallbacks.append(f"{database}: {exc}")
                return None
        return self._conns[database]

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
