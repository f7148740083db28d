"""SQL text for people and pipes: every statement on one line, whatever the names hold.

Statements are built with ``psycopg.sql`` and run as they are. Printed (``roles plan --format
sql | psql``, text plans, JSON, remediation SQL), a quoted identifier or string literal holding a
newline would start a line that is not a statement's beginning. ``printable_sql`` rewrites only
those tokens into PostgreSQL's escaped spellings, which the server reads back as the same name
or value:

- ``"a<newline>b"`` → ``U&"a\\000ab"`` (Unicode-escaped identifier: any server setting);
- ``'a<newline>b'`` → ``E'a\\nb'`` (escape string).

Everything else (keywords, dollar-quoted bodies, comments written in a policy file) is left as it
is; a comment never gets here from the catalog.
"""

import re

# A token that needs care: a double-quoted identifier, a (possibly E-prefixed) string literal, or
# a dollar-quoted string; everything between them is copied.
_TOKEN = re.compile(
    r"""
      (?P<ident>(?:[Uu]&)?"(?:[^"]|"")*")
    | (?P<estr>[Ee]'(?:[^'\\]|\\.|'')*')
    | (?P<str>'(?:[^']|'')*')
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$.*?\$(?P=tag)\$)
    """,
    re.VERBOSE | re.DOTALL,
)


def _bad(ch: str) -> bool:
    return not ch.isprintable() and ch != " "


def _ident(token: str) -> str:
    if token[0] in "Uu" or not any(_bad(ch) for ch in token):
        return token
    body = token[1:-1].replace('""', '"')
    out = []
    for ch in body:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('""')
        elif _bad(ch):
            code = ord(ch)
            out.append(f"\\{code:04x}" if code <= 0xFFFF else f"\\+{code:06x}")
        else:
            out.append(ch)
    return 'U&"' + "".join(out) + '"'


_E_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _string(token: str) -> str:
    """A plain '...' literal holding a bad character, as the E'...' literal with that value."""
    if not any(_bad(ch) for ch in token):
        return token
    body = token[1:-1].replace("''", "'").replace("\\", "\\\\").replace("'", "\\'")
    return _estring("E'" + body + "'")


def _estring(token: str) -> str:
    """An E'...' literal with its bad characters spelled as escapes (the rest as it was)."""
    if not any(_bad(ch) for ch in token):
        return token
    out = []
    for ch in token[2:-1]:
        if ch in _E_ESCAPES:
            out.append(_E_ESCAPES[ch])
        elif _bad(ch):
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "E'" + "".join(out) + "'"


def printable_sql(text: str) -> str:
    """``text`` with every quoted identifier and string literal on one printable line.

    >>> printable_sql('GRANT SELECT ON TABLE "s"."evil\\nDROP TABLE x; --" TO "r"')
    'GRANT SELECT ON TABLE "s".U&"evil\\\\000aDROP TABLE x; --" TO "r"'
    >>> printable_sql("COMMENT ON ROLE \\"a\\" IS 'two\\nlines'")
    'COMMENT ON ROLE "a" IS E\\'two\\\\nlines\\''
    >>> printable_sql('SELECT "plain", \\'it\\'\\'s\\'')
    'SELECT "plain", \\'it\\'\\'s\\''
    """
    if text.isprintable():
        return text

    def fix(m: re.Match[str]) -> str:
        token = m.group(0)
        if m.group("ident"):
            return _ident(token)
        if m.group("estr"):
            return _estring(token)
        if m.group("str"):
            return _string(token)
        return token

    return _TOKEN.sub(fix, text)


def psql_quoted(text: str) -> str:
    """A psql meta-command argument in single quotes: ``''`` for a quote, C-like escapes for
    the backslash and every byte of a non-printable character, so it stays on one line."""
    out = []
    for ch in text:
        if ch == "'":
            out.append("''")
        elif ch == "\\":
            out.append("\\\\")
        elif _bad(ch):
            out.extend(f"\\x{b:02x}" for b in ch.encode())
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def psql_connect(database: str) -> str:
    """The psql line that switches to ``database`` and keeps the other connection parameters.

    Three layers, as pg_dump's appendPsqlMetaConnect has the inner two: the name is a libpq
    ``dbname='...'`` value (a database called ``host=x`` must not become a connection string);
    psql reads ``\\connect``'s argument as an identifier and strips double quotes, so that
    value goes inside ``"..."`` with ``""`` doubling; and the whole is a single-quoted psql
    argument whose escapes keep a newline in the name from ending the meta-command.

    >>> print(psql_connect("app"))
    \\connect -reuse-previous=on '"dbname=''app''"'
    >>> print(psql_connect('d"b\\nx'))
    \\connect -reuse-previous=on '"dbname=''d""b\\x0ax''"'
    """
    value = "'" + database.replace("\\", "\\\\").replace("'", "\\'") + "'"
    identifier = '"' + ("dbname=" + value).replace('"', '""') + '"'
    return "\\connect -reuse-previous=on " + psql_quoted(identifier)
