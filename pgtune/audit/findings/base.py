"""What every check shares: its signature, SQL rendering, and names for people."""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.model import Finding, Snapshot

Check = Callable[[Snapshot, Policy | None], list[Finding]]


def can_log_in(valid_until: str | None, now: str) -> bool:
    """Whether VALID UNTIL still lets the role in at ``now``: None and 'infinity' never
    expire, '-infinity' was never valid; a time without a zone is taken as UTC (as the
    snapshot's own times are); a value that does not parse is not called expired.

    >>> can_log_in(None, "2026-06-01T00:00:00+00:00"), can_log_in("-infinity", "2026")
    (True, False)
    >>> can_log_in("2026-01-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00")
    False
    >>> can_log_in("infinity", "2026-06-01"), can_log_in("2026-01-01", "2026-06-01T00:00+00:00")
    (True, False)
    """
    if valid_until is None or valid_until.lower() == "infinity":
        return True
    if valid_until.lower() == "-infinity":
        return False
    try:
        until, at = _aware(valid_until), _aware(now)
    except ValueError:
        return True
    return until >= at


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def render(*statements: sql.Composable) -> str:
    """Statements as text, one per line, each ending in ';' (identifiers quoted by psycopg).

    >>> render(sql.SQL("ALTER ROLE {} NOSUPERUSER").format(sql.Identifier("Ops")))
    'ALTER ROLE "Ops" NOSUPERUSER;'
    """
    return "\n".join(s.as_string(None) + ";" for s in statements)


def alter_system(name: str, value: str) -> str:
    """The SQL that sets one parameter cluster-wide and reloads.

    >>> print(alter_system("log_statement", "ddl"))
    ALTER SYSTEM SET "log_statement" = 'ddl';
    SELECT pg_catalog.pg_reload_conf();
    """
    return render(
        sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)),
        sql.SQL("SELECT pg_catalog.pg_reload_conf()"),
    )


def routine(schema: str, name: str, args: str) -> sql.Composable:
    """``"schema"."name"(args)``: the identity arguments are the server's own text
    (pg_get_function_identity_arguments), valid SQL as they are."""
    return sql.SQL("{}({})").format(sql.Identifier(schema, name), sql.SQL(args))


def table(schema: str, name: str) -> sql.Composable:
    return sql.Identifier(schema, name)


def names(items: Iterable[str]) -> str:
    """
    >>> names(["b", "a"])
    "'a', 'b'"
    """
    return ", ".join(repr(i) for i in sorted(items))


def qualified(*parts: str) -> str:
    """A dotted name for ``seen`` and ``object`` (quoted only where SQL would need it).

    >>> qualified("public", "Orders")
    'public."Orders"'
    """
    return ".".join(sql.Identifier(p).as_string(None) if _needs_quotes(p) else p for p in parts)


def _needs_quotes(part: str) -> bool:
    return not (part.isidentifier() and part == part.lower() and part.isascii())
