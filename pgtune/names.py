"""Catalog names for people: the one rendering function for plain text.

Every catalog name is attacker-controlled: a table may be called ``evil<newline>DROP TABLE x; --``.
SQL statements carry names through ``psycopg.sql.Identifier``; everything else that shows a name
to a person (``--`` comments in a printed plan, text plans, notes, error messages, logs) goes
through ``shown`` here, once. Markdown and HTML escape the result again in their own renderer.

``shown`` always double-quotes (SQL's own identifier quoting, ``"`` doubled) and spells every
character that could end a line, a comment or fool a terminal as a backslash escape, so the result
is one line that cannot end a ``--`` or ``/* */`` comment. ``one_line`` is the safety net for whole
messages that may embed text from the server (error messages quote names too).
"""

import unicodedata

# Characters that are escaped wherever they appear: C0 and C1 controls, DEL, the Unicode line and
# paragraph separators, and the bidirectional overrides that make text read differently on screen.
_SPECIAL = {
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _escape_char(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if unicodedata.category(ch) in ("Zl", "Zp", "Cf", "Cc", "Cs", "Co", "Cn"):
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def _escape(text: str) -> str:
    if text.isprintable() and "\\" not in text:
        out = text
    else:
        out = "".join(_escape_char(ch) for ch in text)
    # A '*/' inside a name must not close a /* */ comment it is printed in.
    return out.replace("*/", "*\\/")


def shown(name: str) -> str:
    """One catalog name, quoted and escaped: always one line, never ends a comment.

    >>> shown("orders")
    '"orders"'
    >>> shown('evil\\nDROP TABLE "x"; --')
    '"evil\\\\nDROP TABLE ""x""; --"'
    >>> shown("a*/b")
    '"a*\\\\/b"'
    """
    return '"' + _escape(name).replace('"', '""') + '"'


def shown_qualified(*parts: str | None) -> str:
    """A dotted name, each part through ``shown`` (None parts are left out).

    >>> shown_qualified("app", "s", "t")
    '"app"."s"."t"'
    """
    return ".".join(shown(p) for p in parts if p is not None)


def shown_list(names: "list[str] | tuple[str, ...] | set[str] | frozenset[str]") -> str:
    """Names, sorted, each through ``shown``.

    >>> shown_list({"b", "a"})
    '"a", "b"'
    """
    return ", ".join(shown(n) for n in sorted(names))


def one_line(text: str) -> str:
    """A whole message made safe to print on one line or inside a ``--`` comment: control and
    line-separator characters become escapes (the names in it already went through ``shown``;
    this catches text the server or the user sent).

    >>> one_line("a\\nb")
    'a\\\\nb'
    """
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)
    return text.replace("*/", "*\\/")
