"""Identifiers as the policy file writes them: exact (no case folding), checked against what
PostgreSQL accepts, and dotted table names that may quote a part containing a dot."""

from pgtune.access.model import PUBLIC_KEYWORD, TableRef

# NAMEDATALEN - 1: the server silently truncates longer names, so a longer name in the file
# would never match the catalog and the plan would never converge.
MAX_NAME_BYTES = 63


def is_predefined(role: str) -> bool:
    """A role PostgreSQL provides (pg_monitor, pg_read_all_data, ...)."""
    return role.startswith("pg_")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a PostgreSQL identifier, or None."""
    if not name:
        return "a name must not be empty"
    if "\x00" in name:
        return f"{name!r} contains a NUL character"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"{name!r} is longer than {MAX_NAME_BYTES} bytes (PostgreSQL would truncate it)"
    return None


def role_name_problem(name: str) -> str | None:
    """Why no role can be created with this name, or None.

    PostgreSQL reserves "public", "none" and the pg_ prefix; "PUBLIC" is this tool's name for
    the public pseudo-role (model.PUBLIC), so a real role of that name would be ambiguous.
    """
    if name in ("public", "none", PUBLIC_KEYWORD) or is_predefined(name):
        return f"role name {name!r} is reserved"
    return name_problem(name)


def quote_part(part: str) -> str:
    """One part of a dotted name: as is, or double-quoted when it contains a dot or starts
    with a double quote (``""`` inside quotes is one ``"``).

    >>> quote_part("orders"), quote_part("my.schema"), quote_part('say "hi"')
    ('orders', '"my.schema"', 'say "hi"')
    """
    if "." in part or part.startswith('"'):
        return '"' + part.replace('"', '""') + '"'
    return part


def format_table(table: TableRef) -> str:
    return ".".join(quote_part(p) for p in (table.database, table.schema, table.name))


def split_dotted(text: str) -> list[str] | None:
    """Split ``a."b.c".d`` into parts; None when a quote is not closed.

    A part is taken literally (case and all) unless it starts with a double quote.

    >>> split_dotted('app."my.schema"."Orders"')
    ['app', 'my.schema', 'Orders']
    >>> split_dotted('app.sales.Orders')
    ['app', 'sales', 'Orders']
    """
    parts: list[str] = []
    i = 0
    while True:
        if text.startswith('"', i):
            chunk, i = [], i + 1
            while True:
                end = text.find('"', i)
                if end < 0:
                    return None
                chunk.append(text[i:end])
                if text.startswith('"', end + 1):  # "" is an escaped quote
                    chunk.append('"')
                    i = end + 2
                    continue
                i = end + 1
                break
            parts.append("".join(chunk))
            if i == len(text):
                return parts
            if text[i] != ".":
                return None
            i += 1
        else:
            end = text.find(".", i)
            if end < 0:
                parts.append(text[i:])
                return parts
            parts.append(text[i:end])
            i = end + 1


def parse_table(text: str) -> TableRef | str:
    """``database.schema.table`` → TableRef, or the reason it is not one."""
    parts = split_dotted(text)
    if parts is None:
        return f"table {text!r}: a double quote is not closed (or not followed by a dot)"
    if len(parts) != 3 or not all(parts):
        return (
            f"table {text!r} must be database.schema.table "
            '(double-quote a part that contains a dot: app."my.schema".t)'
        )
    return TableRef(*parts)
