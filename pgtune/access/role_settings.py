"""Per-role settings (``ALTER ROLE r SET name = value``) whose value is a list.

The server keeps every setting as text in ``pg_db_role_setting`` (``search_path=app, "$user",
public``). For most settings ``SET name = 'text'`` gives that text back. A few are lists whose
elements the server quotes as identifiers (GUC_LIST_QUOTE): given one literal, it stores *one*
element, ``"app, ""$user"", public"``, which breaks the role's search_path. Those are set as a
list of literals, one per element (``SET search_path = 'app', '$user', 'public'``), and compared
element by element.

pg_settings has no flag for it, so the list is kept here; it is pg_dump's
(``variable_is_guc_list_quote`` in src/bin/pg_dump/dumputils.c), which has the same problem.
An extension's list setting is not known and is set as one text value.
"""

from psycopg import sql

LIST_SETTINGS = frozenset(
    {
        "local_preload_libraries",
        "search_path",
        "session_preload_libraries",
        "shared_preload_libraries",
        "temp_tablespaces",
        "unix_socket_directories",
    }
)


def is_list_setting(name: str) -> bool:
    return name.lower() in LIST_SETTINGS


def split_list(value: str) -> tuple[str, ...] | None:
    """The elements of a list setting as the server prints it (pg_dump's SplitGUCList):
    comma-separated, an element double-quoted when it needs it (``""`` inside), no case
    folding; None when ``value`` is not such a list.

    >>> split_list('app, "$user", public')
    ('app', '$user', 'public')
    >>> split_list('"a,b", "x""y"')
    ('a,b', 'x"y')
    >>> split_list('""')
    ('',)
    >>> split_list('a b') is None
    True
    """
    elements: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i].isspace():
            i += 1
        if i < n and value[i] == '"':
            i += 1
            element: list[str] = []
            while True:
                end = value.find('"', i)
                if end < 0:
                    return None  # unterminated quote
                element.append(value[i:end])
                i = end + 1
                if i < n and value[i] == '"':
                    element.append('"')
                    i += 1
                    continue
                break
            elements.append("".join(element))
        else:
            start = i
            while i < n and value[i] != "," and not value[i].isspace():
                i += 1
            if i == start:
                return None  # empty element
            elements.append(value[start:i])
        while i < n and value[i].isspace():
            i += 1
        if i == n:
            return tuple(elements)
        if value[i] != ",":
            return None
        i += 1


def same_setting(name: str, have: str | None, want: str) -> bool:
    """Whether the stored value ``have`` is what the policy's ``want`` sets."""
    if have is None:
        return False
    if is_list_setting(name):
        have_list, want_list = split_list(have), split_list(want)
        if have_list is not None and want_list is not None:
            return have_list == want_list
    return have == want


def setting_value_sql(name: str, value: str) -> sql.Composable:
    """The right-hand side of ``SET name = ...``: one literal, or one per list element."""
    elements = split_list(value) if is_list_setting(name) else None
    if elements is None:
        return sql.Literal(value)
    return sql.SQL(", ").join(sql.Literal(e) for e in elements)
