"""What a plan is made of: ordered changes, each a one-line reason and a psycopg `sql.Composed`
statement (identifiers quoted by psycopg, never by string formatting), and the SQL pieces every
diff module shares. Names in reasons go through `pgtune.names.shown`, never raw.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

from pgtune.access.model import PUBLIC, PUBLIC_KEYWORD, ObjectRef
from pgtune.names import one_line, shown, shown_qualified
from pgtune.sqltext import printable_sql

# Phases, in the order statements run.
(
    CREATE_ROLES,
    ALTER_ROLES,
    MEMBERSHIPS,
    OWNERSHIP,
    REVOKES,
    GRANTS,
    DEFAULTS,
    RLS,
    POLICIES,
    DROPS,
) = range(10)


@dataclass(frozen=True)
class Change:
    database: str | None  # None: cluster-wide (roles, memberships), run in the first database
    phase: int
    statement: sql.Composed
    reason: str
    password_env: str | None = None  # the statement takes PASSWORD from this variable at apply
    password_role: str | None = None  # whose password: libpq hashes it for that role (SCRAM salt)
    # Shown in the plan (it is drift: --check fails) but never run by apply, e.g. an unmanaged
    # role in a managed group with `unmanaged_roles: report`.
    report_only: bool = False
    # The statement is only there to carry PASSWORD (ALTER ROLE r, with set_passwords).
    password_only: bool = False

    def sql_text(self) -> str:
        """Runnable SQL or a comment, one printable line: never a password, never a placeholder
        psql would choke on. A PASSWORD from the environment is a trailing comment."""
        if self.report_only:
            return "-- reported only: pgtune apply does not run this (see the reason)"
        if self.password_only:
            return (
                f"-- PASSWORD from ${self.password_env}: set by pgtune apply "
                "(not printed; in psql use \\password)"
            )
        # One printable line whatever the names hold (pgtune.sqltext); runs the same.
        text = printable_sql(self.statement.as_string(None)) + ";"
        if self.password_env is not None:
            text += f"  -- PASSWORD from ${self.password_env}: set by pgtune apply (not printed)"
        return text


def ident(name: str) -> sql.Composable:
    # PUBLIC is model.PUBLIC (""), never the text "PUBLIC": a real role of that name is quoted.
    return sql.SQL(PUBLIC_KEYWORD) if name == PUBLIC else sql.Identifier(name)


def idents(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(ident(n) for n in names)


def keywords(words: Iterable[str]) -> sql.Composable:
    # Privilege keywords come from model.PRIVILEGES, a fixed vocabulary.
    return sql.SQL(", ").join(sql.SQL(w) for w in words)


def trusted(text: str) -> sql.Composable:
    """SQL text that is not an identifier: function identity arguments as the server printed
    them, or an RLS expression already checked to be exactly one expression."""
    return sql.SQL(text)


def object_sql(obj: ObjectRef) -> sql.Composable:
    if obj.kind == "database":
        return sql.SQL("DATABASE {}").format(sql.Identifier(obj.database))
    if obj.kind == "schema":
        return sql.SQL("SCHEMA {}").format(sql.Identifier(obj.schema or ""))
    qualified = sql.Identifier(obj.schema or "", obj.name or "")
    if obj.kind == "sequence":
        return sql.SQL("SEQUENCE {}").format(qualified)
    if obj.kind == "function":
        # ROUTINE covers functions, procedures and aggregates alike. The argument types alone
        # (ObjectRef.types): an ordered-set aggregate's identity "x ORDER BY y" is not valid here.
        args = obj.types if obj.types is not None else obj.args
        return sql.SQL("ROUTINE {}({})").format(qualified, trusted(args or ""))
    return sql.SQL("TABLE {}").format(qualified)


def privileges_sql(obj: ObjectRef, privileges: Iterable[str]) -> sql.Composable:
    if obj.kind == "column":
        return sql.SQL(", ").join(
            sql.SQL("{} ({})").format(keywords([p]), sql.Identifier(obj.column or ""))
            for p in privileges
        )
    return keywords(privileges)


def describe(obj: ObjectRef) -> str:
    """The object for a reason line, every name through `shown`."""
    if obj.kind == "database":
        return f"database {shown(obj.database)}"
    if obj.kind == "schema":
        return f"schema {shown_qualified(obj.database, obj.schema)}"
    where = shown_qualified(obj.database, obj.schema, obj.name)
    if obj.kind == "function":
        return f"function {where}({one_line(obj.args or '')})"
    if obj.kind == "column":
        return f"column {where}.{shown(obj.column or '')}"
    return f"{obj.kind} {where}"


def grantee_text(name: str) -> str:
    """A grantee in a reason: PUBLIC as the keyword, a role through `shown` (so a real role
    named "PUBLIC" is shown quoted)."""
    return PUBLIC_KEYWORD if name == PUBLIC else shown(name)
